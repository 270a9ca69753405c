"""Golden numbers: restructuring must not move a single cycle, picojoule, byte or weight.

``tests/golden/*.json`` were recorded before the architecture restructure by
``tests/golden/record.py`` (the models as exact floats from the pre-restructure code) and held
identical through it; ``totals.json`` was re-recorded when overlay fidelity work meant to move
the numbers (fold pipelining, ports, the energy objective: docs/fidelity.md). A change that is
*meant* to move numbers re-records them with ``python tests/golden/record.py`` and says why in
its commit.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"


def _load(name: str):
    """A helper module of tests/golden/ by file name (the folder is not a package)."""
    spec = importlib.util.spec_from_file_location(f"golden_{name}", GOLDEN / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def recorder():
    return _load("record")


def _compare(recorded: dict, now: dict) -> list[str]:
    return [f"{key}: recorded {recorded.get(key)} != now {now.get(key)}"
            for key in sorted(set(recorded) | set(now)) if recorded.get(key) != now.get(key)]


def test_simulation_totals_are_unchanged(recorder):
    recorded = json.loads((GOLDEN / "totals.json").read_text())
    diffs = _compare(recorded, recorder.record_totals())
    assert not diffs, "\n".join(diffs[:10])


def test_torch_models_are_unchanged(recorder):
    """Same parameters, same outputs — to float32 rounding: CPUs with other vector units sum
    in another order (the exact floats were recorded on one machine)."""
    pytest.importorskip("torch")
    recorded = json.loads((GOLDEN / "models.json").read_text())
    now = recorder.record_models()
    assert set(now) == set(recorded)
    for name, old in recorded.items():
        new = now[name]
        assert new["state_dict"] == old["state_dict"], name
        assert new["argmax"] == old["argmax"], name
        assert float(new["output_sum"]) == pytest.approx(float(old["output_sum"]), rel=1e-5,
                                                          abs=1e-4), name
        assert [float(v) for v in new["output_head"]] == pytest.approx(
            [float(v) for v in old["output_head"]], rel=1e-5, abs=1e-4), name


def test_result_schema_is_the_golden_one():
    """The --json key paths of an overlay result (schema version 6, trace included). A
    change of schema updates tests/golden/result_schema.json, SCHEMA_VERSION and
    docs/result-schema.md together."""
    from simulator import SCHEMA_VERSION, simulate
    from workloads import get_network

    doc = simulate(get_network("resnet18"), "edge", engine="event",
                   trace=True).to_dict(include_trace=True)
    paths = _load("result_schema").key_paths(doc)
    golden = set(json.loads((GOLDEN / "result_schema.json").read_text()))
    assert SCHEMA_VERSION == doc["schema_version"] == 6
    assert paths == golden, (f"new: {sorted(paths - golden)}; "
                             f"gone: {sorted(golden - paths)}")


def test_every_result_key_is_documented():
    text = (Path(__file__).parents[1] / "docs" / "result-schema.md").read_text()
    golden = json.loads((GOLDEN / "result_schema.json").read_text())
    documented = set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", text))
    missing = sorted({p.split(".")[-1].removesuffix("[]") for p in golden} - documented)
    assert not missing, f"undocumented result keys: {missing}"
