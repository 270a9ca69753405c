"""DRAM: the closed-form transfer time (for the mapper and the analytical engine) and the SimPy
resource the event engine's weight, input, output and partial-sum streams share.

A transfer moves whole bursts, interleaved over the channels; each channel moves its share at
``bandwidth / channels``, so a transfer takes as long as its busiest channel. All transfers are
striped over every channel, so the channels act as one bus of the total bandwidth: one transfer
occupies it at a time (streams contend, first come first served). Access latency is pipelined:
it delays the data, not the next transfer (the engines add it once per transfer).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from simulator.overlay.chip import Chip
from simulator.overlay.cost import Int, ceil_div
from simulator.tech import TechTable
from simulator.trace import Trace

__all__ = ["Dram", "dram_energy_pj", "transfer"]


def transfer(chip: Chip, nbytes: Int) -> tuple[np.ndarray, np.ndarray]:
    """(channel-occupancy cycles, bytes moved) of DRAM transfers of ``nbytes`` each
    (vectorised)."""
    n = np.asarray(nbytes, dtype=np.int64)
    ch = chip.dram.channels
    burst = chip.dram.burst_bytes
    bursts = ceil_div(n, burst)
    per_channel = chip.dram_bytes_per_cycle / ch
    occ = np.ceil(ceil_div(bursts, ch) * burst / per_channel - 1e-9).astype(np.int64)
    return np.where(n > 0, occ, 0), bursts * burst


def dram_energy_pj(chip: Chip, tech: TechTable, nbytes: int) -> float:
    """Energy of moving ``nbytes`` to or from the DRAM (the table's per-bit access energy)."""
    return nbytes * 8 * tech.dram_energy_pj_per_bit


class Dram:
    """The DRAM as one FIFO bus (see the module doc), recording its busy cycles."""

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
