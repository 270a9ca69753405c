"""Pricing: the exact totals of every candidate tiling under every loop order, at once.

Every candidate is priced with the same closed forms the analytical engine reports. Channel
tiles fall into ≤ 2 classes per dimension (full tiles and the remainder) and pixel tiles into
the classes of :mod:`.candidates`, so the exact sums over all tiles are sums over classes.
The candidates form a grid (k tiles × c tiles × pixel tilings): each total is computed on the
part of the grid it depends on and broadcast, sums over every class combination are products
of per-dimension sums where they factor (``cost.array_cycle_sums``, ``energy._Factors``),
what no chip field but the array's column count changes is kept per problem and that count
(:func:`layout`, least recently used within :data:`LAYOUT_BUDGET`), and the order-dependent
parts (fetch multiplicities, spills) come from :mod:`.reuse`. What some chip fields decide is
kept per those fields: the candidates' buffer needs per whether partial sums leave the PEs;
a layer's compute side per :func:`compute_fields`, its transfers per
``dram.transfer_fields``, its traffic per :func:`traffic_fields` and its slot bound per the
buffers' slot counts (least recently used, within :data:`KEPT_BUDGET`); whether a problem
prices exactly everywhere per both field groups. docs/simulator.md explains why each
shortcut gives the same totals; tests/simulator/overlay/test_search.py checks it.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from simulator.overlay.chip import Chip, Dataflow
from simulator.overlay.cost import (
    array_cycle_sums,
    array_last_tile,
    array_last_tile_floor,
    ceil_div,
    effective_array,
    input_tile_bytes,
    output_tile_bytes,
    ppu_cycles,
    psum_tile_bytes,
    psums_outside_pes,
    skip_tile_bytes,
    sub_arrays,
    tile_compute_cycles,
    tile_tail_cycles,
    weight_tile_bytes,
)
from simulator.overlay.dram import busy_cycles, transfer, transfer_fields
from simulator.overlay.energy import (
    energy_breakdown_pj,
    layer_actions,
    leakage_pj,
    mac_counts,
)
from simulator.overlay.mapping.candidates import (
    BufferNeeds,
    Candidates,
    buffer_needs,
    enumerate_candidates,
)
from simulator.overlay.mapping.records import PricedCandidates, cycles_of, on_grid
from simulator.overlay.mapping.reuse import fetch_multiplicity, spills_for
from simulator.overlay.problem import Problem, Unit, mac_model
from simulator.tech import TechTable

__all__ = [
    "EXACT_LIMIT",
    "Layout",
    "exact_bounds",
    "exact_compute",
    "exact_everywhere",
    "extreme_bounds",
    "forget",
    "layout",
    "price_candidates",
]

#: Totals are exact integers below this (float64's integer range; SimPy keeps time in floats).
EXACT_LIMIT = 2.0**53


def exact_bounds(p: Problem, chip: Chip, cands: Candidates) -> tuple[np.ndarray, np.ndarray]:
    """Upper bounds, in float64 (which cannot overflow), of the largest cycle count and the
    largest byte count pricing may form for each candidate. A candidate whose bounds stay below
    :data:`EXACT_LIMIT` is priced exactly in int64; the others are never priced."""
    f = np.float64
    tk, tc = cands.tk.astype(f), cands.tc.astype(f)
    tiles = (np.ceil(p.K / tk) * np.ceil(p.C / tc) * cands.pixels.n_tiles.astype(f)
             * p.groups)
    return _bounds(p, chip, tiles, tk, tc, cands.toy.astype(f), cands.tox.astype(f),
                   p.words(cands.tc).astype(f))


def exact_everywhere(p: Problem, chip: Chip) -> bool:
    """Whether every tiling of ``p`` prices exactly (:func:`exact_bounds` below the limit for
    all of them) — decided without pricing any: the bounds grow with the tile count and with
    each tile size, so their value at the most tiles any tiling has (1 × 1 × 1 × 1 tiles)
    and the largest tile of each dimension bounds every candidate's (the pixel loop runs over
    a batch's frames: ``frames`` pixel tiles of 1 × 1 per output pixel). Kept per ``p`` and
    the chip fields the bounds read (among :func:`compute_fields` and :func:`traffic_fields`)."""
    key = (p, compute_fields(chip), traffic_fields(chip))
    hit = _EVERYWHERE.get(key)
    if hit is None:
        if len(_EVERYWHERE) >= _EVERYWHERE_LIMIT:
            _EVERYWHERE.clear()
        cycles, nbytes = extreme_bounds(p, chip)
        hit = _EVERYWHERE[key] = bool(cycles < EXACT_LIMIT and nbytes < EXACT_LIMIT)
    return hit


#: :func:`exact_everywhere`'s answers, and how many before it starts again
_EVERYWHERE: dict[tuple[object, ...], bool] = {}
_EVERYWHERE_LIMIT = 4096


def extreme_bounds(p: Problem, chip: Chip) -> tuple[float, float]:
    """Bounds of :func:`exact_bounds` over every tiling of ``p`` (see
    :func:`exact_everywhere`)."""
    f = np.float64
    cycles, nbytes = _bounds(p, chip, f(p.K * p.C * p.OY * p.OX * p.frames * p.groups),
                             f(p.K), f(p.C), f(p.OY), f(p.OX), f(p.words(p.C)))
    return float(cycles), float(nbytes)


def _bounds(p: Problem, chip: Chip, tiles: Any, tk: Any, tc: Any, toy: Any, tox: Any,
            words: Any) -> tuple[Any, Any]:
    """:func:`exact_bounds` of ``tiles`` tiles of the given sizes (``words``: one pass's
    reduction in PE words, ``Problem.words(tc)``), float64 arrays or floats; every term grows
    with each argument."""
    px = toy * tox
    in_px = ((toy - 1) * p.stride + p.FY) * ((tox - 1) * p.stride + p.FX)
    # one transfer moves at most the largest tile plus a burst per channel
    largest = np.maximum(np.maximum(
        tk * tc * p.FY * p.FX * p.w_bits / 8,
        (tk if p.depthwise else tc) * in_px * p.a_bits / 8 * p.operands),
        tk * px * max(p.acc_bits, p.out_bits) / 8) + chip.dram.burst_bytes
    occupancy = largest / chip.channel_bytes_per_cycle + 1
    transfers = 6 * tiles  # weights, inputs, shortcuts, outputs, partial sums out and back
    if p.unit is Unit.ARRAY:  # Σ over folds of 2r + c + t − 2, every fold counted in full
        stretch = effective_array(p, chip)[2]
        df = chip.dataflow
        if df is Dataflow.OUTPUT_STATIONARY:
            sr, sc, t, mult = px, tk, words * p.passes * stretch, 1
        elif df is Dataflow.WEIGHT_STATIONARY:
            sr, sc, t, mult = words, tk, px * p.a_passes * stretch, p.w_passes
        else:
            sr, sc, t, mult = words, px, tk * p.w_passes * stretch, p.a_passes
        tile = mult * (2 * (sc + 1) * sr + (sr + 1) * sc + (sr + 1) * (sc + 1) * (t + 2))
    elif p.unit is Unit.INT8:
        tile = tk * tc * p.FY * p.FX * px * p.passes / chip.int8_unit_macs + 3
    else:
        tile = tk * px * p.window / chip.ppu_lanes + 1
    post = tk * px * p.window / chip.ppu_lanes + 1
    cycles = (tiles * (tile + post)
              + transfers * (occupancy + chip.dram_latency_cycles + tile))
    return cycles, transfers * largest


def _dim_classes(sizes: np.ndarray, total: int) -> tuple[np.ndarray, np.ndarray]:
    """(count, size) of the ≤ 2 tile classes of a dimension: full tiles and the remainder
    (a trailing axis of 2)."""
    sizes = np.asarray(sizes, dtype=np.int64)[..., None]
    full = total // sizes
    rem = total - full * sizes
    return (np.concatenate([full, (rem > 0).astype(np.int64)], axis=-1),
            np.concatenate([sizes, np.where(rem > 0, rem, 1)], axis=-1))


def _last(cnt: np.ndarray, size: np.ndarray) -> np.ndarray:
    """The size of a dimension's last tile (the remainder, if any)."""
    return np.where(cnt[..., 1] > 0, size[..., 1], size[..., 0])


