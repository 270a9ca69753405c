"""The typed records the mapper's stages pass on: a chosen mapping, its exact totals, and the
priced candidates the search picks from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Mapping", "Picked", "PricedCandidates", "Totals", "cycles_of", "energy_of", "gather",
           "item", "on_grid"]


@dataclass(frozen=True, slots=True)
class Mapping:
    """The chosen tiling and loop order of one layer (part of every result): tiles of ``tk``
    output channels × ``tc`` input channels × ``toy × tox`` output pixels."""

    unit: str
    dataflow: str
    tk: int
    tc: int
    toy: int
    tox: int
    order: tuple[str, ...]  # outer → inner, group loop outside
    tiles: int
    spills_psums: bool
    rows: int = 1  # the sub-array used (array layers; a pipelined array may idle some)
    cols: int = 1

    def describe(self) -> str:
        return (f"{''.join(self.order)} k{self.tk} c{self.tc} p{self.toy}x{self.tox}"
                f"{' spill' if self.spills_psums else ''}")


@dataclass(frozen=True, slots=True)
class Totals:
    """Exact per-layer sums for one mapping (what the analytical engine reports)."""

    compute_cycles: int
    ppu_cycles: int  # post-processing after MAC tiles (PPU layers: 0, it is their compute)
    weight_bytes: int  # DRAM bytes moved per stream (burst-rounded)
    input_bytes: int
    output_bytes: int
    psum_bytes: int  # spilled partial sums, written and read back
    dram_occupancy: int  # channel-busy cycles of all transfers
    transfers: int
    first_load: int  # cycles until the first tile's operands are on chip (latency included)
    last_post: int  # post-processing of the last output tile
    last_store: int  # post-processing + store of the last output tile (latency included)
    slot_cycles: int  # buffer-slot bound: Σ slot hold times / slots, worst buffer
    serial_cycles: int  # every tile's transfers, compute and post-processing back to back
    #: the first tile's weights: their transfer alone (no latency) and bytes moved — the
    #: load that may run while the previous layer finishes (``overlap_layers``)
    first_weight_cycles: int = 0
    first_weight_bytes: int = 0
    #: the mapping's MAC-unit counts (``energy.mac_counts``) where the search priced them
    #: (an energy or EDP objective; None: count them from the mapping)
    mac: tuple[int, ...] | None = field(default=None, compare=False)

    @property
    def dram_bytes(self) -> int:
        return self.weight_bytes + self.input_bytes + self.output_bytes + self.psum_bytes

    def lower_bound(self, latency: int) -> int:
        """Contention-free cycles, a lower bound of any schedule: the first load, then the
        compute (or the post-processing of all but the last tile, if longer), then the last
        tile's post-processing and store; or the DRAM's busy time; or the time the buffer slots
        must be held (each load holds a slot for its transfer, latency and one tile's compute)."""
        return max(self.first_load + max(self.compute_cycles, self.ppu_cycles - self.last_post)
                   + self.last_store, self._dram(latency), self.slot_cycles)

    def _dram(self, latency: int) -> int:
        """The DRAM's busy time and one latency (nothing when nothing moves)."""
        return self.dram_occupancy + latency if self.dram_occupancy else 0

    def overlapped_bound(self, latency: int, rest_occupancy: int, hidden: int) -> int:
        """:meth:`lower_bound` of a layer whose first weight tile loaded, for ``hidden``
        cycles of its transfer and latency, while the previous layer ran (``overlap_layers``):
        the first tile waits that much less (never less than for its inputs), the DRAM is busy
        that much less in the layer's own span (never less than ``rest_occupancy``, its time
        for the other bytes) and the weight slot is held that much less. ``hidden`` =
        ``first_weight_cycles`` + latency: the whole load ran before."""
        w = self.first_weight_cycles
        hidden = min(max(hidden, 0), w + latency if w else 0)
        if not hidden:
            return self.lower_bound(latency)
        inputs = self.first_load - latency - w if self.first_load else 0
        first = max(inputs + latency if inputs > 0 else 0, self.first_load - hidden)
        dram = max(rest_occupancy, self.dram_occupancy - hidden)
        return max(first + max(self.compute_cycles, self.ppu_cycles - self.last_post)
                   + self.last_store, dram + latency if dram else 0,
                   max(self.slot_cycles - hidden, 0))

    def bound(self, latency: int) -> str:
        """What limits the layer, the largest of its terms: ``compute`` (the unit), ``ppu``,
        ``dram`` (its bandwidth, or the first load and last store that cannot overlap) or
        ``buffers`` (latency behind too few slots). The event engine takes it from measured
        stalls instead."""
        dram = max(self._dram(latency), self.first_load + self.last_store - self.last_post)
        terms = {"compute": self.compute_cycles, "ppu": self.ppu_cycles, "dram": dram,
                 "buffers": self.slot_cycles}
        return max(terms, key=lambda k: terms[k])


def on_grid(a: Any, grid: tuple[int, ...], flat: np.ndarray) -> np.ndarray:
    """What ``a`` broadcasts to on the candidates' ``grid``, at flat positions ``flat``."""
    return gather((1, *grid), flat)(a)[0]


def gather(full: tuple[int, ...], flat: np.ndarray) -> Callable[[Any], np.ndarray]:
    """A function of an array that broadcasts to ``full`` = (orders, *grid) giving what it
    broadcasts to at flat grid positions ``flat``, every order: shape (orders, len(flat)),
    read-only where the array has no orders axis — read from the array's own elements (the
    cells' positions in it computed once per shape), without broadcasting it over the grid.
    ``ValueError`` for an array that does not broadcast to ``full``."""
    coords = np.unravel_index(flat, full[1:])
    at_shape: dict[tuple[int, ...], np.ndarray] = {}
    out = (full[0], len(flat))

    def at(a: Any) -> np.ndarray:
        a = np.asarray(a)
        orders = a.shape[0] if a.ndim == len(full) else 1
        grid = a.shape[1:] if a.ndim == len(full) else (1,) * (len(full) - 1 - a.ndim) + a.shape
        lin = at_shape.get(grid)
        if lin is None or orders not in (1, full[0]):
            if a.ndim > len(full) or orders not in (1, full[0]) or any(
                    n not in (1, m) for n, m in zip(grid, full[1:], strict=True)):
                raise ValueError(f"an array of shape {a.shape} does not broadcast to {full}")
            # the cells' positions in a row-major array of shape ``grid``
            lin = np.zeros(len(flat), dtype=np.intp)
            stride = 1
            for axis in range(len(grid) - 1, -1, -1):
                if grid[axis] > 1:
                    lin = lin + coords[axis] * stride
                stride *= grid[axis]
            at_shape[grid] = lin
        picked = a.reshape(orders, -1).take(lin, axis=1)
        return picked if orders == full[0] else np.broadcast_to(picked, out)

    return at


def cycles_of(base: Any, compute: Any, floor: Any, bound: Any) -> Any:
    """A candidate's analytical cycles: the first load and the last store around the compute
    (or the post-processing of all but the last tile, if longer), or the DRAM's or the
    slots' bound (see :meth:`Totals.lower_bound`); vectorised."""
    return np.maximum(base + np.maximum(compute, floor), bound)


def energy_of(static: Any, leak: Callable[[Any], Any] | None, cycles: Any) -> Any:
    """The energy (pJ) of ``static`` pJ plus leakage over ``cycles``; vectorised."""
    return static if leak is None else static + leak(cycles)


@dataclass(frozen=True, slots=True)
class Picked:
    """What ranking needs of some candidates (:meth:`PricedCandidates.pick`), every order:
    arrays of shape (orders, candidates), gathered out of the grid once."""

    tiles: np.ndarray
    cycles: np.ndarray
    dram: np.ndarray | None  # DRAM bytes (None: not asked for)
    base: np.ndarray
    floor: np.ndarray
    bound: np.ndarray
    static: np.ndarray | float  # energy but leakage (pJ; 0.0: priced without a tech table)
    leak: Callable[[np.ndarray], np.ndarray] | None

    def cycles_at(self, compute: np.ndarray) -> np.ndarray:
        """The cycles of every order for compute cycles ``compute`` (one per candidate)."""
        return cycles_of(self.base, compute, self.floor, self.bound)

    def energy_at(self, cycles: np.ndarray) -> np.ndarray | float:
        """The energy (pJ) at ``cycles`` (see :meth:`cycles_at`)."""
        return energy_of(self.static, self.leak, cycles)

    def keep(self, which: np.ndarray) -> Picked:
        """Only the candidates at positions ``which``."""
        def cut(a: Any) -> Any:
            return a if a is None or np.ndim(a) == 0 else a[:, which]

        return Picked(cut(self.tiles), cut(self.cycles), cut(self.dram), cut(self.base),
                      cut(self.floor), cut(self.bound), cut(self.static), self.leak)


def item(a: np.ndarray | float, index: tuple[int, ...]) -> int:
    """The element at ``index`` of what ``a`` broadcasts to (its axes aligned on the right,
    as numpy broadcasts)."""
    if not isinstance(a, np.ndarray) or not a.ndim:
        return int(a)
    return int(a.item(_index_in(a.shape, index)))


def _index_in(shape: tuple[int, ...], index: tuple[int, ...]) -> tuple[int, ...]:
    """Where ``index`` of what an array of ``shape`` broadcasts to lies in the array."""
    at = index[len(index) - len(shape):]
    return tuple([i if n > 1 else 0 for i, n in zip(at, shape, strict=True)])


@dataclass(frozen=True, slots=True)
class PricedCandidates:
    """Exact totals of every candidate tiling under every loop order: arrays that broadcast
    to (orders, *grid) — each as computed, on the part of the grid it depends on (an
    order-independent total has no orders axis; a weight total no pixel axis). ``cycles``
    is the analytical bound and ``energy`` the energy the search ranks by (0 when priced
    without a technology table)."""

    compute: np.ndarray
    post: np.ndarray
    weight_bytes: np.ndarray
    input_bytes: np.ndarray
    output_bytes: np.ndarray
    psum_bytes: np.ndarray
    occupancy: np.ndarray
    transfers: np.ndarray
    first_load: np.ndarray
    first_weight: np.ndarray  # the first weight tile's transfer cycles and bytes moved
    first_weight_moved: np.ndarray
    last_post: np.ndarray
    last_store: np.ndarray
    slot: np.ndarray
    serial: np.ndarray
    spill: np.ndarray
    tiles: np.ndarray
    rows: np.ndarray  # the sub-array each candidate's last tile runs on
    cols: np.ndarray
    cycles: np.ndarray  # = cycles_of(base, compute, floor, bound)
    #: cycles = max(base + max(compute, floor), bound): the first load and the last store
    #: around the compute (or the post-processing), or the DRAM's or the slots' bound
    base: np.ndarray
    floor: np.ndarray
    bound: np.ndarray
    energy_static: np.ndarray | float  # pJ, all but leakage (0: priced without a tech table)
    leak: Callable[[np.ndarray], np.ndarray] | None  # leakage (pJ) over cycles
    mac: tuple[np.ndarray, ...] | None  # ``energy.mac_counts`` per candidate (None: not priced)
    last_tail: np.ndarray  # what the last tile adds after its issue on the usable array
    #: None: ``compute`` is exact. Otherwise ``compute`` runs the last tile on the usable
    #: array and a sub-array may be faster: the true compute lies in [compute_floor,
    #: compute] (``pricing.exact_compute`` gives it)
    compute_floor: np.ndarray | None

    @property
    def dram_bytes(self) -> np.ndarray:
        return self.weight_bytes + self.input_bytes + self.output_bytes + self.psum_bytes

    @property
    def energy(self) -> np.ndarray | float:
        """Every candidate's energy (pJ) at its :attr:`cycles`."""
        return energy_of(self.energy_static, self.leak, self.cycles)

    def on_grid(self, a: np.ndarray, flat: np.ndarray) -> np.ndarray:
        """``a`` (without an orders axis) of the candidates at flat grid positions ``flat``."""
        return on_grid(a, np.shape(self.cycles)[1:], flat)

    def pick(self, flat: np.ndarray, *, dram: bool = False) -> Picked:
        """What ranking needs of the candidates at flat grid positions ``flat``; ``dram``:
        their DRAM bytes too."""
        full = np.shape(self.cycles)
        at = gather(full, flat)

        static = self.energy_static
        return Picked(at(self.tiles), at(self.cycles), at(self.dram_bytes) if dram else None,
                      at(self.base), at(self.floor), at(self.bound),
                      static if np.ndim(static) == 0 else at(np.asarray(static)), self.leak)

    def totals(self, o: int, cell: tuple[int, ...], compute: int | None = None) -> Totals:
        """The :class:`Totals` of order ``o``, grid cell ``cell``; ``compute``: its compute
        cycles where they differ from :attr:`compute` (the last tile on a sub-array)."""
        index = (o, *cell)
        at_shape: dict[tuple[int, ...], tuple[int, ...]] = {}

        def at(a: np.ndarray) -> int:  # (``item``, its index worked out once per shape)
            if not isinstance(a, np.ndarray) or not a.ndim:
                return int(a)
            where = at_shape.get(a.shape)
            if where is None:
                where = at_shape[a.shape] = _index_in(a.shape, index)
            return int(a.item(where))

        serial = at(self.serial)
        if compute is None:
            compute = at(self.compute)
        else:
            serial += compute - at(self.compute)
        return Totals(
            compute_cycles=compute, ppu_cycles=at(self.post),
            weight_bytes=at(self.weight_bytes), input_bytes=at(self.input_bytes),
            output_bytes=at(self.output_bytes), psum_bytes=at(self.psum_bytes),
            dram_occupancy=at(self.occupancy), transfers=at(self.transfers),
            first_load=at(self.first_load), last_post=at(self.last_post),
            last_store=at(self.last_store), slot_cycles=at(self.slot),
            serial_cycles=serial, first_weight_cycles=at(self.first_weight),
            first_weight_bytes=at(self.first_weight_moved),
            mac=None if self.mac is None else tuple(at(x) for x in self.mac),
        )
