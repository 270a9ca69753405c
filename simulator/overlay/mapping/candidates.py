"""Which tilings the mapper tries, their pixel-tile classes, and whether they fit the buffers.

Tile sizes fall into a few classes per dimension (full tiles, the remainder tile, tiles clipped
by the image border), so exact sums over all tiles are sums over classes — vectorised over all
candidates at once by the pricing stage.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from simulator.overlay.chip import Chip
from simulator.overlay.cost import in_extent, psums_outside_pes
from simulator.overlay.problem import Problem, Unit

__all__ = [
    "BufferNeeds",
    "Candidates",
    "PixelClasses",
    "PixelTable",
    "buffer_needs",
    "enumerate_candidates",
    "pixel_classes",
    "pow2_candidates",
]


def pow2_candidates(n: int, unit: int = 1) -> list[int]:
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
class PixelClasses:
    """The pixel tiles of one ``toy × tox`` tiling, grouped by (output, input) pixel count."""

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


def pixel_classes(p: Problem, toy: int, tox: int) -> PixelClasses:
    oy, iy = _pixel_axis(p.OY, toy, p.FY, p.stride, p.pad, p.H)
    ox, ix = _pixel_axis(p.OX, tox, p.FX, p.stride, p.pad, p.W)
    rows = Counter(zip(oy.tolist(), iy.tolist(), strict=True))
    cols = Counter(zip(ox.tolist(), ix.tolist(), strict=True))
    combos = [(nr * nc, o_r * o_c, i_r * i_c) for (o_r, i_r), nr in rows.items()
              for (o_c, i_c), nc in cols.items()]
    arr = np.array(combos, dtype=np.int64)
    return PixelClasses(arr[:, 0], arr[:, 1], arr[:, 2], len(oy) * len(ox),
                        int(oy[0] * ox[0]), int(iy[0] * ix[0]), int(oy[-1] * ox[-1]),
                        int(iy[-1] * ix[-1]))


@dataclass(frozen=True, slots=True)
class PixelTable:
    """Pixel-tile classes of many candidates, padded to one width (count 0 = no class)."""

    count: np.ndarray  # (n, classes)
    out_px: np.ndarray
    in_px: np.ndarray
    n_tiles: np.ndarray  # (n,)
    first_in: np.ndarray
    last_out: np.ndarray

    @classmethod
    def build(cls, classes: list[PixelClasses]) -> PixelTable:
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

    def take(self, idx: np.ndarray) -> PixelTable:
        return PixelTable(self.count[idx], self.out_px[idx], self.in_px[idx],
                          self.n_tiles[idx], self.first_in[idx], self.last_out[idx])

    def grid(self) -> PixelTable:
        """The same table shaped for the candidates' grid: (1, 1, P[, classes])."""
        return PixelTable(self.count[None, None], self.out_px[None, None],
                          self.in_px[None, None], self.n_tiles[None, None],
                          self.first_in[None, None], self.last_out[None, None])

    def times(self, frames: int) -> PixelTable:
        """The same tiles for each of ``frames`` frames (a tile never spans two)."""
        if frames == 1:
            return self
        return PixelTable(self.count * frames, self.out_px, self.in_px, self.n_tiles * frames,
                          self.first_in, self.last_out)


def _pixel_candidates(p: Problem) -> list[tuple[int, int]]:
    cands = [(toy, p.OX) for toy in pow2_candidates(p.OY)]
    tox = p.OX
    while tox > 1:
        tox = (tox + 1) // 2
        cands.append((1, tox))
    return cands


@lru_cache(maxsize=1024)
def _pixel_table(oy: int, ox: int, fy: int, fx: int, stride: int, pad: int, h: int,
                 w: int) -> PixelTable:
    """Pixel-tile classes of every pixel-tile candidate of a layer geometry (shared by layers
    of equal geometry, whatever their channels)."""
    geometry = Problem("", Unit.ARRAY, 1, 1, 1, fy, fx, stride, pad, h, w, oy, ox, 1, 1, 1, 1,
                       1, 1, 1, 1, 1, False, 1, 1, 0)
    return PixelTable.build([pixel_classes(geometry, toy, tox)
                             for toy, tox in _pixel_candidates(geometry)])