@dataclass(frozen=True, slots=True, eq=False)
class Stream:
    """One operand's tiles as DRAM transfers: per class (trailing axes) how many and their
    bytes; ``live``: how many move anything."""

    count: np.ndarray
    nbytes: np.ndarray
    live: np.ndarray

    @classmethod
    def of(cls, count: np.ndarray, nbytes: np.ndarray) -> Stream:
        live = (count * ((count > 0) & (nbytes > 0))).sum(axis=(-2, -1))
        return cls(count, nbytes, live)

    def traffic(self, chip: Chip) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(channel-busy cycles, bytes moved, transfers) of all the stream's tiles, once."""
        occ, moved = transfer(chip, self.nbytes)
        return ((self.count * occ).sum(axis=(-2, -1)),
                (self.count * moved).sum(axis=(-2, -1)), self.live)


_NONE = np.zeros((), dtype=np.int64)


@dataclass(frozen=True, slots=True, eq=False)
class Layout:
    """What pricing needs of a problem's candidates that no chip field changes: the tile
    classes, the tiles of each operand and their bytes, and every order's fetch counts —
    computed once per problem and candidate grid (:func:`layout`)."""

    cands: Candidates
    orders: tuple[tuple[str, ...], ...]
    k: tuple[np.ndarray, np.ndarray]  # (count, size) classes of output-channel tiles
    c: tuple[np.ndarray, np.ndarray]
    nk: np.ndarray
    nc: np.ndarray
    tiles: np.ndarray
    weights: Stream | None  # None: no weights in DRAM
    inputs: Stream | None
    outputs: Stream | None
    psums: Stream
    skips: Stream | None
    first_in_bytes: np.ndarray | None
    first_w_bytes: np.ndarray | None
    k_last: np.ndarray  # the last tile's output and input channels
    c_last: np.ndarray
    last_out_bytes: np.ndarray
    last_skip_bytes: np.ndarray | None
    w_mult: np.ndarray  # (orders, *grid)
    i_mult: np.ndarray
    spill: np.ndarray
    s_rounds: np.ndarray
    #: distinct tile sizes per dimension and where each class's size is among them
    #: (tile cycles are priced per distinct size where they do not factor)
    unique: tuple[tuple[np.ndarray, np.ndarray], ...]
    #: the transfers' times per DRAM (:func:`_transfers`)
    transfers: dict[tuple[object, ...], _Transfers] = field(default_factory=dict)
    #: the candidates' buffer needs, by whether partial sums leave the PEs (:meth:`needs`)
    _needs: dict[bool, BufferNeeds] = field(default_factory=dict)
    #: bytes of its arrays and of what it holds (transfers, needs) while :func:`layout`
    #: keeps it (else 0)
    held: list[int] = field(default_factory=lambda: [0])

    def needs(self, p: Problem, chip: Chip) -> BufferNeeds:
        """``candidates.buffer_needs`` of the candidates (``p``: the layout's problem), kept
        per the one chip property it reads (``cost.psums_outside_pes``)."""
        key = psums_outside_pes(p, chip)
        hit = self._needs.get(key)
        if hit is None:
            hit = self._needs[key] = buffer_needs(p, chip, self.cands)
            self.hold(_nbytes(_frozen(hit.input, hit.weight, hit.output)))
        return hit

    def hold(self, n: int) -> None:
        """Count ``n`` more bytes (fewer, if negative) kept with the layout, while
        :func:`layout` keeps it."""
        if self.held[0]:
            self.held[0] += n
            _layout_bytes[0] += n

    @classmethod
    def of(cls, p: Problem, cands: Candidates, orders: tuple[tuple[str, ...], ...]) -> Layout:
        pt = cands.pixels
        kc, ks = _dim_classes(cands.tk, p.K)
        cc, cs = _dim_classes(cands.tc, p.C)
        pc, pout, pin = pt.count, pt.out_px, pt.in_px
        nk, nc, npx = ceil_div(p.K, cands.tk), ceil_div(p.C, cands.tc), pt.n_tiles
        kk, cc2, pp = ks[..., :, None], cs[..., None, :], pout[..., None, :]
        kp_cnt = kc[..., :, None] * pc[..., None, :]
        k0, c0 = ks[..., 0], cs[..., 0]
        k_last = _last(kc, ks)
        if not p.in_dram:
            inputs = None
        elif p.depthwise:
            inputs = Stream.of(kp_cnt, input_tile_bytes(p, kk, pin[..., None, :]))
        else:
            inputs = Stream.of(cc[..., :, None] * pc[..., None, :],
                               input_tile_bytes(p, cs[..., :, None], pin[..., None, :]))
        w_dram = bool(p.w_bits and p.w_dram)
        n_orders = (len(orders),) + (1,) * 3
        return cls(
            cands=cands, orders=orders, k=(kc, ks), c=(cc, cs), nk=nk, nc=nc,
            tiles=nk * nc * npx * p.groups,
            weights=(Stream.of(kc[..., :, None] * cc[..., None, :],
                               weight_tile_bytes(p, kk, cc2)) if w_dram else None),
            inputs=inputs,
            outputs=Stream.of(kp_cnt, output_tile_bytes(p, kk, pp)) if p.out_dram else None,
            psums=Stream.of(kp_cnt, psum_tile_bytes(p, kk, pp)),
            skips=Stream.of(kp_cnt, skip_tile_bytes(p, kk, pp)) if p.skip_bits else None,
            first_in_bytes=(input_tile_bytes(p, k0 if p.depthwise else c0, pt.first_in)
                            if p.in_dram else None),
            first_w_bytes=weight_tile_bytes(p, k0, c0) if w_dram else None,
            k_last=k_last, c_last=_last(cc, cs),
            last_out_bytes=output_tile_bytes(p, k_last, pt.last_out),
            last_skip_bytes=(skip_tile_bytes(p, k_last, pt.last_out) if p.skip_bits
                             else None),
            w_mult=(fetch_multiplicity("w", orders, nk, nc, npx) if p.w_bits
                    else np.ones(n_orders, dtype=np.int64)),
            i_mult=fetch_multiplicity("i_dw" if p.depthwise else "i", orders, nk, nc, npx),
            spill=(spill := spills_for(orders, nk, nc, npx)),
            s_rounds=np.where(spill, 2 * (nc - 1), 0),  # written and read back nc-1 times
            unique=tuple(_distinct(x) for x in (ks, cs, pout)),
        )


