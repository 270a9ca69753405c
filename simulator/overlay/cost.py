"""Pure cost functions: cycles of a tile on each unit and tile sizes in bytes (the DRAM's
transfer time is in ``dram.py``, beside its event model).

Everything here is vectorised over numpy arrays of tile sizes, so the mapper can price every
candidate tiling at once and the engines can price every tile of a schedule at once.

Array timing follows the systolic model of SCALE-Sim (Samajdar et al., ISPASS 2020): a fold
that uses ``r`` rows and ``c`` columns for ``T`` temporal steps takes ``2r + c + T − 2``
cycles (operands skewed in, results drained). The XNOR PE consumes ``lane_bits`` reduction
elements per step; multi-bit operands repeat the step per bit-plane pair (bit-serial).
Rows or columns that the buffer ports cannot feed every step are left idle.
"""

from __future__ import annotations

import numpy as np

from simulator.overlay.chip import Chip, Dataflow, FoldTiming
from simulator.overlay.pe_types import INT8_UNIT
from simulator.overlay.problem import Problem, Unit

__all__ = [
    "array_cycles",
    "ceil_div",
    "effective_array",
    "in_extent",
    "input_tile_bytes",
    "k_tile_unit",
    "output_tile_bytes",
    "ppu_cycles",
    "psum_tile_bytes",
    "psums_outside_pes",
    "skip_tile_bytes",
    "sub_arrays",
    "tile_compute_cycles",
    "tile_tail_cycles",
    "weight_tile_bytes",
]

Int = np.ndarray | int


