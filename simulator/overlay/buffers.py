"""On-chip buffers as SimPy containers of tile slots (two when double-buffered)."""

from __future__ import annotations

import simpy

from simulator.overlay.chip import BufferSpec

__all__ = ["TileBuffer"]


class TileBuffer:
    """A buffer holds ``slots`` tiles: a load takes a slot, the last tile that uses the data
    gives it back. With two slots the load of tile i+1 overlaps the compute of tile i."""

    def __init__(self, env: simpy.Environment, name: str, spec: BufferSpec) -> None:
        self.name = name
        self.slots = simpy.Container(env, capacity=spec.slots, init=spec.slots)

    def acquire(self) -> simpy.events.Event:
        return self.slots.get(1)

    def release(self) -> simpy.events.Event:
        return self.slots.put(1)
