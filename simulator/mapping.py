"""The mapper: a legal tiling and loop order per layer, priced exactly and chosen by objective.

A mapping tiles the per-group loops into ``tk`` output channels × ``tc`` input channels ×
``toy × tox`` output pixels and orders the three tile loops (``k``, ``c``, ``p``; the group
loop is outermost). A tile stays in its buffer while consecutive tiles reuse it; otherwise it
is fetched again. Partial sums spill to DRAM when the reduction loop is not innermost.

Every candidate is priced with the same closed forms the analytical engine reports: tile sizes
fall into a few classes per dimension (full tiles, the remainder tile, tiles clipped by the
image border), so the exact sums over all tiles are sums over classes, vectorised over all
candidates at once.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from simulator.chip import Chip, Dataflow, Objective
from simulator.cost import (
    ceil_div,
    in_extent,
    input_tile_bytes,
    output_tile_bytes,
    ppu_cycles,
    psum_tile_bytes,
    tile_compute_cycles,
    transfer,
    weight_tile_bytes,
)
from simulator.problem import Problem, Unit
from workloads.errors import ConfigError

__all__ = [
    "LOOP_ORDERS",
    "Mapping",
    "Totals",
    "choose_mapping",
    "evaluate",
    "multiplicity",
    "price",
]

LoopName = str  # "k" | "c" | "p"
LOOP_ORDERS: tuple[tuple[LoopName, ...], ...] = tuple(itertools.permutations(("k", "c", "p")))
_REL = {"w": ("k", "c"), "i": ("c", "p"), "i_dw": ("k", "p")}


@dataclass(frozen=True, slots=True)
class Mapping:
    """The chosen tiling and loop order of one layer (part of every result)."""

    unit: str
    dataflow: str
    tk: int
    tc: int
    toy: int
    tox: int
    order: tuple[str, ...]  # outer → inner, group loop outside
    tiles: int
    spills_psums: bool

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

    @property
    def dram_bytes(self) -> int:
        return self.weight_bytes + self.input_bytes + self.output_bytes + self.psum_bytes

    def lower_bound(self, latency: int) -> int:
        """Contention-free cycles, a lower bound of any schedule: the first load, then the
        compute (or the post-processing of all but the last tile, if longer), then the last
        tile's post-processing and store; or the DRAM's busy time; or the time the buffer slots
        must be held (each load holds a slot for its transfer, latency and one tile's compute)."""
        return max(self.first_load + max(self.compute_cycles, self.ppu_cycles - self.last_post)
                   + self.last_store, self.dram_occupancy + latency, self.slot_cycles)

    def bound(self, latency: int) -> str:
        """What limits the layer, the largest of its terms: ``compute`` (the unit), ``ppu``, or
        ``memory`` (DRAM bandwidth, latency behind too few slots, or the first load and last
        store that cannot overlap)."""
        memory = max(self.dram_occupancy + latency, self.slot_cycles,
                     self.first_load + self.last_store - self.last_post)
        terms = {"compute": self.compute_cycles, "ppu": self.ppu_cycles, "memory": memory}
        return max(terms, key=lambda k: terms[k])


def _pow2_candidates(n: int, unit: int = 1) -> list[int]:
    """Tile sizes tried for a dimension of ``n``: powers of two, ``unit`` (the array's column
    count) halved or doubled any number of times, and ``n`` itself. Halving keeps a doubled
    array's candidates a superset of the smaller array's, so more columns never lose a tile
    size."""
    out = {n}
    bases = {1} | {unit >> j for j in range(unit.bit_length()) if unit >> j}
    for base in bases:
        v = base
        while v < n:
            out.add(v)
            v *= 2
    return sorted(out)


@dataclass(frozen=True, slots=True)
class _PClasses:
    count: np.ndarray  # per class: number of pixel tiles
    out_px: np.ndarray
    in_px: np.ndarray
    n_tiles: int
    first_out: int  # the first pixel tile (top-left)
    first_in: int
    last_out: int  # the last pixel tile (bottom-right)
    last_in: int


def _pixel_axis(out_len: int, t: int, kernel: int, stride: int, pad: int,
                size: int) -> tuple[np.ndarray, np.ndarray]:
    starts = np.arange(0, out_len, t)
    lens = np.minimum(t, out_len - starts)
    return lens, in_extent(starts, lens, kernel=kernel, stride=stride, pad=pad, size=size)


def _pixel_classes(p: Problem, toy: int, tox: int) -> _PClasses:
    oy, iy = _pixel_axis(p.OY, toy, p.FY, p.stride, p.pad, p.H)
    ox, ix = _pixel_axis(p.OX, tox, p.FX, p.stride, p.pad, p.W)
    rows = Counter(zip(oy.tolist(), iy.tolist(), strict=True))
    cols = Counter(zip(ox.tolist(), ix.tolist(), strict=True))
    combos = [(nr * nc, o_r * o_c, i_r * i_c) for (o_r, i_r), nr in rows.items()
              for (o_c, i_c), nc in cols.items()]
    arr = np.array(combos, dtype=np.int64)
    return _PClasses(arr[:, 0], arr[:, 1], arr[:, 2], len(oy) * len(ox),
                     int(oy[0] * ox[0]), int(iy[0] * ix[0]), int(oy[-1] * ox[-1]),
                     int(iy[-1] * ix[-1]))


@dataclass(frozen=True, slots=True)
class _PTable:
    """Pixel-tile classes of many candidates, padded to one width (count 0 = no class)."""

    count: np.ndarray  # (n, classes)
    out_px: np.ndarray
    in_px: np.ndarray
    n_tiles: np.ndarray  # (n,)
    first_in: np.ndarray
    last_out: np.ndarray

    @classmethod
    def build(cls, classes: list[_PClasses]) -> _PTable:
        n, mp = len(classes), max(len(x.count) for x in classes)
        count = np.zeros((n, mp), dtype=np.int64)
        out_px = np.ones((n, mp), dtype=np.int64)
        in_px = np.ones((n, mp), dtype=np.int64)
        for i, x in enumerate(classes):
            m = len(x.count)
            count[i, :m], out_px[i, :m], in_px[i, :m] = x.count, x.out_px, x.in_px
        return cls(count, out_px, in_px, np.array([x.n_tiles for x in classes]),
                   np.array([x.first_in for x in classes]),
                   np.array([x.last_out for x in classes]))

    def take(self, idx: np.ndarray) -> _PTable:
        return _PTable(self.count[idx], self.out_px[idx], self.in_px[idx], self.n_tiles[idx],
                       self.first_in[idx], self.last_out[idx])


@lru_cache(maxsize=1024)
def _pixel_table(oy: int, ox: int, fy: int, fx: int, stride: int, pad: int, h: int,
                 w: int) -> _PTable:
    """Pixel-tile classes of every pixel-tile candidate of a layer geometry (shared by layers
    of equal geometry, whatever their channels)."""
    geometry = Problem("", Unit.ARRAY, 1, 1, 1, fy, fx, stride, pad, h, w, oy, ox, 1, 1, 1, 1,
                       1, 1, 1, 1, False, 1, 1, 0)
    return _PTable.build([_pixel_classes(geometry, toy, tox)
                          for toy, tox in _pixel_candidates(geometry)])


def _pixel_candidates(p: Problem) -> list[tuple[int, int]]:
    cands = [(toy, p.OX) for toy in _pow2_candidates(p.OY)]
    tox = p.OX
    while tox > 1:
        tox = (tox + 1) // 2
        cands.append((1, tox))
    return cands


def multiplicity(order: tuple[str, ...], rel: tuple[str, ...], trips: dict[str, np.ndarray]
                 ) -> np.ndarray:
    """How often each tile of an operand is fetched: once per iteration of the loops outside
    the innermost loop it depends on (loops of one trip do not count)."""
    shape = np.broadcast(*trips.values()).shape
    mult = np.ones(shape, dtype=np.int64)
    found = np.zeros(shape, dtype=bool)
    for i in (2, 1, 0):
        if order[i] not in rel:
            continue
        hit = (trips[order[i]] > 1) & ~found
        outer = np.ones(shape, dtype=np.int64)
        for j in range(i):
            if order[j] not in rel:
                outer = outer * trips[order[j]]
        mult = np.where(hit, outer, mult)
        found |= hit
    return mult


def spills(order: tuple[str, ...], trips: dict[str, np.ndarray]) -> np.ndarray:
    """Partial sums leave the chip when the reduction loop has a loop of >1 trip inside it."""
    ci = order.index("c")
    inner = np.zeros(np.broadcast(*trips.values()).shape, dtype=bool)
    for name in order[ci + 1:]:
        inner |= trips[name] > 1
    return (trips["c"] > 1) & inner


def _tables() -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The reuse rules above depend only on the order and on which loops have more than one
    trip (8 patterns), so tabulate them: which trip counts multiply each operand's fetches,
    and whether partial sums spill. Primes 2, 3, 5 stand for trips of k, c, p."""
    fetch = {rel: np.zeros((len(LOOP_ORDERS), 8, 3), dtype=bool) for rel in _REL}
    spill = np.zeros((len(LOOP_ORDERS), 8), dtype=bool)
    for o, order in enumerate(LOOP_ORDERS):
        for pat in range(8):
            trips = {"k": np.array(2 if pat & 4 else 1), "c": np.array(3 if pat & 2 else 1),
                     "p": np.array(5 if pat & 1 else 1)}
            for rel, loops in _REL.items():
                m = int(multiplicity(order, loops, trips))
                fetch[rel][o, pat] = (m % 2 == 0, m % 3 == 0, m % 5 == 0)
            spill[o, pat] = bool(spills(order, trips))
    return fetch, spill


_FETCH_LOOPS, _SPILLS = _tables()


def evaluate(p: Problem, chip: Chip, tk: np.ndarray, tc: np.ndarray, pt: _PTable,
             orders: tuple[tuple[str, ...], ...]) -> dict[str, np.ndarray]:
    """Exact totals for candidates ``(tk[i], tc[i], pixel tiling i)`` under each loop order:
    arrays of shape (len(orders), candidates)."""
    n = len(tk)
    lat = chip.dram_latency_cycles

    def dim_classes(sizes: np.ndarray, total: int) -> tuple[np.ndarray, np.ndarray]:
        # ≤ 2 classes per dimension: full tiles and the remainder
        cnt = np.zeros((n, 2), dtype=np.int64)
        sz = np.ones((n, 2), dtype=np.int64)
        full = total // sizes
        rem = total - full * sizes
        cnt[:, 0], sz[:, 0] = full, sizes
        cnt[:, 1], sz[:, 1] = (rem > 0).astype(np.int64), np.where(rem > 0, rem, 1)
        return cnt, sz

    kc, ks = dim_classes(tk, p.K)
    cc, cs = dim_classes(tc, p.C)
    pc, pout, pin = pt.count, pt.out_px, pt.in_px
    nk = ceil_div(p.K, tk)
    nc = ceil_div(p.C, tc)
    npx = pt.n_tiles
    g = p.groups

    # compute: all (k, c, p) class combinations
    k3, c3, p3 = ks[:, :, None, None], cs[:, None, :, None], pout[:, None, None, :]
    cnt3 = kc[:, :, None, None] * cc[:, None, :, None] * pc[:, None, None, :]
    per_tile = tile_compute_cycles(p, chip, k3, c3, p3)
    compute = (cnt3 * per_tile).sum(axis=(1, 2, 3)) * g
    min_tile = np.where(cnt3 > 0, per_tile, np.iinfo(np.int64).max).min(axis=(1, 2, 3))

    # operand traffic: sums over each operand's own tiles (times a fetch multiplicity below)
    def traffic(cnt: np.ndarray, nbytes: np.ndarray) -> tuple[np.ndarray, ...]:
        occ, moved = transfer(chip, nbytes)
        live = (cnt > 0) & (nbytes > 0)
        return ((cnt * occ).sum(axis=(1, 2)), (cnt * moved).sum(axis=(1, 2)),
                (cnt * live).sum(axis=(1, 2)))

    zeros = np.zeros(n, dtype=np.int64)
    w = (traffic(kc[:, :, None] * cc[:, None, :],
                 weight_tile_bytes(p, ks[:, :, None], cs[:, None, :]))
         if p.w_bits else (zeros, zeros, zeros))
    if p.depthwise:
        i_t = traffic(kc[:, :, None] * pc[:, None, :],
                      input_tile_bytes(p, ks[:, :, None], pin[:, None, :]))
    else:
        i_t = traffic(cc[:, :, None] * pc[:, None, :],
                      input_tile_bytes(p, cs[:, :, None], pin[:, None, :]))
    kp_cnt = kc[:, :, None] * pc[:, None, :]
    o_t = traffic(kp_cnt, output_tile_bytes(p, ks[:, :, None], pout[:, None, :]))
    s_t = traffic(kp_cnt, psum_tile_bytes(p, ks[:, :, None], pout[:, None, :]))
    post = zeros if p.unit is Unit.PPU else \
        (kp_cnt * ppu_cycles(p, chip, ks[:, :, None], pout[:, None, :])).sum(axis=(1, 2)) * g

    # the first tile's loads and the last tile's post-processing and store
    k0, c0 = ks[:, 0], cs[:, 0]
    first_in = pt.first_in
    first_occ = transfer(chip, input_tile_bytes(p, k0 if p.depthwise else c0, first_in))[0]
    if p.w_bits:
        first_occ = first_occ + transfer(chip, weight_tile_bytes(p, k0, c0))[0]
    k_last = np.where(kc[:, 1] > 0, ks[:, 1], ks[:, 0])
    last_out = pt.last_out
    last_post = zeros if p.unit is Unit.PPU else ppu_cycles(p, chip, k_last, last_out)
    last_store = last_post + transfer(chip, output_tile_bytes(p, k_last, last_out))[0] + lat
    first_load = first_occ + lat

    slots = {"w": chip.weight_buffer.slots, "i": chip.input_buffer.slots,
             "o": chip.output_buffer.slots}
    # order-dependent terms for all orders at once: shape (orders, candidates)
    rows = np.array([LOOP_ORDERS.index(o) for o in orders])
    pattern = (nk > 1) * 4 + (nc > 1) * 2 + (npx > 1)

    def fetches(rel: str) -> np.ndarray:
        e = _FETCH_LOOPS[rel][rows][:, pattern]  # which trip counts multiply the fetches
        return (np.where(e[..., 0], nk, 1) * np.where(e[..., 1], nc, 1)
                * np.where(e[..., 2], npx, 1))

    w_mult = fetches("w") if p.w_bits else np.ones((len(orders), n), dtype=np.int64)
    i_mult = fetches("i_dw" if p.depthwise else "i")
    spill = _SPILLS[rows][:, pattern]
    s_rounds = np.where(spill, 2 * (nc - 1), 0)  # written and read back nc-1 times
    occupancy = (w[0] * w_mult + i_t[0] * i_mult + o_t[0] + s_t[0] * s_rounds) * g
    transfers = (w[2] * w_mult + i_t[2] * i_mult + o_t[2] + s_t[2] * s_rounds) * g
    # each load holds a slot for its transfer, its latency and at least one tile's compute;
    # each output tile holds one from its first compute to the end of its store
    hold_w = (w[0] + w[2] * (lat + min_tile)) * w_mult * g
    hold_i = (i_t[0] + i_t[2] * (lat + min_tile)) * i_mult * g
    stores = (o_t[2] + s_t[2] * s_rounds // 2) * g
    hold_o = (o_t[0] + s_t[0] * s_rounds) * g + post + stores * (lat + min_tile)
    slot = np.maximum(np.maximum(ceil_div(hold_w, slots["w"]), ceil_div(hold_i, slots["i"])),
                      ceil_div(hold_o, slots["o"]))
    out = {
        "compute": compute, "post": post, "weight_bytes": w[1] * w_mult * g,
        "input_bytes": i_t[1] * i_mult * g, "output_bytes": o_t[1] * g,
        "psum_bytes": s_t[1] * s_rounds * g, "occupancy": occupancy,
        "transfers": transfers, "first_load": first_load, "last_post": last_post,
        "last_store": last_store, "slot": slot,
        "serial": compute + post + occupancy + transfers * lat, "spill": spill,
        "tiles": nk * nc * npx * g,
        "cycles": np.maximum(np.maximum(
            first_load + np.maximum(compute, post - last_post) + last_store,
            occupancy + lat), slot),
    }
    shape = (len(orders), n)
    return {k: np.broadcast_to(v, shape) for k, v in out.items()}


def _fits(p: Problem, chip: Chip, tk: np.ndarray, tc: np.ndarray, toy: np.ndarray,
          tox: np.ndarray, spill_or_split: np.ndarray) -> dict[str, np.ndarray]:
    """Bits each buffer slot must hold for the largest tile, per candidate."""
    in_rows = (toy - 1) * p.stride + p.FY
    in_cols = (tox - 1) * p.stride + p.FX
    in_rows, in_cols = np.minimum(in_rows, p.H + 2 * p.pad), np.minimum(in_cols, p.W + 2 * p.pad)
    ch = tk if p.depthwise else tc
    need_in = ch * in_rows * in_cols * p.a_bits * p.operands
    need_w = tk * tc * p.FY * p.FX * p.w_bits
    psum = spill_or_split | (chip.dataflow is not Dataflow.OUTPUT_STATIONARY
                             and p.unit is Unit.ARRAY)
    need_out = tk * toy * tox * np.where(psum, p.acc_bits, p.out_bits)
    return {"input": need_in, "weight": need_w, "output": need_out}


def choose_mapping(p: Problem, chip: Chip) -> tuple[Mapping, Totals]:
    """The best legal mapping of ``p`` on ``chip`` and its exact totals.

    Raises :class:`ConfigError` naming the layer, the buffer and the size needed when not
    even the smallest tile fits. Layers of equal shape share one search (cached).
    """
    try:
        return _choose(dataclasses.replace(p, name=""), chip)
    except ConfigError as err:
        raise ConfigError(err.message.replace("layer ''", f"layer '{p.name}'"),
                          file=err.file, key=err.key, value=err.value,
                          has_value=err.value is not None) from None


@lru_cache(maxsize=4096)
def _choose(p: Problem, chip: Chip) -> tuple[Mapping, Totals]:
    col_unit = chip.pe_array.cols if (p.unit is Unit.ARRAY and chip.dataflow is not
                                      Dataflow.INPUT_STATIONARY) else 1
    k_cands = _pow2_candidates(p.K, col_unit)
    c_cands = [1] if p.depthwise else _pow2_candidates(p.C)
    px_cands = _pixel_candidates(p)
    ptable = _pixel_table(p.OY, p.OX, p.FY, p.FX, p.stride, p.pad, p.H, p.W)
    grid = np.indices((len(k_cands), len(c_cands), len(px_cands))).reshape(3, -1).T
    tk = np.array(k_cands, dtype=np.int64)[grid[:, 0]]
    tc = np.array(c_cands, dtype=np.int64)[grid[:, 1]]
    toy = np.array([x[0] for x in px_cands], dtype=np.int64)[grid[:, 2]]
    tox = np.array([x[1] for x in px_cands], dtype=np.int64)[grid[:, 2]]
    split = ceil_div(p.C, tc) > 1
    need = _fits(p, chip, tk, tc, toy, tox, split)
    caps = {"input": chip.input_buffer.tile_bits, "weight": chip.weight_buffer.tile_bits,
            "output": chip.output_buffer.tile_bits}
    ok = np.ones(len(tk), dtype=bool)
    for name, bits in need.items():
        ok &= bits <= caps[name]
    if not ok.any():
        _raise_unmappable(p, chip, need, caps)
    sel = np.flatnonzero(ok)
    tk, tc, toy, tox = tk[sel], tc[sel], toy[sel], tox[sel]
    pt = ptable.take(grid[sel, 2])

    orders = LOOP_ORDERS if not p.depthwise else (("k", "c", "p"),)
    ev = evaluate(p, chip, tk, tc, pt, orders)
    dram = ev["weight_bytes"] + ev["input_bytes"] + ev["output_bytes"] + ev["psum_bytes"]
    keys = ((ev["cycles"], dram, ev["tiles"]) if chip.objective is Objective.LATENCY
            else (dram, ev["cycles"], ev["tiles"]))
    # lexsort is stable: among equals, the earlier order and the earlier candidate win
    o, i = divmod(int(np.lexsort(tuple(k.ravel() for k in reversed(keys)))[0]), len(tk))
    order = orders[o]
    mapping = Mapping(
        unit=p.unit.value, dataflow=chip.dataflow.value if p.unit is Unit.ARRAY else p.unit.value,
        tk=int(tk[i]), tc=int(tc[i]), toy=int(toy[i]), tox=int(tox[i]), order=order,
        tiles=int(ev["tiles"][o, i]), spills_psums=bool(ev["spill"][o, i]),
    )
    totals = _totals(ev, o, i)
    return mapping, totals


def _raise_unmappable(p: Problem, chip: Chip, need: dict[str, np.ndarray],
                      caps: dict[str, int]) -> None:
    for name in ("weight", "input", "output"):
        smallest = int(need[name].min())
        if smallest > caps[name]:
            spec = {"input": chip.input_buffer, "weight": chip.weight_buffer,
                    "output": chip.output_buffer}[name]
            factor = spec.slots
            kib = smallest * factor / 8192
            raise ConfigError(
                f"layer '{p.name}' cannot be mapped: its smallest tile needs {smallest} bits in "
                f"the {name} buffer, which holds {caps[name]} bits per slot; set "
                f"buffers.{name}.size_kib ≥ {kib:.4g}"
                + (" (double-buffered)" if factor == 2 else ""),
                file=chip.source or chip.name, key=f"buffers.{name}.size_kib",
                value=spec.size_kib, has_value=True,
            )
    raise ConfigError(f"layer '{p.name}' cannot be mapped: no tile fits all three buffers "
                      "at once; enlarge the buffers", file=chip.source or chip.name)


def _totals(ev: dict[str, np.ndarray], o: int, i: int) -> Totals:
    def at(key: str) -> int:
        return int(ev[key][o, i])

    return Totals(
        compute_cycles=at("compute"), ppu_cycles=at("post"), weight_bytes=at("weight_bytes"),
        input_bytes=at("input_bytes"), output_bytes=at("output_bytes"),
        psum_bytes=at("psum_bytes"), dram_occupancy=at("occupancy"),
        transfers=at("transfers"), first_load=at("first_load"), last_post=at("last_post"),
        last_store=at("last_store"), slot_cycles=at("slot"), serial_cycles=at("serial"),
    )


def price(p: Problem, chip: Chip, *, tk: int, tc: int, toy: int, tox: int,
          order: tuple[str, ...] = ("k", "c", "p")) -> tuple[Mapping, Totals]:
    """Exact totals of one given tiling (what-if mappings; the tests' hand derivations).

    Raises :class:`ConfigError` when the tiles do not fit the buffers.
    """
    if sorted(order) != ["c", "k", "p"]:
        raise ConfigError("loop order must be a permutation of k, c, p", key="order",
                          value=order, has_value=True)
    for name, value, top in (("tk", tk, p.K), ("tc", tc, p.C), ("toy", toy, p.OY),
                             ("tox", tox, p.OX)):
        if not 1 <= value <= top:
            raise ConfigError(f"must be in [1, {top}]", key=name, value=value, has_value=True)
    arr = [np.array([v], dtype=np.int64) for v in (tk, tc, toy, tox)]
    need = _fits(p, chip, arr[0], arr[1], arr[2], arr[3], ceil_div(p.C, arr[1]) > 1)
    caps = {"input": chip.input_buffer.tile_bits, "weight": chip.weight_buffer.tile_bits,
            "output": chip.output_buffer.tile_bits}
    for name, bits in need.items():
        if int(bits[0]) > caps[name]:
            raise ConfigError(f"the tile needs {int(bits[0])} bits in the {name} buffer, which "
                              f"holds {caps[name]} per slot", key=f"buffers.{name}")
    pt = _PTable.build([_pixel_classes(p, toy, tox)])
    ev = evaluate(p, chip, arr[0], arr[1], pt, (order,))
    mapping = Mapping(
        unit=p.unit.value, dataflow=chip.dataflow.value if p.unit is Unit.ARRAY else p.unit.value,
        tk=tk, tc=tc, toy=toy, tox=tox, order=order, tiles=int(ev["tiles"][0, 0]),
        spills_psums=bool(ev["spill"][0, 0]),
    )
    return mapping, _totals(ev, 0, 0)