@dataclass(frozen=True, slots=True, eq=False)
class _Transfers:
    """A layout's DRAM transfers timed on one DRAM (:func:`_transfers`): of each stream's
    tiles once, (channel-busy cycles, bytes moved, transfers); of the first and last tiles,
    their cycles (0: not in DRAM)."""

    weights: tuple[np.ndarray, np.ndarray, np.ndarray]
    inputs: tuple[np.ndarray, np.ndarray, np.ndarray]
    outputs: tuple[np.ndarray, np.ndarray, np.ndarray]
    skips: tuple[np.ndarray, np.ndarray, np.ndarray]
    psums: tuple[np.ndarray, np.ndarray, np.ndarray]
    first_in: np.ndarray
    first_w: np.ndarray
    first_w_moved: np.ndarray  # (bytes)
    last_out: np.ndarray
    last_skip: np.ndarray


def _frozen(*arrays: Any) -> list[Any]:
    """``arrays`` made read-only (values kept across searches are shared, never changed)."""
    for a in arrays:
        if isinstance(a, np.ndarray):
            a.flags.writeable = False
    return list(arrays)


#: DRAMs kept per layout before it starts again
_TRANSFERS_LIMIT = 16


def _transfers(lay: Layout, chip: Chip) -> _Transfers:
    """The transfers of ``lay`` on ``chip``'s DRAM, kept with the layout per
    ``dram.transfer_fields`` (a sweep's or a study's chips share a few DRAMs)."""
    key = transfer_fields(chip)
    hit = lay.transfers.get(key)
    if hit is not None:
        return hit
    none = (_NONE, _NONE, _NONE)  # a stream kept on chip moves nothing

    def once(stream: Stream | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        busy, moved, n = none if stream is None else stream.traffic(chip)
        _frozen(busy, moved, n)
        return busy, moved, n

    def cycles(nbytes: np.ndarray | None) -> np.ndarray:
        return _NONE if nbytes is None else transfer(chip, nbytes)[0]

    first_w, first_w_moved = (transfer(chip, lay.first_w_bytes)
                              if lay.first_w_bytes is not None else (_NONE, _NONE))
    if len(lay.transfers) >= _TRANSFERS_LIMIT:  # (a study over clocks or data rates)
        lay.hold(-_nbytes(lay.transfers))
        lay.transfers.clear()
    hit = lay.transfers[key] = _Transfers(
        once(lay.weights), once(lay.inputs), once(lay.outputs), once(lay.skips),
        once(lay.psums), *_frozen(cycles(lay.first_in_bytes), first_w, first_w_moved,
                 cycles(lay.last_out_bytes), cycles(lay.last_skip_bytes)))
    lay.hold(_nbytes(hit))
    return hit


def _distinct(sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    values, where = np.unique(sizes, return_inverse=True)
    return values, where.reshape(sizes.shape)


#: layouts by (problem, ``k_unit``, orders), least recently used first. A study's chips
#: share them (the problem and the array's columns decide one), so many are kept: past
#: :data:`LAYOUT_BUDGET` bytes of their arrays, transfers and buffer needs, the least
#: recently used go (a compute side still using one keeps it alive, uncounted).
_LAYOUTS: OrderedDict[tuple[object, ...], Layout] = OrderedDict()
LAYOUT_BUDGET = 96 * 2**20
_layout_bytes = [0]


def layout(p: Problem, k_unit: int, orders: tuple[tuple[str, ...], ...]) -> Layout:
    """The :class:`Layout` of ``p``'s candidate grid (:func:`enumerate_candidates`, whose
    only chip input is the array's preferred output-channel tile ``k_unit``), kept."""
    key = (p, k_unit, orders)
    hit = _LAYOUTS.get(key)
    if hit is not None:
        _LAYOUTS.move_to_end(key)
        return hit
    hit = Layout.of(p, enumerate_candidates(p, k_unit), orders)
    hit.held[0] = _nbytes(hit)
    _layout_bytes[0] += hit.held[0]
    while _LAYOUTS and _layout_bytes[0] > LAYOUT_BUDGET:
        _let_go(_LAYOUTS.popitem(last=False)[1])
    _LAYOUTS[key] = hit
    return hit


def _let_go(lay: Layout) -> None:
    """``lay`` is no longer kept (a compute side may still use it: nothing counted then)."""
    _layout_bytes[0] -= lay.held[0]
    lay.held[0] = 0


def _nbytes(obj: Any) -> int:
    """Bytes of the arrays (owning their memory) in ``obj``: a record of arrays, of tuples
    or dictionaries of arrays or of such records (a layout's ``held`` count left out)."""
    total = 0
    todo = [obj]
    while todo:
        x = todo.pop()
        kind = type(x)
        if kind is np.ndarray:
            total += x.nbytes if x.base is None else 0
        elif kind is tuple or kind is list:
            todo.extend(x)
        elif kind is dict:
            todo.extend(x.values())
        else:
            names = _SLOTS.get(kind)
            if names is None:
                names = _SLOTS[kind] = tuple(n for n in getattr(kind, "__slots__", ())
                                             if n != "held")
            todo.extend([getattr(x, n) for n in names])
    return total


_SLOTS: dict[type, tuple[str, ...]] = {}  # (a record type's fields that may hold arrays)


@dataclass(frozen=True, slots=True, eq=False)
class _Compute:
    """The compute side of every candidate — the unit's cycles, the post-processing and the
    MAC counts — and how its last tile may change the cycles; what :func:`compute_fields`
    of the chip decides (:func:`_compute`)."""

    issue: np.ndarray  # Σ every tile's cycles, all groups
    smallest: np.ndarray  # the smallest tile's cycles
    whole: np.ndarray  # the last tile's cycles
    tail: np.ndarray  # what the last tile adds after it (a pipelined array's skew and drain)
    floor: np.ndarray | None  # the last tile's fewest cycles on any sub-array (None: no choice)
    post: np.ndarray  # Σ every tile's post-processing, all groups
    last_post: np.ndarray  # the last tile's
    choices: np.ndarray  # (V, 2): the sub-arrays (rows, cols) a last tile may use
    #: what is computed when first asked for: ``"mac"``, the MAC counts
    #: (:func:`_mac_counts`); ``"exact"``, each candidate's exact compute
    #: (:func:`exact_compute`) by flat grid position; ``"traffic"``, the traffic per
    #: :func:`traffic_fields` (:func:`_traffic`); and ``"bytes"``, what a kept side holds
    #: (:func:`_kept`)
    memo: dict[str, Any] = field(default_factory=dict)


def compute_fields(chip: Chip) -> tuple[object, ...]:
    """Every chip field the compute side of pricing reads (:class:`_Compute`): the array
    (its size, PE type, packing, fold timing, window buffer), the dataflow, the buffers'
    port widths (which rows and columns they feed), the int8 unit and the post-processor —
    not the buffers' sizes, the DRAM, the objective or the technology. Chips equal in these
    share their compute side (test_search.py varies every other field)."""
    return (chip.pe_array, chip.dataflow, chip.input_buffer.port_bits,
            chip.weight_buffer.port_bits, chip.output_buffer.port_bits, chip.int8_unit_macs,
            chip.ppu_lanes)


#: compute sides by (layout, problem, compute_fields, factored); a sweep's chips that differ
#: only in their buffers or DRAM price their compute once. A layout is a key by identity
#: (kept alive by its entry).
_COMPUTED: OrderedDict[tuple[object, ...], _Compute] = OrderedDict()
#: bytes of the arrays kept with the compute sides (their traffic the most: arrays over loop
#: orders × candidates), and how many sides; past either, the least recently used sides go.
#: A sweep in ``Family.reuse_order`` reuses a few dozen sides at a time; random chips share
#: little, so a smaller store costs them nothing.
KEPT_BUDGET = 64 * 2**20
KEPT_SIDES = 4096
_kept_bytes = [0]


def forget() -> None:
    """Drop every kept layout and compute side (and its traffic): a cold start, for tests and
    timing."""
    for side in _COMPUTED.values():
        side.memo.pop("bytes")
    _COMPUTED.clear()
    _EVERYWHERE.clear()
    _kept_bytes[0] = 0
    while _LAYOUTS:
        _let_go(_LAYOUTS.popitem()[1])


def _kept(side: _Compute, *arrays: Any) -> int:
    """Count ``arrays`` (those owning their memory) kept with ``side`` against
    :data:`KEPT_BUDGET` (when ``side`` is kept); their bytes."""
    n = _nbytes(arrays)
    if "bytes" in side.memo:
        side.memo["bytes"] += n
        _kept_bytes[0] += n
    return n


def _let_go_traffic(side: _Compute) -> None:
    """Drop the traffic kept with ``side`` (and what is kept with each) from its count."""
    kept = side.memo.get("traffic", {})
    if "bytes" in side.memo:
        n = sum(t.memo.get("bytes", 0) for t in kept.values())
        side.memo["bytes"] -= n
        _kept_bytes[0] -= n
    kept.clear()


def _last_tile(p: Problem, chip: Chip, k: np.ndarray, c: np.ndarray, px: np.ndarray,
               used: tuple[np.ndarray, np.ndarray], factored: bool = True
               ) -> tuple[np.ndarray, np.ndarray]:
    """(cycles, tail) of a last tile of sizes ``k``, ``c``, ``px`` on the sub-array ``used``."""
    parts = (array_last_tile(p, chip, k, c, px, *used)
             if factored and p.unit is Unit.ARRAY else None)
    if parts is None:
        parts = (tile_compute_cycles(p, chip, k, c, px, used=used),
                 tile_tail_cycles(p, chip, k, c, px, used=used))
    shape = np.broadcast_shapes(*(np.shape(x) for x in (*parts, *used)))
    return np.broadcast_to(parts[0], shape), np.broadcast_to(parts[1], shape)


def _compute(p: Problem, chip: Chip, lay: Layout, factored: bool, keep: bool = True
             ) -> _Compute:
    """:func:`_compute_side`, kept per (``lay``, ``p``, :func:`compute_fields`) unless not
    ``keep`` (a layout made for one call)."""
    if not keep:
        return _compute_side(p, chip, lay, factored)
    key = (lay, p, compute_fields(chip), factored)
    hit = _COMPUTED.get(key)
    if hit is not None:
        _COMPUTED.move_to_end(key)
        return hit
    while _COMPUTED and (_kept_bytes[0] > KEPT_BUDGET or len(_COMPUTED) >= KEPT_SIDES):
        _kept_bytes[0] -= _COMPUTED.popitem(last=False)[1].memo.pop("bytes")  # (not kept)
    hit = _COMPUTED[key] = _compute_side(p, chip, lay, factored)
    hit.memo["bytes"] = 0
    _kept(hit, hit.issue, hit.smallest, hit.whole, hit.tail, hit.floor, hit.post)
    return hit


def _compute_side(p: Problem, chip: Chip, lay: Layout, factored: bool) -> _Compute:
    """Every candidate's tiles on the array (or the unit that runs the problem), their sum
    factored where it factors (``cost.array_cycle_sums``), its last tile on the usable
    array and its post-processing."""
    pt = lay.cands.pixels
    (kc, ks), cc = lay.k, lay.c[0]
    sums = (array_cycle_sums(p, chip, lay.k, lay.c, (pt.count, pt.out_px))
            if factored and p.unit is Unit.ARRAY else None)
    if sums is None:  # every class combination (the int8 unit, the PPU, a port-bound fold),
        # priced once per distinct (k, c, pixels) size
        (uk, ik), (uc, ic), (up, ip) = lay.unique
        distinct = tile_compute_cycles(p, chip, uk[:, None, None], uc[None, :, None],
                                       up[None, None, :])
        per_tile = distinct[ik[..., :, None, None], ic[..., None, :, None],
                            ip[..., None, None, :]]
        cnt3 = kc[..., :, None, None] * cc[..., None, :, None] * pt.count[..., None, None, :]
        sums = ((cnt3 * per_tile).sum(axis=(-3, -2, -1)),
                np.where(cnt3 > 0, per_tile, np.iinfo(np.int64).max).min(axis=(-3, -2, -1)))
    total, smallest = sums
    choices = np.array(sub_arrays(p, chip), dtype=np.int64)
    usable = (choices[0, 0], choices[0, 1])
    whole, tail = _last_tile(p, chip, lay.k_last, lay.c_last, pt.last_out, usable, factored)
    floor = (array_last_tile_floor(p, chip, lay.k_last, lay.c_last, pt.last_out)
             if len(choices) > 1 else None)
    ppu = p.unit is Unit.PPU
    post = _NONE if ppu else \
        (lay.psums.count * ppu_cycles(p, chip, ks[..., :, None], pt.out_px[..., None, :])
         ).sum(axis=(-2, -1)) * p.groups
    last_post = _NONE if ppu else ppu_cycles(p, chip, lay.k_last, pt.last_out)
    return _Compute(*_frozen(total * p.groups, smallest, whole, tail, floor, post, last_post,
                             choices))


def _mac_counts(p: Problem, chip: Chip, lay: Layout, side: _Compute, factored: bool
                ) -> tuple[np.ndarray, ...] | None:
    """``energy.mac_counts`` of every candidate (None: a PPU layer), kept with ``side``."""
    if "mac" not in side.memo:
        pt = lay.cands.pixels
        (kc, ks), (cc, cs) = lay.k, lay.c
        side.memo["mac"] = None if p.unit is Unit.PPU else tuple(_frozen(*mac_counts(
            p, chip, kc, ks, cc, cs, pt.count, pt.out_px, lay.cands.tc, pin=pt.in_px,
            factored=factored)))
        _kept(side, *(side.memo["mac"] or ()))
    return side.memo["mac"]


def exact_compute(p: Problem, chip: Chip, lay: Layout, cells: np.ndarray, *,
                  factored: bool = True, keep: bool = True
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(compute cycles, rows, cols) of the candidates at flat grid positions ``cells`` with
    their last tile on its best sub-array (``cost.sub_arrays``: all V choices at once, along
    a leading axis; the first, the usable array, among equals). Kept with the compute side
    (unless not ``keep``): a candidate is priced once per :func:`compute_fields`."""
    if not len(cells):
        return (np.zeros(0, dtype=np.int64),) * 3
    side = _compute(p, chip, lay, factored, keep)
    known: dict[int, tuple[int, int, int]] = side.memo.setdefault("exact", {})
    new = np.array([c for c in dict.fromkeys(cells.tolist()) if c not in known],
                   dtype=np.int64)
    if len(new):
        def at(a: np.ndarray) -> np.ndarray:
            return on_grid(a, lay.cands.shape, new)

        choices = side.choices
        whole, tail = _last_tile(p, chip, at(lay.k_last), at(lay.c_last),
                                 at(lay.cands.pixels.last_out),
                                 (choices[:, :1], choices[:, 1:]), factored)
        last = whole + tail
        best = np.argmin(last, axis=0)
        exact = at(side.issue) - whole[0] + last[best, np.arange(len(new))]
        known.update(zip(new.tolist(), zip(exact.tolist(), choices[best, 0].tolist(),
                                           choices[best, 1].tolist(), strict=True),
                         strict=True))
    compute, rows, cols = zip(*(known[c] for c in cells.tolist()), strict=True)
    return (np.array(compute, dtype=np.int64), np.array(rows, dtype=np.int64),
            np.array(cols, dtype=np.int64))


def price_candidates(p: Problem, chip: Chip, lay: Layout, *, tech: TechTable | None = None,
                     area_mm2: float = 0.0, factored: bool = True, keep: bool = True
                     ) -> PricedCandidates:
    """Exact totals for every candidate of ``lay`` under each of its loop orders: arrays
    that broadcast to (len(orders), *grid) (the candidates' grid of k, c and pixel tiles,
    :class:`Candidates`). With a technology table (and the chip's area, for leakage) each
    candidate's energy too, counted by the same functions as a result's
    (``energy.layer_actions``).

    Every quantity is computed on the smallest part of the grid it depends on (a weight tile
    on k × c, an input tile on c × pixels) and broadcast from there; sums over every class
    combination of a tile's k, c and pixel classes are taken as products of per-dimension
    sums where they factor (``factored``; ``factored=False`` sums every combination, the
    tests' reference). The compute side is kept per :func:`compute_fields` unless not
    ``keep`` (a layout made for one call)."""
    comp = _compute(p, chip, lay, factored, keep)
    rows, cols, _ = effective_array(p, chip)
    t = _traffic(p, chip, lay, comp)
    slot, bound, cycles = _timed(t, chip, comp)
    static: np.ndarray | float = 0.0
    leak = mac = None
    if tech is not None:
        mac = _mac_counts(p, chip, lay, comp, factored)
        if "actions" not in t.memo:
            t.memo["actions"] = layer_actions(p, chip, dram_bytes=t.dram, mac=mac, **t.streams)
        parts = energy_breakdown_pj(t.memo["actions"], chip, tech, cycles=0,
                                    area_mm2=area_mm2, acc_bits=p.acc_bits,
                                    model=mac_model(p, chip))
        parts.pop("leakage")  # (added last, from each candidate's cycles)
        static = sum(np.asarray(v, dtype=np.float64) for v in parts.values())
        leak = partial(leakage_pj, chip, tech, area_mm2)
    return PricedCandidates(
        compute=t.compute, post=comp.post, occupancy=t.occupancy, transfers=t.transfers,
        first_load=t.first_load, first_weight=t.first_weight,
        first_weight_moved=t.first_weight_moved, last_post=comp.last_post,
        last_store=t.last_store, slot=slot, serial=t.serial, spill=lay.spill,
        tiles=lay.tiles, rows=np.asarray(rows), cols=np.asarray(cols), cycles=cycles,
        base=t.base, floor=t.floor, bound=bound, energy_static=static, leak=leak, mac=mac,
        last_tail=comp.tail,
        compute_floor=None if comp.floor is None else comp.issue - comp.whole + comp.floor,
        **t.streams,
    )


def _slots_of(chip: Chip) -> tuple[int, int, int]:
    return (chip.weight_buffer.slots, chip.input_buffer.slots, chip.output_buffer.slots)


def _timed(t: _Traffic, chip: Chip, comp: _Compute
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(slot, bound, cycles) of every candidate: its buffers' slot bound, that or the DRAM's,
    and its analytical cycles — what the traffic ``t`` and the buffers' slot counts decide,
    kept with ``t`` per slot counts (a sweep's chips that differ in buffer sizes share it)."""
    key = ("timed", _slots_of(chip))
    hit = t.memo.get(key)
    if hit is None:
        w, i, o = key[1]
        # cycles = max(the first load, the compute, the last store; the DRAM; the slots)
        slot = np.maximum(np.maximum(ceil_div(t.hold_w, w), ceil_div(t.hold_i, i)),
                          ceil_div(t.hold_o, o))
        bound = np.maximum(t.busy, slot)
        hit = t.memo[key] = tuple(_frozen(slot, bound, cycles_of(t.base, t.compute, t.floor,
                                                                 bound)))
        t.memo["bytes"] = t.memo.get("bytes", 0) + _kept(comp, *hit)
    return hit


@dataclass(frozen=True, slots=True, eq=False)
class _Traffic:
    """What pricing derives from a layer's compute side and its DRAM alone — everything but
    the buffers' slots, the energy and the ranking (:func:`_traffic`); arrays that broadcast
    to (orders, *grid)."""

    compute: np.ndarray  # with the last tile on the usable array
    transfers: np.ndarray
    streams: dict[str, np.ndarray]  # bytes moved by stream (``weight_bytes``, …)
    dram: np.ndarray  # their sum
    occupancy: np.ndarray  # the DRAM's busy cycles
    busy: np.ndarray  # the DRAM's bound on the cycles (its busy time and a latency; 0: idle)
    hold_w: np.ndarray  # cycles the weight, input and output slots are held
    hold_i: np.ndarray
    hold_o: np.ndarray
    first_load: np.ndarray
    first_weight: np.ndarray
    first_weight_moved: np.ndarray
    last_store: np.ndarray
    base: np.ndarray  # the first load and the last store around the compute
    floor: np.ndarray  # the post-processing beyond the last tile's
    serial: np.ndarray
    #: ``"actions"``: the action counts; ``("timed", slot counts)``: :func:`_timed`;
    #: ``"bytes"``: what it and they add to its compute side's count (:func:`_kept`)
    memo: dict[Any, Any] = field(default_factory=dict)


def traffic_fields(chip: Chip) -> tuple[object, ...]:
    """The chip fields :func:`_traffic` reads beyond :func:`compute_fields`: the transfers'
    (``dram.transfer_fields``), the access latency and the DRAM's bandwidth in cycles."""
    return (*transfer_fields(chip), chip.dram_latency_cycles, chip.dram_bytes_per_cycle)


#: DRAMs kept per compute side before it starts again
_TRAFFIC_LIMIT = 16


def _traffic(p: Problem, chip: Chip, lay: Layout, comp: _Compute) -> _Traffic:
    """The DRAM traffic and timing bounds of every candidate on ``chip``'s DRAM, kept with
    the compute side ``comp`` per :func:`traffic_fields` (a sweep's chips that differ only
    in their buffers share it)."""
    kept = comp.memo.setdefault("traffic", {})
    key = traffic_fields(chip)
    hit = kept.get(key)
    if hit is not None:
        return hit
    lat = chip.dram_latency_cycles
    g = p.groups
    # the last tile on the usable array: exact unless a sub-array may beat it
    # (``exact_compute`` prices those, for the candidates that could win)
    compute, min_tile = comp.issue + comp.tail, comp.smallest
    tr = _transfers(lay, chip)
    w, i_t, o_t, sk_t, s_t = tr.weights, tr.inputs, tr.outputs, tr.skips, tr.psums
    post, last_post = comp.post, comp.last_post

    # the first tile's loads and the last tile's post-processing and store
    first_occ = tr.first_in + tr.first_w
    last_store = last_post + tr.last_out + lat if p.out_dram else last_post
    if lay.last_skip_bytes is not None:
        last_store = last_store + tr.last_skip + lat
    first_load = first_occ + np.where(first_occ > 0, lat, 0)  # (nothing to load: no wait)

    # order-dependent terms for all orders at once: shape (orders, *grid)
    w_mult, i_mult, s_rounds = lay.w_mult, lay.i_mult, lay.s_rounds
    alone = (w[0] * w_mult + i_t[0] * i_mult + o_t[0] + sk_t[0] + s_t[0] * s_rounds) * g
    transfers = (w[2] * w_mult + i_t[2] * i_mult + o_t[2] + sk_t[2] + s_t[2] * s_rounds) * g
    # each load holds a slot for its transfer, its latency and at least one tile's compute;
    # each output tile holds one from its first compute to the end of its store
    hold_w = (w[0] + w[2] * (lat + min_tile)) * w_mult * g
    hold_i = (i_t[0] + i_t[2] * (lat + min_tile)) * i_mult * g
    stores = (o_t[2] + s_t[2] * s_rounds // 2) * g
    hold_o = ((o_t[0] + sk_t[0] + s_t[0] * s_rounds) * g + post + stores * (lat + min_tile)
              + sk_t[2] * g * lat)  # a fused add's shortcut read: its transfer and latency
    streams = {"weight_bytes": w[1] * w_mult * g,
               "input_bytes": i_t[1] * i_mult * g + sk_t[1] * g,
               "output_bytes": o_t[1] * g, "psum_bytes": s_t[1] * s_rounds * g}
    # the DRAM's busy time: every burst over all channels (addresses interleave across
    # transfers, so the channels share the load evenly); each transfer alone still takes its
    # busiest channel's time (the slot holds above)
    dram = sum(streams.values())
    occupancy = busy_cycles(chip, dram)
    if len(kept) >= _TRAFFIC_LIMIT:
        _let_go_traffic(comp)
    busy = np.where(occupancy > 0, occupancy + lat, 0)
    base, floor = first_load + last_store, post - last_post
    serial = compute + post + alone + transfers * lat
    arrays = _frozen(compute, transfers, dram, occupancy, busy, hold_w, hold_i, hold_o,
                     first_load, last_store, base, floor, serial, *streams.values())
    counted = _kept(comp, *arrays)
    hit = kept[key] = _Traffic(
        compute=compute, transfers=transfers, streams=streams, dram=dram, occupancy=occupancy,
        busy=busy, hold_w=hold_w, hold_i=hold_i, hold_o=hold_o, first_load=first_load,
        first_weight=tr.first_w, first_weight_moved=tr.first_w_moved, last_store=last_store,
        base=base, floor=floor, serial=serial)
    hit.memo["bytes"] = counted  # (let go with it: ``_let_go_traffic``)
    return hit
