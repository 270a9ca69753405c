"""The engine contract: time one layer's mapping on the chip."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

from simulator.overlay.chip import Chip
from simulator.overlay.mapping import Mapping, Totals
from simulator.overlay.problem import Problem
from simulator.trace import Trace

__all__ = ["STALL_CAUSES", "Engine", "LayerTiming"]


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
        """Cycles of one layer, from its first load to its last store."""