def ceil_div(a: Int, b: Int) -> np.ndarray:
    return -(-np.asarray(a, dtype=np.int64) // np.asarray(b, dtype=np.int64))


def _systolic(s_r: Int, s_c: Int, t: Int, rows: Int, cols: Int, *, pipelined: bool,
              drain_in_skew: bool = False, repeats: Int = 1, held_bits: int = 0,
              port_bits: int = 1, tail: bool = False) -> np.ndarray:
    """Cycles to map an ``s_r × s_c`` spatial extent with ``t`` steps onto a rows × cols array,
    ``repeats`` times (bit-plane passes).

    Every fold takes ``t`` steps, ``r − 1 + c − 1`` cycles of operand skew and ``d`` cycles
    to move its stationary side — ``held_bits`` per PE (the accumulators drained under
    output-stationary, the operands preloaded under weight- and input-stationary) through a
    ``port_bits``-wide port, never fewer than the ``r`` cycles of shifting them along the
    columns: ``d = max(r, ⌈r·c·held_bits / port_bits⌉)``.

    ``pipelined=False`` is SCALE-Sim 3.0's convention, measured against it
    (docs/scalesim.md): folds one after another, each padded to the whole array (``r, c`` =
    ``rows, cols``), ``2R + C + t − 2`` per fold — or ``R + C + t − 2`` under output-stationary
    (``drain_in_skew``: its drain overlaps the skew), plus any time the port adds beyond ``R``.

    ``pipelined=True`` overlaps consecutive folds — within a tile and across tiles (shadow
    accumulators, double-buffered stationary registers) — and a fold uses only the rows and
    columns it needs, the extent split evenly over the folds: fold ``f`` occupies the array's
    edge for ``max(t, r_f, r_f·c_f·held_bits / port_bits)`` cycles (the port streams across
    folds; the tile's sum is rounded up once); this returns that issue time, and with
    ``tail=True`` what the tile's last fold adds after it (its skew and move,
    ``r + c − 2 + t + d − max(t, d)``), which a layer pays once, after its last tile
    (docs/simulator.md derives it).
    """
    s_r, s_c, t, repeats = (np.asarray(x, dtype=np.int64) for x in (s_r, s_c, t, repeats))
    nfr, nfc = ceil_div(s_r, rows), ceil_div(s_c, cols)

    def move(r: Int, c: Int) -> np.ndarray:
        return np.maximum(r, ceil_div(np.asarray(r) * c * held_bits, port_bits))

    if not pipelined:
        if tail:
            return np.zeros(np.broadcast(s_r, s_c, t).shape, dtype=np.int64)
        d = move(rows, cols)
        fold = rows + cols - 2 + t + (d - rows if drain_in_skew else d)
        return repeats * nfr * nfc * fold
    # balanced folds: the extent splits into nfr (nfc) folds of q or q + 1 rows (columns) —
    # never a full fold and a sliver, which would pay t twice for little work
    qr, er = s_r // nfr, s_r % nfr
    qc, ec = s_c // nfc, s_c % nfc
    if tail:  # the last fold is one of the smallest
        d_last = move(qr, qc)
        return qr + qc - 2 + t + d_last - np.maximum(t, d_last)
    shapes = ((er * ec, qr + 1, qc + 1), (er * (nfc - ec), qr + 1, qc),
              ((nfr - er) * ec, qr, qc + 1), ((nfr - er) * (nfc - ec), qr, qc))
    # The port streams the stationary side continuously (the registers are double-buffered),
    # so a fold whose move outlasts its steps and its shift takes r·c·held / port cycles,
    # rounded once per tile rather than per fold: a wider array's fewer, larger folds never
    # waste more port cycles than a narrower one's.
    if not np.any((qr + 1) * (qc + 1) * held_bits > np.maximum(t, qr) * port_bits):
        # no fold is port-bound (the usual case): each issues in max(t, r) cycles
        return repeats * sum(n * np.maximum(t, r) for n, r, _ in shapes)
    whole = np.zeros(np.broadcast(s_r, s_c, t).shape, dtype=np.int64)
    bits = np.zeros_like(whole)
    for n, r, c in shapes:
        base = np.maximum(t, r)
        moved = r * c * held_bits
        port_bound = moved > base * port_bits
        whole = whole + n * np.where(port_bound, 0, base)
        bits = bits + n * np.where(port_bound, moved, 0)
    return repeats * whole + ceil_div(repeats * bits, port_bits)


def effective_array(p: Problem, chip: Chip) -> tuple[int, int, int]:
    """(rows, cols, cycles per step) the buffer ports can feed under the chip's dataflow.

    A row (column) needs one operand word per step from its buffer port; rows beyond what the
    port delivers would idle, so the mapping does not use them. A port narrower than one word
    stretches every step.
    """
    (r_bits, r_port), (c_bits, c_port) = _feeds(p, chip)
    rows = max(1, min(chip.pe_array.rows, r_port // r_bits))
    cols = max(1, min(chip.pe_array.cols, c_port // c_bits))
    stretch = max(-(-r_bits // r_port), -(-c_bits // c_port), 1)
    return rows, cols, stretch


def _feeds(p: Problem, chip: Chip) -> tuple[tuple[int, int], tuple[int, int]]:
    """((bits per row per step, the port feeding rows), (the same for columns))."""
    pin, pw, pout = (chip.input_buffer.port_bits, chip.weight_buffer.port_bits,
                     chip.output_buffer.port_bits)
    df = chip.dataflow
    if df is Dataflow.OUTPUT_STATIONARY:  # inputs stream into rows, weights into columns
        return (p.a_word_bits, pin), (p.w_word_bits, pw)
    if df is Dataflow.WEIGHT_STATIONARY:  # inputs into rows, partial sums out of columns
        return (p.a_word_bits, pin), (p.acc_bits, pout)
    return (p.w_word_bits, pw), (p.acc_bits, pout)  # input stationary: weights into rows


def _port_fed(p: Problem, chip: Chip) -> tuple[int, int]:
    """(rows, cols) the buffer ports alone could feed (the array's size aside)."""
    (r_bits, r_port), (c_bits, c_port) = _feeds(p, chip)
    return max(1, r_port // r_bits), max(1, c_port // c_bits)


def sub_arrays(p: Problem, chip: Chip) -> list[tuple[int, int]]:
    """The (rows, cols) a layer's last tile may use, the usable array first. A bigger array
    has a longer pipeline: the final skew and drain it adds can cost more, on a layer of few
    steps, than its extra PEs save; so a pipelined array may run the last tile on a sub-array.
    Its rows are the array's rows or the rows the port can feed (whichever is fewer: the
    usable rows), or either of them halved any number of times, up to the usable rows; the
    same for columns. The choices of a chip with twice the rows, or a port twice as wide,
    include all of the smaller one's, so neither adds cycles (every other tile's folds only
    merge, which never costs more). SCALE-Sim's per-fold convention pads every fold to the
    whole array."""
    rows, cols, _ = effective_array(p, chip)
    if p.unit is not Unit.ARRAY or chip.pe_array.fold_timing is not FoldTiming.PIPELINED:
        return [(rows, cols)]
    fed_r, fed_c = _port_fed(p, chip)

    def choices(usable: int, size: int, fed: int) -> list[int]:
        rest = {n for n in (*_halvings(size), *_halvings(fed)) if n < usable}
        return [usable, *sorted(rest, reverse=True)]

    col_choices = choices(cols, chip.pe_array.cols, fed_c)
    return [(r, c) for r in choices(rows, chip.pe_array.rows, fed_r) for c in col_choices]


def _halvings(n: int) -> list[int]:
    out = [n]
    while n > 1:
        n //= 2
        out.append(n)
    return out


def array_cycles(p: Problem, chip: Chip, k: Int, c: Int, px: Int, *, tail: bool = False,
                 used: tuple[Int, Int] | None = None) -> np.ndarray:
    """Cycles of one tile of ``k`` output channels × ``c`` input channels × ``px`` output
    pixels on the PE array under the chip's dataflow, on the sub-array ``used`` (rows, cols;
    default: all the ports can feed). With ``tail=True``: what a layer whose last tile this
    is adds after it (see :func:`_systolic`)."""
    rows, cols, stretch = effective_array(p, chip)
    if used is not None:
        rows, cols = used  # type: ignore[assignment]
    words = p.words(c)  # one pass's reduction in PE words
    df = chip.dataflow
    pipelined = chip.pe_array.fold_timing is FoldTiming.PIPELINED
    if df is Dataflow.OUTPUT_STATIONARY:  # rows ← pixels, cols ← filters, time ← reduction
        # the accumulators drain through the output port
        return _systolic(px, k, words * p.passes * stretch, rows, cols, pipelined=pipelined,
                         drain_in_skew=True, held_bits=p.acc_bits,
                         port_bits=chip.output_buffer.port_bits, tail=tail)
    if df is Dataflow.WEIGHT_STATIONARY:  # rows ← reduction, cols ← filters, time ← pixels
        # each weight-plane pass preloads its weight words through the weight port
        return _systolic(words, k, np.asarray(px) * p.a_passes * stretch, rows, cols,
                         pipelined=pipelined, repeats=p.w_passes, held_bits=p.w_word_bits,
                         port_bits=chip.weight_buffer.port_bits, tail=tail)
    # input stationary: rows ← reduction, cols ← pixels, time ← filters; inputs preload
    return _systolic(words, px, np.asarray(k) * p.w_passes * stretch, rows, cols,
                     pipelined=pipelined, repeats=p.a_passes, held_bits=p.a_word_bits,
                     port_bits=chip.input_buffer.port_bits, tail=tail)


def ppu_cycles(p: Problem, chip: Chip, k: Int, px: Int) -> np.ndarray:
    """Post-processing of ``k × px`` outputs: after a MAC tile ``post_ops`` per output (the
    threshold compare or requantisation, the unsigned-activation correction, binary-base
    scales); on pool / add layers ``window`` inputs combined per output (plus an average's
    divide)."""
    if p.unit is Unit.PPU:
        return ceil_div(np.asarray(k) * px * (p.window + p.post_mults), chip.ppu_lanes)
    work = np.asarray(k) * px * p.post_ops
    if p.pool_k > 1:  # a fused pooling: each output joins its window; an average divides
        work = work + np.asarray(k) * px + (ceil_div(np.asarray(k) * px, p.pool_k ** 2)
                                            if p.pool_avg else 0)
    return ceil_div(work, chip.ppu_lanes)


def k_tile_unit(p: Problem, chip: Chip) -> int:
    """The output-channel tile size the array's columns favour (their count, unless columns
    hold pixels as under input-stationary)."""
    if p.unit is Unit.ARRAY and chip.dataflow is not Dataflow.INPUT_STATIONARY:
        return chip.pe_array.cols
    return 1


def psums_outside_pes(p: Problem, chip: Chip) -> bool:
    """Whether partial sums leave the PEs between steps (weight- and input-stationary arrays
    accumulate in the output buffer at accumulator width)."""
    return chip.dataflow is not Dataflow.OUTPUT_STATIONARY and p.unit is Unit.ARRAY


def tile_tail_cycles(p: Problem, chip: Chip, k: Int, c: Int, px: Int, *,
                     used: tuple[Int, Int] | None = None) -> np.ndarray:
    """Cycles a layer adds after issuing its last tile ``(k, c, px)``: the pipelined array's
    final skew and drain (0 for every other unit and for per-fold timing)."""
    if p.unit is Unit.ARRAY:
        return array_cycles(p, chip, k, c, px, tail=True, used=used)
    return np.zeros(np.broadcast(np.asarray(k), np.asarray(c), np.asarray(px)).shape,
                    dtype=np.int64)


def tile_compute_cycles(p: Problem, chip: Chip, k: Int, c: Int, px: Int, *,
                        used: tuple[Int, Int] | None = None) -> np.ndarray:
    """Cycles of one tile on the unit that runs the problem (a pipelined array: the cycles
    its folds occupy the array's edge, see :func:`tile_tail_cycles`; ``used``: the
    sub-array, see :func:`sub_arrays`)."""
    if p.unit is Unit.ARRAY:
        return array_cycles(p, chip, k, c, px, used=used)
    if p.unit is Unit.INT8:
        macs = np.asarray(k) * c * p.FY * p.FX * px * p.passes
        return ceil_div(macs, chip.int8_unit_macs) + INT8_UNIT.pipeline_cycles
    return ppu_cycles(p, chip, k, px)


def in_extent(out_start: Int, out_len: Int, *, kernel: int, stride: int, pad: int,
              size: int) -> np.ndarray:
    """Input rows (or cols) read for ``out_len`` outputs from ``out_start``: the window with
    its halo, clipped to the real input (padding is made on chip, not read)."""
    start = np.asarray(out_start) * stride - pad
    end = (np.asarray(out_start) + out_len - 1) * stride - pad + kernel
    return np.maximum(np.minimum(end, size) - np.maximum(start, 0), 0)


def weight_tile_bytes(p: Problem, k: Int, c: Int) -> np.ndarray:
    return ceil_div(np.asarray(k) * c * p.FY * p.FX * p.w_bits, 8)


def input_tile_bytes(p: Problem, channels: Int, in_pixels: Int) -> np.ndarray:
    return ceil_div(np.asarray(channels) * in_pixels * p.a_bits, 8) * p.operands


def output_tile_bytes(p: Problem, k: Int, px: Int) -> np.ndarray:
    """Bytes one output tile stores (a fused pooling stores one value per window)."""
    return ceil_div(np.asarray(k) * px * p.out_bits, 8 * p.pool_k * p.pool_k)


def skip_tile_bytes(p: Problem, k: Int, px: Int) -> np.ndarray:
    """Bytes of the shortcut a fused residual add reads for one output tile (0: none)."""
    return ceil_div(np.asarray(k) * px * p.skip_bits, 8)


def psum_tile_bytes(p: Problem, k: Int, px: Int) -> np.ndarray:
    return ceil_div(np.asarray(k) * px * p.acc_bits, 8)


# -- sums over tile classes, factorised (the mapper prices hundreds of tilings at once) --------
#
# A tiling's tiles fall into a few size classes per dimension (``(count, size)`` arrays whose
# last axis holds the classes). On the array, a tile's cycles factor into a part that depends
# only on the extent mapped along the columns and a part that depends on the extent along the
# rows and the steps: a fold takes ``max(t, r)`` (pipelined) or ``fold(t)`` (per fold) cycles
# whatever its column count, so ``Σ_folds = nfc · Σ_row folds``. The sum over all class
# combinations is then a product of two sums, priced on each factor's own (small) grid instead
# of the grid of every class combination. A port-bound fold (its stationary side moved slower
# than its steps) couples rows and columns: such arrays take the general path.

Classes = tuple[np.ndarray, np.ndarray]  # (count, size): the last axis holds the classes


def _array_axes(p: Problem, chip: Chip, k: Classes, c: Classes, px: Classes
                ) -> tuple[Classes, Classes, Classes, int, int, int]:
    """(columns' extent, rows' extent, steps, repeats, held bits, port bits) of an array tile
    under the chip's dataflow, as classes (see :func:`array_cycles`)."""
    _, _, stretch = effective_array(p, chip)
    cc, cs = c
    df = chip.dataflow
    if df is Dataflow.OUTPUT_STATIONARY:
        return (k, px, (cc, p.words(cs) * p.passes * stretch), 1, p.acc_bits,
                chip.output_buffer.port_bits)
    words = (cc, p.words(cs))
    if df is Dataflow.WEIGHT_STATIONARY:
        return (k, words, (px[0], px[1] * p.a_passes * stretch), p.w_passes, p.w_word_bits,
                chip.weight_buffer.port_bits)
    return (px, words, (k[0], k[1] * p.w_passes * stretch), p.a_passes, p.a_word_bits,
            chip.input_buffer.port_bits)


def _one_tile_axes(p: Problem, chip: Chip, k: np.ndarray, c: np.ndarray, px: np.ndarray
                   ) -> tuple[Classes, Classes, Classes, int, int, int]:
    """:func:`_array_axes` of single tiles of sizes ``k``, ``c``, ``px`` (one class each)."""
    one = np.ones_like
    return _array_axes(p, chip, (one(k), k), (one(c), c), (one(px), px))


def _row_part(r: np.ndarray, t: np.ndarray, rows: Int, cols: Int, *, pipelined: bool,
              os_drain: bool, held_bits: int, port_bits: int) -> np.ndarray:
    """Cycles of the row folds of an extent ``r`` with ``t`` steps (times the column folds
    gives a tile's cycles, see :func:`_systolic`): pipelined, Σ_row folds max(t, r_f); per
    fold, nfr · fold(t)."""
    nfr = ceil_div(r, rows)
    if not pipelined:
        d = np.maximum(rows, ceil_div(np.asarray(rows) * cols * held_bits, port_bits))
        return nfr * (np.asarray(rows) + cols - 2 + t + (d - rows if os_drain else d))
    q, e = r // nfr, r % nfr
    return e * np.maximum(t, q + 1) + (nfr - e) * np.maximum(t, q)


def _port_bound(r: np.ndarray, t: np.ndarray, rows: Int, c_widest: Int, held_bits: int,
                port_bits: int) -> bool:
    """Whether any pipelined fold might be port-bound (the test :func:`_systolic` makes,
    with the widest column fold)."""
    nfr = ceil_div(r, rows)
    q = r // nfr
    return bool(np.any((q + 1) * (np.asarray(c_widest) + 1) * held_bits
                       > np.maximum(t, q) * port_bits))


def array_cycle_sums(p: Problem, chip: Chip, k: Classes, c: Classes, px: Classes
                     ) -> tuple[np.ndarray, np.ndarray] | None:
    """(Σ over every class combination of count × a tile's array cycles, the cycles of the
    smallest tile present) for tiles of ``k`` output channels, ``c`` input channels and ``px``
    output pixels on the whole usable array — or None where the sum does not factor (a
    port-bound fold): take :func:`tile_compute_cycles` over the full class grid instead."""
    rows, cols, _ = effective_array(p, chip)
    (nc, sc), (nr, sr), (nt, st), repeats, held, port = _array_axes(p, chip, k, c, px)
    pipelined = chip.pe_array.fold_timing is FoldTiming.PIPELINED
    nfc = ceil_div(sc, cols)
    r, t = sr[..., :, None], st[..., None, :]
    if pipelined and _port_bound(r, t, rows, (sc // nfc).max(), held, port):
        return None
    part = _row_part(r, t, rows, cols, pipelined=pipelined,
                     os_drain=chip.dataflow is Dataflow.OUTPUT_STATIONARY, held_bits=held,
                     port_bits=port)
    n_rt = nr[..., :, None] * nt[..., None, :]
    big = np.iinfo(np.int64).max
    total = repeats * (nc * nfc).sum(axis=-1) * (n_rt * part).sum(axis=(-2, -1))
    smallest = (repeats * np.where(nc > 0, nfc, big).min(axis=-1)
                * np.where(n_rt > 0, part, big).min(axis=(-2, -1)))
    return total, smallest


def array_last_tile(p: Problem, chip: Chip, k: np.ndarray, c: np.ndarray, px: np.ndarray,
                    used_rows: np.ndarray, used_cols: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray] | None:
    """(cycles, tail) of a layer's last tile of sizes ``k``, ``c``, ``px`` on each sub-array
    (``used_rows``, ``used_cols``: a leading axis of choices, see :func:`sub_arrays`) — what
    :func:`tile_compute_cycles` and :func:`tile_tail_cycles` give, factored the same way; None
    where it does not factor (a port-bound fold, or a drain longer than its shift)."""
    (_, sc), (_, sr), (_, st), repeats, held, port = _one_tile_axes(p, chip, k, c, px)
    pipelined = chip.pe_array.fold_timing is FoldTiming.PIPELINED
    nfc = ceil_div(sc, used_cols)
    qc = sc // nfc
    if pipelined and (_port_bound(sr, st, used_rows, qc.max(), held, port)
                      or qc.max() * held > port):
        return None
    part = _row_part(sr, st, used_rows, used_cols, pipelined=pipelined,
                     os_drain=chip.dataflow is Dataflow.OUTPUT_STATIONARY, held_bits=held,
                     port_bits=port)
    cycles = repeats * nfc * part
    if not pipelined:
        return cycles, np.zeros_like(cycles)
    # the last fold is one of the smallest: its skew r + c − 2 and its drain d = r (the
    # columns' accumulators or operands shift out in r cycles: qc · held ≤ port, checked)
    qr = sr // ceil_div(sr, used_rows)
    return cycles, qc + (2 * qr - 2 + st - np.maximum(st, qr))


def array_last_tile_floor(p: Problem, chip: Chip, k: np.ndarray, c: np.ndarray,
                          px: np.ndarray) -> np.ndarray:
    """A lower bound of a layer's last tile's cycles on any sub-array (its cycles on the
    sub-array, :func:`array_last_tile`, are never fewer): a sub-array folds the tile at least
    as often as the usable array (nfr · nfc folds), and each fold takes at least its steps
    and at least its rows — port-bound folds longer still — so the tile takes at least
    ``max(nfr·nfc·t, nfc·s_r)`` cycles."""
    rows, cols, _ = effective_array(p, chip)
    (_, sc), (_, sr), (_, st), repeats, _, _ = _one_tile_axes(p, chip, k, c, px)
    nfr, nfc = ceil_div(sr, rows), ceil_div(sc, cols)
    return repeats * np.maximum(nfr * nfc * st, nfc * sr)
