"""Every overlay engine passes ``simulator.testing.engine.EngineContract``; then
engine-specific checks."""

from __future__ import annotations

import pytest
from conftest import make_chip

from simulator import apply_overrides, load_chip, simulate
from simulator.overlay.cost import tile_compute_cycles, tile_tail_cycles
from simulator.overlay.engines import AnalyticalEngine, EventEngine
from simulator.overlay.mapping import choose_mapping, price
from simulator.overlay.problem import problem_for
from simulator.testing.engine import EngineContract
from workloads import get_network
from workloads.formats import NumberFormat
from workloads.layers import Conv2d

B1 = NumberFormat("binary", 1)


class TestAnalytical(EngineContract):
    @pytest.fixture
    def engine(self):
        return AnalyticalEngine()


class TestEvent(EngineContract):
    @pytest.fixture
    def engine(self):
        return EventEngine()

    def test_contention_makes_the_event_engine_slower(self):
        net = get_network("bnn-cifar10")
        ana = simulate(net, "edge", engine="analytical")
        ev = simulate(net, "edge", engine="event")
        assert ev.latency_cycles > ana.latency_cycles
        off = apply_overrides(load_chip("edge"), {"overlap_layers": False})
        ana_off = simulate(net, off, engine="analytical")
        ev_off = simulate(net, off, engine="event")
        for a, e in zip(ana_off.layers, ev_off.layers, strict=True):  # alone: a bound
            assert a.cycles <= e.cycles <= e.details.serial_cycles
        for e in ev.layers:  # overlapped: the bound takes the whole first load as hidden
            assert e.details.lower_bound_cycles <= e.cycles <= e.details.serial_cycles

    def test_trace_covers_dram_array_and_ppu(self):
        result = simulate(get_network("cnv"), "edge", engine="event", trace=True)
        assert {"dram", "array", "ppu"} <= {t.component for t in result.trace or ()}

    def test_single_buffering_serialises_load_and_compute(self):
        layer = Conv2d("c", (64, 16, 16), 64, (3, 3), 1, 1, 1, B1, B1, B1)
        cycles = {}
        for db in (True, False):
            chip = make_chip(**{f"buffers.{b}.double_buffered": db
                                for b in ("input", "weight", "output")},
                             **{"buffers.input.size_kib": 1, "buffers.weight.size_kib": 1})
            p = problem_for(layer, chip)
            m, t = price(p, chip, tk=16, tc=16, toy=4, tox=16)
            cycles[db] = EventEngine().time_layer(p, chip, m, t)
        assert cycles[False].cycles > cycles[True].cycles
        assert cycles[False].load_wait_cycles > 0


def test_int8_baseline_and_xnor_compute_cycle_ratio():
    # conv 3×3, 256 → 512 channels on an 8×8 map, w1a1, one tile, output-stationary.
    # Both chips: 16 rows; ports feed all rows and columns. Reduction 256·9 = 2304 elements:
    # XNOR (64-bit lanes): T = 2304 / 64 = 36 steps; int8: T = 2304 steps (one element each).
    # Folds: 64 pixels / 16 rows = 4; 512 filters / cols.
    layer = Conv2d("c", (256, 8, 8), 512, (3, 3), 1, 1, 1, B1, B1, B1)
    # same 16×16 array, folds one by one (SCALE-Sim's OS fold): 16 + 16 + T − 2; 4 × 32 folds
    # (the output port drains a fold's 16·16 16-bit accumulators in 16 cycles: no port stall)
    ports = {"buffers.input.port_bits": 1024, "buffers.weight.port_bits": 1024,
             "buffers.output.port_bits": 4096, "pe_array.fold_timing": "per_fold"}
    xnor = make_chip(**{"pe_array.rows": 16, "pe_array.cols": 16, "pe_array.lane_bits": 64,
                        **ports})
    int8 = make_chip(**{"pe_array.rows": 16, "pe_array.cols": 16, "pe_array.lane_bits": 8,
                        "pe_array.pe_type": "int8", **ports})

    def compute(chip):  # one tile of the whole layer (buffers aside), final drain included
        p = problem_for(layer, chip)
        return int(tile_compute_cycles(p, chip, 512, 256, 64)
                   + tile_tail_cycles(p, chip, 512, 256, 64))

    assert compute(xnor) == 128 * (30 + 36)
    assert compute(int8) == 128 * (30 + 2304)
    # the streaming part alone is exactly lane_bits times shorter
    assert (compute(int8) - 128 * 30) / (compute(xnor) - 128 * 30) == 64

    # the built-in chips share one area budget: edge (16×16 XNOR) vs int8-baseline (16×32)
    edge, base = load_chip("edge"), load_chip("int8-baseline")
    assert abs(simulate(get_network("sfc"), edge).area_mm2
               - simulate(get_network("sfc"), base).area_mm2) < 0.1
    c_e, c_b = compute(edge), compute(base)
    # built-in chips pipeline their folds: each fold issues in max(T, d) cycles, d = the
    # drain of its accumulators, max(16 rows, ⌈r·c·acc bits / 512-bit port⌉); the last fold
    # adds its skew r + c − 2 and its drain. edge (24-bit): 128 folds, d = max(16, 12) = 16,
    # T = 36: 127·36 + 30 + 36 + 16 = 4654. int8-baseline (16×32, 32-bit): 64 folds,
    # d = max(16, 32) = 32, T = 2304: 63·2304 + 46 + 2304 + 32 = 147,534.
    assert (c_e, c_b) == (127 * 36 + 30 + 36 + 16, 63 * 2304 + 46 + 2304 + 32)
    net = get_network("bnn-cifar10")
    ratio = simulate(net, base).latency_cycles / simulate(net, edge).latency_cycles
    assert ratio > 10  # the whole network, memory-bound layers included


def test_mapping_objectives_rank_as_they_say():
    net = get_network("cnv")

    def run(objective: str):
        return simulate(net, apply_overrides(load_chip("edge"),
                                             [f"mapping.objective={objective}"]))

    lat, dram, energy, edp = (run(o) for o in ("latency", "dram", "energy", "edp"))
    assert dram.dram_bytes <= min(lat.dram_bytes, energy.dram_bytes, edp.dram_bytes)
    assert lat.latency_cycles <= min(dram.latency_cycles, energy.latency_cycles,
                                     edp.latency_cycles)
    # per layer each objective wins its own measure (analytical engine: what the search ranks)
    for e, others in zip(energy.layers, zip(lat.layers, dram.layers, strict=True),
                         strict=True):
        assert e.energy_pj <= min(o.energy_pj for o in others) * (1 + 1e-12)
    assert energy.energy_pj <= lat.energy_pj and energy.energy_pj <= dram.energy_pj


def test_choose_mapping_is_shared_by_equal_shapes():
    chip = load_chip("edge")
    a = Conv2d("a", (64, 8, 8), 64, (3, 3), 1, 1, 1, B1, B1, B1)
    b = Conv2d("b", (64, 8, 8), 64, (3, 3), 1, 1, 1, B1, B1, B1)
    assert choose_mapping(problem_for(a, chip), chip) == choose_mapping(problem_for(b, chip),
                                                                         chip)
