"""Golden numbers: restructuring must not move a single cycle, picojoule, byte or weight.

``tests/golden/*.json`` were recorded before the architecture restructure by
``tests/golden/record.py``. A change that is *meant* to move numbers re-records them with
``python tests/golden/record.py`` and says why in its commit.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"


def _recorder():
    spec = importlib.util.spec_from_file_location("golden_record", GOLDEN / "record.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def recorder():
    return _recorder()


def _compare(recorded: dict, now: dict) -> list[str]:
    return [f"{key}: recorded {recorded.get(key)} != now {now.get(key)}"
            for key in sorted(set(recorded) | set(now)) if recorded.get(key) != now.get(key)]


def test_simulation_totals_are_unchanged(recorder):
    recorded = json.loads((GOLDEN / "totals.json").read_text())
    diffs = _compare(recorded, recorder.record_totals())
    assert not diffs, "\n".join(diffs[:10])


def test_torch_models_are_unchanged(recorder):
    pytest.importorskip("torch")
    recorded = json.loads((GOLDEN / "models.json").read_text())
    diffs = _compare(recorded, recorder.record_models())
    assert not diffs, "\n".join(diffs[:10])
