"""The contract every overlay timing engine meets (``simulator.overlay.engines.Engine``).

Subclass :class:`EngineContract` and supply an ``engine`` fixture (an instance). An engine
only *times* a mapping it is given: it must never beat the analytical bound, never exceed the
fully serial schedule, be deterministic, and (when it traces) record non-overlapping busy
intervals per component inside the layers' span.
"""

from __future__ import annotations

import itertools

import pytest

from simulator.api import apply_overrides, load_chip, simulate
from simulator.overlay.engines import Engine
from simulator.overlay.family import OverlayLayer
from workloads.zoo import get_network

__all__ = ["EngineContract"]


class EngineContract:
    """Subclass with an ``engine`` fixture returning an :class:`Engine` instance."""

    def test_is_an_engine(self, engine: Engine) -> None:
        assert isinstance(engine, Engine) and engine.name

    def test_deterministic(self, engine: Engine) -> None:
        net = get_network("cnv")
        assert simulate(net, "edge", engine=engine).to_dict() == \
            simulate(net, "edge", engine=engine).to_dict()

    @pytest.mark.parametrize("overlap", [True, False])
    @pytest.mark.parametrize("chip", ["edge", "large", "int8-baseline"])
    def test_between_the_bound_and_the_serial_schedule(self, engine: Engine, chip: str,
                                                       overlap: bool) -> None:
        spec = apply_overrides(load_chip(chip), {"overlap_layers": overlap})
        result = simulate(get_network("cnv"), spec, engine=engine)
        for layer in result.layers:
            d: OverlayLayer = layer.details
            assert d.lower_bound_cycles <= layer.cycles
            # (a layer's span may also hold the next layer's first weight load's contention)
            assert layer.cycles <= d.serial_cycles or overlap
            assert layer.cycles >= d.compute_cycles and layer.cycles >= d.dram_busy_cycles
            assert d.stall_cycles == layer.cycles - d.compute_cycles
            assert d.compute_wait_cycles >= 0 and d.load_wait_cycles >= 0

    def test_layers_run_back_to_back(self, engine: Engine) -> None:
        result = simulate(get_network("lfc"), "edge", engine=engine)
        assert result.latency_cycles == result.interval_cycles \
            == sum(x.cycles for x in result.layers)
        assert result.energy_pj == pytest.approx(sum(result.energy_breakdown_pj.values()))
        assert result.latency_s == pytest.approx(result.latency_cycles / 200e6)

    def test_trace_stays_inside_the_run(self, engine: Engine) -> None:
        result = simulate(get_network("cnv"), "edge", engine=engine, trace=True)
        assert bool(result.trace) == engine.traces
        by: dict[str, list] = {}
        for t in result.trace or ():
            assert 0 <= t.start < t.end <= result.latency_cycles
            by.setdefault(t.component, []).append(t)
        for items in by.values():
            items.sort(key=lambda t: t.start)
            for a, b in itertools.pairwise(items):
                assert a.end <= b.start
