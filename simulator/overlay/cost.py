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

from simulator.overlay.chip import Chip, Dataflow
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
    "tile_compute_cycles",
    "weight_tile_bytes",
]

Int = np.ndarray | int


def ceil_div(a: Int, b: Int) -> np.ndarray:
    return -(-np.asarray(a, dtype=np.int64) // np.asarray(b, dtype=np.int64))


def _systolic(s_r: Int, s_c: Int, t: Int, rows: int, cols: int) -> np.ndarray:
    """Cycles to map an ``s_r × s_c`` spatial extent with ``t`` steps onto a rows × cols array:
    ``2r + c + t − 2`` per fold, where the last fold of a dimension uses only what it needs."""
    s_r, s_c, t = (np.asarray(x, dtype=np.int64) for x in (s_r, s_c, t))
    nfr, nfc = ceil_div(s_r, rows), ceil_div(s_c, cols)
    # Σ over folds of 2r + c + t − 2 = 2·nfc·Σr + nfr·Σc + nfr·nfc·(t − 2)
    return 2 * nfc * s_r + nfr * s_c + nfr * nfc * (t - 2)


def effective_array(p: Problem, chip: Chip) -> tuple[int, int, int]:
    """(rows, cols, cycles per step) the buffer ports can feed under the chip's dataflow.

    A row (column) needs one operand word per step from its buffer port; rows beyond what the
    port delivers would idle, so the mapping does not use them. A port narrower than one word
    stretches every step.
    """
    wb, acc = p.word_bits, p.acc_bits
    pin, pw, pout = (chip.input_buffer.port_bits, chip.weight_buffer.port_bits,
                     chip.output_buffer.port_bits)
    df = chip.dataflow
    if df is Dataflow.OUTPUT_STATIONARY:  # inputs stream into rows, weights into columns
        (r_bits, r_port), (c_bits, c_port) = (wb, pin), (wb, pw)
    elif df is Dataflow.WEIGHT_STATIONARY:  # inputs into rows, partial sums out of columns
        (r_bits, r_port), (c_bits, c_port) = (wb, pin), (acc, pout)
    else:  # input stationary: weights into rows, partial sums out of columns
        (r_bits, r_port), (c_bits, c_port) = (wb, pw), (acc, pout)
    rows = max(1, min(chip.pe_array.rows, r_port // r_bits))
    cols = max(1, min(chip.pe_array.cols, c_port // c_bits))
    stretch = max(-(-r_bits // r_port), -(-c_bits // c_port), 1)
    return rows, cols, stretch


def array_cycles(p: Problem, chip: Chip, k: Int, c: Int, px: Int) -> np.ndarray:
    """Cycles of one tile of ``k`` output channels × ``c`` input channels × ``px`` output
    pixels on the PE array under the chip's dataflow."""
    rows, cols, stretch = effective_array(p, chip)
    words = ceil_div(np.asarray(c) * p.FY * p.FX, p.word_elems)  # reduction in PE words
    df = chip.dataflow
    if df is Dataflow.OUTPUT_STATIONARY:  # rows ← pixels, cols ← filters, time ← reduction
        return _systolic(px, k, words * p.passes * stretch, rows, cols)
    if df is Dataflow.WEIGHT_STATIONARY:  # rows ← reduction, cols ← filters, time ← pixels
        return p.w_passes * _systolic(words, k, np.asarray(px) * p.a_passes * stretch, rows,
                                      cols)
    # input stationary: rows ← reduction, cols ← pixels, time ← filters
    return p.a_passes * _systolic(words, px, np.asarray(k) * p.w_passes * stretch, rows, cols)


def ppu_cycles(p: Problem, chip: Chip, k: Int, px: Int) -> np.ndarray:
    """Post-processing of ``k × px`` outputs: one threshold compare / requantisation per output
    (after a MAC tile), or ``window`` inputs combined per output (pool / add layers)."""
    return ceil_div(np.asarray(k) * px * p.window, chip.ppu_lanes)


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


def tile_compute_cycles(p: Problem, chip: Chip, k: Int, c: Int, px: Int) -> np.ndarray:
    """Cycles of one tile on the unit that runs the problem."""
    if p.unit is Unit.ARRAY:
        return array_cycles(p, chip, k, c, px)
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
    return ceil_div(np.asarray(k) * px * p.out_bits, 8)


def psum_tile_bytes(p: Problem, k: Int, px: Int) -> np.ndarray:
    return ceil_div(np.asarray(k) * px * p.acc_bits, 8)
