"""Busy intervals per component, recorded by the event engine on request (for timelines)."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Interval", "Trace"]


@dataclass(frozen=True, slots=True)
class Interval:
    component: str  # "dram", "pe_array", "int8_unit", "ppu"
    start: int  # cycles from the start of the network
    end: int
    label: str  # stream or layer name


@dataclass(slots=True)
class Trace:
    offset: int = 0  # cycles before the current layer (layers run back to back)
    layer: str = ""
    intervals: list[Interval] = field(default_factory=list)

    def add(self, component: str, start: float, end: float, label: str) -> None:
        tag = f"{self.layer}:{label}" if label else self.layer
        self.intervals.append(Interval(component, self.offset + int(start),
                                       self.offset + int(end), tag))
