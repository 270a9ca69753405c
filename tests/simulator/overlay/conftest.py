"""Shared chips and helpers for the simulator tests."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from simulator.api import chip_from_dict
from simulator.overlay.chip import Chip

#: A tiny chip whose numbers make hand derivations easy: 1 byte per cycle of DRAM
#: (1 GB/s at 1000 MHz), 10 cycles of latency, 1-byte bursts, a 2×2 array of 8-bit lanes,
#: 64-bit buffer ports, 4 PPU lanes, an int8 unit of 4 MACs/cycle, 16-bit accumulators; folds
#: pipelined (the default; the SCALE-Sim-convention tests set per_fold).
TINY: dict[str, Any] = {
    "name": "tiny",
    "clock_mhz": 1000,
    "pe_array": {"rows": 2, "cols": 2, "lane_bits": 8, "pe_type": "xnor"},
    "dataflow": "output_stationary",
    "buffers": {
        "input": {"size_kib": 64, "port_bits": 64, "double_buffered": True},
        "weight": {"size_kib": 64, "port_bits": 64, "double_buffered": True},
        "output": {"size_kib": 64, "port_bits": 64, "double_buffered": True},
    },
    # one 8-bit channel at 1000 MT/s: 1 byte per cycle, 1-byte bursts, DDR3's 30.47 pJ/bit
    "dram": {"type": "ddr3", "channels": 1, "width_bits": 8, "data_rate_mtps": 1000,
             "burst_bytes": 1, "latency_ns": 10},
    "ppu": {"lanes": 4},
    "int8_unit": {"macs_per_cycle": 4},
    "full_precision": "int8_unit",
    "accumulator_bits": 16,
    "tech": "45nm",
}


def make_chip(**overrides: Any) -> Chip:
    """TINY with dotted-path overrides, e.g. make_chip(**{"pe_array.rows": 4})."""
    data = copy.deepcopy(TINY)
    for path, value in overrides.items():
        node = data
        *parents, leaf = path.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    chip = chip_from_dict(data, file="tiny.yaml")
    assert isinstance(chip, Chip)
    return chip


@pytest.fixture
def tiny() -> Chip:
    return make_chip()
