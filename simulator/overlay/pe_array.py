"""Compute units (the PE array, the int8 unit, the post-processing unit) as SimPy resources."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from simulator.trace import Trace

__all__ = ["ComputeUnit"]


class ComputeUnit:
    """A unit that runs one tile at a time for a known number of cycles."""

    def __init__(self, env: simpy.Environment, name: str, trace: Trace | None) -> None:
        self.env = env
        self.name = name
        self.unit = simpy.Resource(env, capacity=1)
        self.trace = trace
        self.busy_cycles = 0

    def run(self, cycles: int, label: str = "") -> Generator[Any, Any, None]:
        """Process: occupy the unit for ``cycles``."""
        if cycles <= 0:
            return
        with self.unit.request() as req:
            yield req
            start = self.env.now
            yield self.env.timeout(cycles)
        self.busy_cycles += cycles
        if self.trace is not None:
            self.trace.add(self.name, start, start + cycles, label)
