"""The explicit tile schedule of a mapping: one row per tile, in execution order.

The mapper prices tilings by class; this module enumerates the actual tiles (vectorised) so
the event engine can time them and the tests can check that both views agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.overlay.chip import Chip
from simulator.overlay.cost import (
    ceil_div,
    in_extent,
    input_tile_bytes,
    output_tile_bytes,
    ppu_cycles,
    psum_tile_bytes,
    skip_tile_bytes,
    tile_compute_cycles,
    tile_tail_cycles,
    weight_tile_bytes,
)
from simulator.overlay.mapping import Mapping
from simulator.overlay.problem import Problem, Unit

__all__ = ["TileSchedule", "build_schedule"]


@dataclass(frozen=True, slots=True)
class TileSchedule:
    """Per-tile arrays (length = tiles). Bytes are before burst rounding."""

    k: np.ndarray  # tile sizes: output channels, input channels, output pixels
    c: np.ndarray
    px: np.ndarray
    new_weight: np.ndarray  # this tile needs a new weight tile (takes a buffer slot)
    new_input: np.ndarray  # this tile needs a new input tile (may be 0 bytes: all padding)
    weight_bytes: np.ndarray  # loaded before this tile (0: still resident)
    input_bytes: np.ndarray
    psum_load_bytes: np.ndarray  # partial sums read back before this tile
    store_bytes: np.ndarray  # written after this tile (final outputs or spilled psums)
    skip_bytes: np.ndarray  # shortcut read by a fused residual add after this tile
    compute_cycles: np.ndarray
    post_cycles: np.ndarray  # post-processing of final outputs after this tile
    new_output: np.ndarray  # this tile starts an output tile (needs an output-buffer slot)
    output_done: np.ndarray  # this tile ends an output tile (store follows)
    weight_release: np.ndarray  # last tile that uses its weight tile
    input_release: np.ndarray

    def __len__(self) -> int:
        return len(self.compute_cycles)


def _changed(*ids: np.ndarray) -> np.ndarray:
    """True where a tile's operand differs from the previous tile's (always for the first)."""
    n = len(ids[0])
    out = np.zeros(n, dtype=bool)
    out[0] = True
    for a in ids:
        out[1:] |= a[1:] != a[:-1]
    return out


def _sizes(n: int, t: int) -> np.ndarray:
    starts = np.arange(0, n, t)
    return np.minimum(t, n - starts)


def build_schedule(p: Problem, chip: Chip, m: Mapping) -> TileSchedule:
    nk, nc = int(ceil_div(p.K, m.tk)), int(ceil_div(p.C, m.tc))
    row_starts = np.arange(0, p.OY, m.toy)
    col_starts = np.arange(0, p.OX, m.tox)
    rows, cols = _sizes(p.OY, m.toy), _sizes(p.OX, m.tox)
    in_rows = in_extent(row_starts, rows, kernel=p.FY, stride=p.stride, pad=p.pad, size=p.H)
    in_cols = in_extent(col_starts, cols, kernel=p.FX, stride=p.stride, pad=p.pad, size=p.W)
    per_frame = len(rows) * len(cols)
    npx = per_frame * p.frames  # the pixel loop runs over every frame's tiles
    trips = {"k": nk, "c": nc, "p": npx}
    shape = (p.groups, *(trips[name] for name in m.order))
    idx = np.indices(shape).reshape(len(shape), -1)
    g = idx[0]
    loop = {name: idx[i + 1] for i, name in enumerate(m.order)}
    ki, ci, pi = loop["k"], loop["c"], loop["p"]
    k = _sizes(p.K, m.tk)[ki]
    c = _sizes(p.C, m.tc)[ci]
    r, q = (pi % per_frame) // len(cols), pi % len(cols)
    px = rows[r] * cols[q]
    in_px = in_rows[r] * in_cols[q]

    # a stream kept on chip (weights resident, inputs from the previous layer's map) takes
    # no slots and moves nothing
    w_loads = bool(p.w_bits) and p.w_dram
    new_w = _changed(g, ki, ci) if w_loads else np.zeros(len(g), dtype=bool)
    new_i = ((_changed(g, ki, pi) if p.depthwise else _changed(g, ci, pi)) if p.in_dram
             else np.zeros(len(g), dtype=bool))
    new_o = _changed(g, ki, pi)
    end_o = np.append(new_o[1:], True)
    final = end_o & (ci == nc - 1)
    spill = end_o & ~final
    release_w = np.append(new_w[1:], True) if w_loads else np.zeros(len(g), dtype=bool)
    release_i = np.append(new_i[1:], True) if p.in_dram else np.zeros(len(g), dtype=bool)

    zero = np.zeros(len(g), dtype=np.int64)
    w_bytes = np.where(new_w, weight_tile_bytes(p, k, c), 0) if w_loads else zero
    i_bytes = np.where(new_i, input_tile_bytes(p, k if p.depthwise else c, in_px), 0)
    psum_in = np.where(new_o & (ci > 0), psum_tile_bytes(p, k, px), 0)
    store = np.where(final, output_tile_bytes(p, k, px) if p.out_dram else 0,
                     np.where(spill, psum_tile_bytes(p, k, px), 0))
    skip = np.where(final, skip_tile_bytes(p, k, px), 0) if p.skip_bits else zero
    compute = np.broadcast_to(tile_compute_cycles(p, chip, k, c, px), k.shape).astype(np.int64)
    # the last tile runs on the mapping's sub-array and adds the final skew and drain
    used = (m.rows, m.cols)
    compute[-1] = int(tile_compute_cycles(p, chip, k[-1], c[-1], px[-1], used=used)
                      + tile_tail_cycles(p, chip, k[-1], c[-1], px[-1], used=used))
    post = (np.where(final, ppu_cycles(p, chip, k, px), 0) if p.unit is not Unit.PPU
            else zero)
    return TileSchedule(
        k=k, c=c, px=px, new_weight=new_w, new_input=new_i, weight_bytes=w_bytes,
        input_bytes=i_bytes, psum_load_bytes=psum_in,
        store_bytes=store, skip_bytes=skip, compute_cycles=compute,
        post_cycles=post, new_output=new_o, output_done=end_o, weight_release=release_w,
        input_release=release_i,
    )
