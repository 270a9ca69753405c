"""DRAM as a SimPy resource shared by the weight, input, output and partial-sum streams."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from simulator.chip import Chip
from simulator.cost import transfer
from simulator.trace import Trace

__all__ = ["Dram"]


class Dram:
    """Transfers are striped over every channel, so the channels act as one bus of the total
    bandwidth: one transfer occupies it at a time (streams contend, first come first served).
    Access latency is pipelined: it delays the data, not the next transfer."""

    def __init__(self, env: simpy.Environment, chip: Chip, trace: Trace | None) -> None:
        self.env = env
        self.chip = chip
        self.bus = simpy.Resource(env, capacity=1)
        self.latency = chip.dram_latency_cycles
        self.trace = trace
        self.busy_cycles = 0

    def transfer(self, nbytes: int, stream: str) -> Generator[Any, Any, None]:
        """Process: move ``nbytes`` for ``stream``; ends when the data has arrived."""
        occ = int(transfer(self.chip, nbytes)[0])
        with self.bus.request() as req:
            yield req
            start = self.env.now
            yield self.env.timeout(occ)
        self.busy_cycles += occ
        if self.trace is not None:
            self.trace.add("dram", start, start + occ, stream)
        if self.latency:
            yield self.env.timeout(self.latency)
