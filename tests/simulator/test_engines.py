"""Contract suite every engine passes, plus engine-specific checks."""

from __future__ import annotations

import itertools

import pytest
from conftest import make_chip

from simulator import AnalyticalEngine, Engine, EventEngine, apply_overrides, load_chip, simulate
from simulator.cost import tile_compute_cycles
from simulator.mapping import choose_mapping, price
from simulator.problem import problem_for
from workloads import get_network
from workloads.formats import NumberFormat
from workloads.layers import Conv2d

B1 = NumberFormat("binary", 1)


class EngineContract:
    """Subclass with an ``engine`` fixture returning an :class:`Engine` instance."""

    def test_is_an_engine(self, engine):
        assert isinstance(engine, Engine) and engine.name

    def test_deterministic(self, engine):
        net = get_network("cnv")
        a = simulate(net, "edge", engine=engine)
        b = simulate(net, "edge", engine=engine)
        assert a.to_dict() == b.to_dict()

    def test_never_below_compute_or_dram_busy(self, engine):
        result = simulate(get_network("sfc"), "edge", engine=engine)
        for layer in result.layers:
            assert layer.cycles >= layer.compute_cycles
            assert layer.cycles >= layer.dram_busy_cycles
            assert layer.cycles >= layer.lower_bound_cycles
            assert layer.stall_cycles == layer.cycles - layer.compute_cycles

    def test_result_totals_add_up(self, engine):
        result = simulate(get_network("lfc"), "edge", engine=engine)
        assert result.cycles == sum(x.cycles for x in result.layers)
        assert result.energy_pj == pytest.approx(sum(result.energy_breakdown_pj.values()))
        assert result.macs == 2_910_208
        assert result.latency_s == pytest.approx(result.cycles / 200e6)


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
        assert ev.cycles > ana.cycles
        for a, e in zip(ana.layers, ev.layers, strict=True):
            assert a.cycles <= e.cycles <= e.serial_cycles

    def test_trace_intervals_do_not_overlap_per_component(self):
        result = simulate(get_network("cnv"), "edge", engine="event", trace=True)
        assert result.trace
        by: dict[str, list] = {}
        for t in result.trace:
            assert t.end > t.start
            by.setdefault(t.component, []).append(t)
        assert {"dram", "array", "ppu"} <= set(by)
        for items in by.values():
            items.sort(key=lambda t: t.start)
            for a, b in itertools.pairwise(items):
                assert a.end <= b.start
        assert max(t.end for t in result.trace) <= result.cycles

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
    # same 16×16 array: per fold 2·16 + 16 + T − 2; 4 × 32 folds
    xnor = make_chip(**{"pe_array.rows": 16, "pe_array.cols": 16, "pe_array.lane_bits": 64,
                        "buffers.input.port_bits": 1024, "buffers.weight.port_bits": 1024})
    int8 = make_chip(**{"pe_array.rows": 16, "pe_array.cols": 16, "pe_array.lane_bits": 8,
                        "pe_array.pe_type": "int8", "buffers.input.port_bits": 1024,
                        "buffers.weight.port_bits": 1024})

    def compute(chip):  # one tile of the whole layer (buffers aside)
        return int(tile_compute_cycles(problem_for(layer, chip), chip, 512, 256, 64))

    assert compute(xnor) == 128 * (46 + 36)
    assert compute(int8) == 128 * (46 + 2304)
    # the streaming part alone is exactly lane_bits times shorter
    assert (compute(int8) - 128 * 46) / (compute(xnor) - 128 * 46) == 64

    # the built-in chips share one area budget: edge (16×16 XNOR) vs int8-baseline (16×32)
    edge, base = load_chip("edge"), load_chip("int8-baseline")
    assert abs(simulate(get_network("sfc"), edge).area_mm2
               - simulate(get_network("sfc"), base).area_mm2) < 0.1
    c_e, c_b = compute(edge), compute(base)
    # int8-baseline: 4 × 16 folds of 2·16 + 32 + 2304 − 2 = 2366 cycles
    assert (c_e, c_b) == (128 * 82, 64 * 2366)
    net = get_network("bnn-cifar10")
    ratio = simulate(net, base).cycles / simulate(net, edge).cycles
    assert ratio > 5  # measured 8.1× on the whole network (memory-bound layers narrow it)


def test_mapping_objective_dram_never_moves_more_bytes():
    net = get_network("cnv")
    lat = simulate(net, "edge")
    dram = simulate(net, apply_overrides(load_chip("edge"), ["mapping.objective=dram"]))
    assert dram.dram_bytes <= lat.dram_bytes
    assert lat.cycles <= dram.cycles


def test_choose_mapping_is_shared_by_equal_shapes():
    chip = load_chip("edge")
    a = Conv2d("a", (64, 8, 8), 64, (3, 3), 1, 1, 1, B1, B1, B1)
    b = Conv2d("b", (64, 8, 8), 64, (3, 3), 1, 1, 1, B1, B1, B1)
    assert choose_mapping(problem_for(a, chip), chip) == choose_mapping(problem_for(b, chip),
                                                                         chip)