@dataclass(frozen=True, slots=True)
class Candidates:
    """Candidate tilings: the grid of every output-channel tile ``tk`` (shape (K, 1, 1)) ×
    reduction tile ``tc`` (1, C, 1) × pixel tile ``toy × tox`` (1, 1, P), with the pixel
    tiles' classes (:class:`PixelTable`, fields shaped (1, 1, P[, classes])). A candidate is a
    cell of the grid; arrays priced over it broadcast to (K, C, P), and a candidate's index is
    its cell's position in that shape, k outermost."""

    tk: np.ndarray
    tc: np.ndarray
    toy: np.ndarray
    tox: np.ndarray
    pixels: PixelTable

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.tk.shape[0], self.tc.shape[1], self.toy.shape[2])

    def __len__(self) -> int:
        k, c, p = self.shape
        return k * c * p

    def cell(self, i: int) -> tuple[int, int, int]:
        """The grid cell of candidate ``i``."""
        a, b, c = np.unravel_index(i, self.shape)
        return int(a), int(b), int(c)

    def tiling(self, i: int) -> tuple[int, int, int, int]:
        """(tk, tc, toy, tox) of candidate ``i``."""
        a, b, c = self.cell(i)
        return (int(self.tk[a, 0, 0]), int(self.tc[0, b, 0]), int(self.toy[0, 0, c]),
                int(self.tox[0, 0, c]))

    @classmethod
    def single(cls, p: Problem, tk: int, tc: int, toy: int, tox: int) -> Candidates:
        def one(v: int) -> np.ndarray:
            return np.full((1, 1, 1), v, dtype=np.int64)

        return cls(one(tk), one(tc), one(toy), one(tox),
                   PixelTable.build([pixel_classes(p, toy, tox)]).times(p.frames).grid())


def enumerate_candidates(p: Problem, k_unit: int) -> Candidates:
    """Every tiling tried for ``p``: power-of-two (and ``k_unit``-multiple: the array's
    favoured output-channel tile, :func:`~simulator.overlay.cost.k_tile_unit`) channel tiles
    × row bands and column strips of pixels, as a grid (:class:`Candidates`)."""
    k_cands = pow2_candidates(p.K, k_unit)
    c_cands = [1] if p.depthwise else pow2_candidates(p.C)
    px_cands = _pixel_candidates(p)
    ptable = _pixel_table(p.OY, p.OX, p.FY, p.FX, p.stride, p.pad, p.H, p.W)
    # a fused pooling needs whole windows in a tile: rows and columns in multiples of its side
    k = p.pool_k
    keep = np.array([j for j, (toy, tox) in enumerate(px_cands)
                     if (toy % k == 0 or toy == p.OY) and (tox % k == 0 or tox == p.OX)],
                    dtype=np.int64)
    return Candidates(
        tk=np.array(k_cands, dtype=np.int64).reshape(-1, 1, 1),
        tc=np.array(c_cands, dtype=np.int64).reshape(1, -1, 1),
        toy=np.array([x[0] for x in px_cands], dtype=np.int64)[keep].reshape(1, 1, -1),
        tox=np.array([x[1] for x in px_cands], dtype=np.int64)[keep].reshape(1, 1, -1),
        pixels=ptable.take(keep).times(p.frames).grid(),
    )


@dataclass(frozen=True, slots=True)
class BufferNeeds:
    """Bits one slot of each buffer must hold for each candidate's largest tile."""

    input: np.ndarray
    weight: np.ndarray
    output: np.ndarray

    def fits(self, chip: Chip) -> np.ndarray:
        return ((self.input <= chip.input_buffer.tile_bits)
                & (self.weight <= chip.weight_buffer.tile_bits)
                & (self.output <= chip.output_buffer.tile_bits))


def buffer_needs(p: Problem, chip: Chip, c: Candidates) -> BufferNeeds:
    """What each candidate's largest tile needs in each buffer (partial sums at accumulator
    width when the reduction is split or the dataflow keeps them outside the PEs)."""
    in_rows = (c.toy - 1) * p.stride + p.FY
    in_cols = (c.tox - 1) * p.stride + p.FX
    in_rows, in_cols = np.minimum(in_rows, p.H + 2 * p.pad), np.minimum(in_cols, p.W + 2 * p.pad)
    ch = c.tk if p.depthwise else c.tc
    split = -(-p.C // c.tc) > 1  # (the candidates' grid: each need on its own axes)
    psum = split | psums_outside_pes(p, chip)
    return BufferNeeds(
        input=ch * in_rows * in_cols * p.a_bits * p.operands,
        weight=c.tk * c.tc * p.FY * p.FX * p.w_bits,
        output=c.tk * c.toy * c.tox * np.where(psum, p.acc_bits, p.out_bits),
    )
