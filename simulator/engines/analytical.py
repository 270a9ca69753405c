"""Analytical engine: contention-free closed form per layer, a lower bound of the event
engine: the first load, then all compute, then the last store — or the DRAM's total busy
time, whichever is longer."""

from __future__ import annotations

from simulator.chip import Chip
from simulator.engines.base import Engine, LayerTiming
from simulator.mapping import Mapping, Totals
from simulator.problem import Problem
from simulator.trace import Trace

__all__ = ["AnalyticalEngine"]


class AnalyticalEngine(Engine):
    name = "analytical"

    def time_layer(self, p: Problem, chip: Chip, mapping: Mapping, totals: Totals, *,
                   trace: Trace | None = None) -> LayerTiming:
        cycles = totals.lower_bound(chip.dram_latency_cycles)
        return LayerTiming(cycles, 0, 0)  # waits are what the event engine measures
