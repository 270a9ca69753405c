"""The engine contract: time one layer's mapping on the chip."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

from simulator.overlay.chip import Chip
from simulator.overlay.dram import busy_cycles
from simulator.overlay.mapping import Mapping, Totals
from simulator.overlay.problem import Problem
from simulator.trace import Trace

__all__ = ["STALL_CAUSES", "Engine", "LayerJob", "LayerTiming"]


#: What a layer's cycles went to, beside the unit that runs it: ``dram`` (operand, partial-sum
#: and final transfers), ``buffers`` (loads waiting for a free input or weight slot), ``ppu``
#: (waiting for an output slot still in post-processing or write-back, and the last tile's
#: post-processing).
STALL_CAUSES = ("dram", "buffers", "ppu")


@dataclass(frozen=True, slots=True)
class LayerTiming:
    cycles: int
    compute_wait_cycles: int  # the compute unit idle, waiting for operands or an output slot
    load_wait_cycles: int  # loads waiting for buffer space
    #: measured stall cycles by cause (:data:`STALL_CAUSES`; they and the unit's busy cycles
    #: sum to ``cycles``); empty where the engine measures none
    stalls: dict[str, int] = field(default_factory=dict)
    bound: str | None = None  # the largest of busy and stall cycles, where measured


@dataclass(frozen=True, slots=True)
class LayerJob:
    """One layer of a network run: its problem, its mapping and the mapping's totals.
    ``after_layer``: a layer runs before it, so (with the chip's ``overlap_layers``) its first
    weight tile may load while that layer finishes."""

    name: str
    problem: Problem
    mapping: Mapping
    totals: Totals
    after_layer: bool = False

    def prefetches(self, chip: Chip) -> bool:
        """Whether its first weight tile may load during the previous layer."""
        return self.after_layer and chip.overlap_layers and self.totals.first_weight_cycles > 0

    def lower_bound(self, chip: Chip, hidden: int | None = None) -> int:
        """The contention-free bound of its own span (:meth:`Totals.lower_bound`, or when it
        prefetches :meth:`Totals.overlapped_bound` with ``hidden`` cycles of the first weight
        load run before — all of them when None)."""
        latency = chip.dram_latency_cycles
        if not self.prefetches(chip):
            return self.totals.lower_bound(latency)
        if hidden is None:
            hidden = self.totals.first_weight_cycles + latency
        return self.totals.overlapped_bound(latency, self.dram_busy_cycles(chip), hidden)

    def dram_busy_cycles(self, chip: Chip) -> int:
        """The DRAM's least busy time within its own span (without a prefetched tile)."""
        if not self.prefetches(chip):
            return self.totals.dram_occupancy
        rest = self.totals.dram_bytes - self.totals.first_weight_bytes
        return int(busy_cycles(chip, rest))


class Engine(ABC):
    """Times a layer whose mapping and exact totals are given; engines differ only in how
    they account for overlap and contention."""

    name: str = ""
    #: Whether it records busy intervals when given a :class:`Trace`.
    traces: bool = False

    def check_network(self, mappings: Sequence[Mapping]) -> None:
        """Refuse, before any timing, a network this engine cannot time in reasonable time
        (a :class:`~workloads.errors.ConfigError`); the default accepts everything."""
        return None

    @abstractmethod
    def time_layer(self, p: Problem, chip: Chip, mapping: Mapping, totals: Totals, *,
                   trace: Trace | None = None) -> LayerTiming:
        """Cycles of one layer alone, from its first load to its last store."""

    def time_network(self, jobs: Sequence[LayerJob], chip: Chip, *,
                     trace: Trace | None = None) -> list[LayerTiming]:
        """Cycles of each layer of a network run in order: a layer's span starts when the
        previous one ends (its last store), so the spans sum to the run. The default times
        each layer alone, back to back (``trace`` gets each layer's intervals at its offset)."""
        timings, offset = [], 0
        for job in jobs:
            if trace is not None:
                trace.offset, trace.layer = offset, job.name
            timing = self.time_layer(job.problem, chip, job.mapping, job.totals, trace=trace)
            timings.append(timing)
            offset += timing.cycles
        return timings
