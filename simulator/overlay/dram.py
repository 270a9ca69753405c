"""DRAM: closed-form transfer times (for the mapper and the analytical engine) and the SimPy
channels the event engine's weight, input, output and partial-sum streams share.

The DRAM has ``channels`` independent channels, each with its own queue and its own bandwidth
(``chip.channel_bytes_per_cycle``). Addresses are interleaved burst by burst: each stream
(weights, inputs, outputs, partial sums) reads or writes its own contiguous region, so a
transfer of ``b`` bursts goes to ``b`` consecutive channels, continuing where the stream's
previous transfer ended. A transfer is rounded up to whole bursts once, where it ends; its
parts move in parallel, each on its channel's queue (first come, first served), and it is
done when its last part is. Alone, a transfer takes as long as its busiest channel:
⌈b / channels⌉ bursts. Access latency is pipelined: it delays the data, not the next
transfer (the engines add it once per transfer).

More channels never make a transfer or a layer slower in the closed form: a channel's
bandwidth is fixed by the DRAM type, so each added channel adds bandwidth.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from simulator.overlay.chip import Chip
from simulator.overlay.cost import Int, ceil_div
from simulator.trace import Trace

__all__ = ["Dram", "busy_cycles", "channel_cycles", "dram_energy_pj", "split_bursts",
           "transfer", "transfer_fields"]


def channel_cycles(chip: Chip, bursts: Int) -> np.ndarray:
    """Cycles one channel takes to move ``bursts`` bursts (vectorised)."""
    b = np.asarray(bursts, dtype=np.int64)
    per = chip.dram.burst_bytes / chip.channel_bytes_per_cycle
    return np.ceil(b * per - 1e-9).astype(np.int64)


def transfer_fields(chip: Chip) -> tuple[int, int, float]:
    """Every chip field :func:`transfer` reads: chips equal in these time every transfer
    alike (the mapper keeps its layers' transfers per these)."""
    return chip.dram.burst_bytes, chip.dram.channels, chip.channel_bytes_per_cycle


def transfer(chip: Chip, nbytes: Int) -> tuple[np.ndarray, np.ndarray]:
    """(cycles, bytes moved) of DRAM transfers of ``nbytes`` each, each alone on the DRAM: its
    busiest channel's time (vectorised)."""
    n = np.asarray(nbytes, dtype=np.int64)
    bursts = ceil_div(n, chip.dram.burst_bytes)
    occ = channel_cycles(chip, ceil_div(bursts, chip.dram.channels))
    return np.where(n > 0, occ, 0), bursts * chip.dram.burst_bytes


def busy_cycles(chip: Chip, moved_bytes: Int) -> np.ndarray:
    """The least time the DRAM needs to move ``moved_bytes`` (whole bursts) over all its
    channels: the busiest channel carries at least its even share (vectorised)."""
    moved = np.asarray(moved_bytes, dtype=np.int64)
    return np.ceil(moved / chip.dram_bytes_per_cycle - 1e-9).astype(np.int64)


def split_bursts(bursts: int, first: int, channels: int) -> list[tuple[int, int]]:
    """(channel, bursts) of ``bursts`` consecutive bursts interleaved from channel ``first``."""
    base, extra = divmod(bursts, channels)
    out = []
    for j in range(min(bursts, channels)):
        out.append(((first + j) % channels, base + (1 if j < extra else 0)))
    return out


def dram_energy_pj(chip: Chip, nbytes: Any) -> Any:
    """Energy of moving ``nbytes`` to or from the DRAM (the DRAM type's energy per bit)."""
    return nbytes * 8 * chip.dram.energy_pj_per_bit


class Dram:
    """The DRAM's channels as SimPy resources (see the module doc), recording each channel's
    busy cycles."""

    def __init__(self, env: simpy.Environment, chip: Chip, trace: Trace | None) -> None:
        self.env = env
        self.chip = chip
        n = chip.dram.channels
        self.channels = [simpy.Resource(env, capacity=1) for _ in range(n)]
        self.latency = chip.dram_latency_cycles
        self.trace = trace
        self.busy = [0] * n
        self._next: dict[str, int] = {}  # per stream: the burst address of its next transfer
        self._cycles: dict[int, int] = {}  # bursts → cycles on one channel

    @property
    def busy_cycles(self) -> int:
        """The busiest channel's busy cycles."""
        return max(self.busy)

    def transfer(self, nbytes: int, stream: str, *, region: str = "",
                 trace: Trace | None = None) -> Generator[Any, Any, None]:
        """Process: move ``nbytes`` for ``stream``; ends when the data has arrived (at once
        for nothing: a stream kept on chip). ``region`` names whose tensor it is (each
        layer's streams start at their own address, channel 0); ``trace`` records it
        instead of the DRAM's own."""
        if nbytes <= 0:
            return
        bursts = -(-nbytes // self.chip.dram.burst_bytes)
        key = f"{region}:{stream}"
        first = self._next.get(key, 0)
        self._next[key] = first + bursts
        n = len(self.channels)
        parts = split_bursts(bursts, first % n, n)
        rec = self.trace if trace is None else trace
        if len(parts) == 1:
            yield from self._move(*parts[0], stream, rec)
        else:
            yield self.env.all_of([self.env.process(self._move(ch, b, stream, rec))
                                   for ch, b in parts])
        if self.latency:
            yield self.env.timeout(self.latency)

    def _move(self, channel: int, bursts: int, stream: str,
              trace: Trace | None) -> Generator[Any, Any, None]:
        occ = self._cycles.get(bursts)
        if occ is None:
            occ = self._cycles[bursts] = int(channel_cycles(self.chip, bursts))
        with self.channels[channel].request() as req:
            yield req
            start = self.env.now
            yield self.env.timeout(occ)
        self.busy[channel] += occ
        if trace is not None:
            label = stream if len(self.channels) == 1 else f"ch{channel}:{stream}"
            trace.add("dram", start, start + occ, label)
