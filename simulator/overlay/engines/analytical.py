"""Analytical engine: contention-free closed form per layer, a lower bound of the event
engine: the first load, then all compute, then the last store — or the DRAM's total busy
time, whichever is longer."""

from __future__ import annotations

from simulator.overlay.chip import Chip
from simulator.overlay.engines.base import Engine, LayerTiming
from simulator.overlay.mapping import Mapping, Totals
from simulator.overlay.problem import Problem
from simulator.trace import Trace

__all__ = ["AnalyticalEngine"]


class AnalyticalEngine(Engine):
    name = "analytical"

    def time_layer(self, p: Problem, chip: Chip, mapping: Mapping, totals: Totals, *,
                   trace: Trace | None = None) -> LayerTiming:
        cycles = totals.lower_bound(chip.dram_latency_cycles)
        return LayerTiming(cycles, 0, 0)  # waits are what the event engine measures
