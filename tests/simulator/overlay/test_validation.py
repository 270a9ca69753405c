"""The published-chip comparison (benchmarks/validation.py, docs/validation.md) stays current:
its chip and network files load and simulate, and the table in the docs is what they give."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from simulator import load_chip, simulate
from workloads import load_network

ROOT = Path(__file__).parents[3]
FILES = ROOT / "benchmarks" / "validation"


def _script():
    spec = importlib.util.spec_from_file_location("validation", ROOT / "benchmarks" /
                                                  "validation.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("validation", module)  # (its dataclasses look themselves up there)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("chip", "network"), [("yodann", "yodann-conv7x7"),
                                               ("xnorbin", "xnorbin-conv3x3"),
                                               ("binareye", "binareye-cifar10")])
def test_chip_and_network_files_simulate(chip, network):
    result = simulate(load_network(FILES / f"{network}.yaml"), load_chip(FILES / f"{chip}.yaml"),
                      engine="event")
    assert result.latency_cycles > 0 and result.energy_pj > 0


def test_the_docs_table_is_what_the_files_give():
    v = _script()
    rows = v.measure()
    assert {r.chip for r in rows} == {"YodaNN", "XNORBIN", "BinarEye"}
    table = v.markdown(rows)
    assert table in (ROOT / "docs" / "validation.md").read_text(), (
        "docs/validation.md is stale; paste `python benchmarks/validation.py`:\n" + table)
