"""The Chrome/Perfetto trace, validated against the Trace Event Format (the fields each
phase requires, their types, microsecond timestamps) and against the result it comes from."""

from __future__ import annotations

import json
import math

import pytest

from reports.trace import chrome_trace

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


def test_trace_is_valid_and_complete(traced_doc):
    doc = chrome_trace(traced_doc)
    validate(doc)
    busy = [e for e in doc["traceEvents"] if e["ph"] == "X" and e["cat"] != "layer"]
    assert len(busy) == len(traced_doc["trace"])
    us = 1 / traced_doc["clock_mhz"]
    for e, t in zip(busy, traced_doc["trace"], strict=True):
        assert e["ts"] == pytest.approx(t["start"] * us)
        assert e["dur"] == pytest.approx((t["end"] - t["start"]) * us)
        assert e["name"] == t["label"].split(":")[0]
    layers = [e for e in doc["traceEvents"] if e.get("cat") == "layer"]
    assert {e["name"] for e in layers} <= {x["name"] for x in traced_doc["layers"]}
    threads = {e["args"]["name"] for e in doc["traceEvents"] if e["name"] == "thread_name"}
    assert {"layers", "DRAM", "PE array", "post-processing"} <= threads


def test_a_result_without_trace_gives_metadata_only(analytical_doc):
    doc = chrome_trace(analytical_doc)
    validate(doc)
    assert all(e["ph"] == "M" for e in doc["traceEvents"])


def test_each_dram_channel_is_a_track():
    from simulator import apply_overrides, load_chip, simulate
    from workloads import get_network

    chip = apply_overrides(load_chip("edge"), ["dram.channels=2"])
    doc = simulate(get_network("sfc"), chip, engine="event", trace=True).to_dict(
        include_trace=True)
    trace = chrome_trace(doc)
    validate(trace)
    threads = {e["args"]["name"] for e in trace["traceEvents"] if e["name"] == "thread_name"}
    assert {"dram ch0", "dram ch1"} <= threads and "DRAM" not in threads
    busy = [e for e in trace["traceEvents"] if e["ph"] == "X" and e["cat"] == "dram"]
    assert busy and all(not e["args"]["item"].startswith("ch") for e in busy)
