"""Analytical engine: contention-free closed form per layer, a lower bound of the event
engine: the first load, then all compute, then the last store — or the DRAM's total busy
time, whichever is longer.

In a network run with ``overlap_layers``, a layer's first weight tile loads during the
previous layer once a weight slot is free: its transfer and latency are hidden up to the
shorter of the DRAM's idle time there (the previous span less its DRAM busy time and one
latency: nothing behind a DRAM-bound layer) and the time the slot is free before that span
ends (its last store, plus about one tile's compute when its weights are double-buffered;
the whole span after its first load when it uses no weight slot). That is an estimate, not
a bound — the event engine measures the real overlap, and each layer's
``lower_bound_cycles`` takes the whole load as hidden."""

from __future__ import annotations

from collections.abc import Sequence

from simulator.overlay.chip import Chip
from simulator.overlay.engines.base import Engine, LayerJob, LayerTiming
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

    def time_network(self, jobs: Sequence[LayerJob], chip: Chip, *,
                     trace: Trace | None = None) -> list[LayerTiming]:
        timings: list[LayerTiming] = []
        room = 0  # how much of the next layer's first weight load the last one can hide
        latency = chip.dram_latency_cycles
        for job in jobs:
            cycles = job.lower_bound(chip, hidden=room)
            timings.append(LayerTiming(cycles, 0, 0))
            t = job.totals
            idle = cycles - job.dram_busy_cycles(chip) - latency
            if not t.weight_bytes:  # the weight slots stay free all along
                free = cycles - t.first_load
            else:
                last_tile = (-(-t.compute_cycles // job.mapping.tiles)
                             if chip.weight_buffer.slots > 1 else 0)
                free = t.last_store + last_tile
            room = max(min(idle, free), 0)
        return timings
