"""Helpers shared by the report tests (a module of its own: every test folder has a
``conftest``, and two of them imported by name would clash)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any


def write_json(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc))
    return path


#: metadata event names the format defines
METADATA = {"process_name", "process_labels", "process_sort_index", "thread_name",
            "thread_sort_index"}


def validate(doc):
    """Raise AssertionError unless ``doc`` is a JSON-object trace of the Trace Event Format
    ('JSON Object Format': traceEvents, optional displayTimeUnit and otherData)."""
    text = json.dumps(doc, allow_nan=False)  # no NaN or infinity anywhere
    doc = json.loads(text)
    assert isinstance(doc, dict) and isinstance(doc["traceEvents"], list)
    assert set(doc) <= {"traceEvents", "displayTimeUnit", "otherData", "stackFrames",
                        "samples", "systemTraceEvents"}
    assert doc.get("displayTimeUnit", "ms") in ("ms", "ns")
    for e in doc["traceEvents"]:
        assert isinstance(e, dict)
        ph = e["ph"]
        assert isinstance(e["name"], str) and e["name"]
        assert isinstance(e["pid"], int) and isinstance(e["tid"], int)
        assert isinstance(e.get("args", {}), dict)
        if ph == "X":
            for key in ("ts", "dur"):
                assert isinstance(e[key], int | float) and math.isfinite(e[key])
                assert e[key] >= 0
            assert isinstance(e.get("cat", ""), str)
        elif ph == "M":
            assert e["name"] in METADATA
            if e["name"].endswith("_name"):
                assert isinstance(e["args"]["name"], str)
            if e["name"].endswith("sort_index"):
                assert isinstance(e["args"]["sort_index"], int)
        else:
            raise AssertionError(f"unexpected phase {ph!r}")
