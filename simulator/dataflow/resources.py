"""FPGA resources of a streaming pipeline: LUTs, BRAM18s and URAMs per stage and FIFO.

The matrix-vector-threshold unit follows FINN-R (Blott, Preusser, Fraser, Gambardella,
O'Brien, Umuroglu, Leeser & Vissers, "FINN-R: An End-to-End Deep-Learning Framework for Fast
Exploration of Quantized Neural Networks", ACM TRETS 2018) as FINN's code implements it
(``MVAU.lut_estimation`` / ``bram_estimation`` / ``uram_estimation``): with P = PE,
Q = SIMD, W and A the weight and input bits,

* LUTs = 300 + 1.1 · P · (multipliers + adder tree + accumulator + thresholds + comparators)
  (+ the weights when they sit in LUTRAM): multipliers ``Q·(2⌈(W+A)/6⌉ − 1)·(W+A)`` (an
  XNOR per product for W = A = 1), adder tree ``(W+A)·(2Q − 1)``, an accumulator of the bits
  the sum needs, and — as FINN counts them only when the thresholds sit in LUTRAM
  (``ram_style: distributed`` here) — for a thresholding output of B bits ``(2^B − 1)``
  comparators of the accumulator's width and their thresholds (``⌈(MH/P) / 64⌉`` 64-deep
  LUTRAMs each);
* weights: a memory ``P·Q·W`` bits wide and ``MW·MH / (P·Q)`` deep — in BRAM18s by the width
  and depth of their aspect ratios (UG573), in URAMs of 72 × 4096, or in LUTRAM (64-deep)
  when ``ram_style`` says so or (``auto``) the memory is at most 128 deep.

The sliding-window generator's line buffer (K input rows of C channels) and FIFOs deeper
than a LUTRAM's 64 words use BRAM18s by the same table; the window generator's, pool's and
add's logic are rough constants (a bnnsim assumption, marked in docs/dataflow.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simulator.dataflow.pipeline import Edge, Folded
    from workloads.layers import Conv2d

__all__ = ["Resources", "bram18", "fifo_resources", "mvau_resources", "stage_resources",
           "swg_resources"]


@dataclass(frozen=True, slots=True)
class Resources:
    luts: int = 0
    bram18: int = 0
    uram: int = 0

    def __add__(self, other: Resources) -> Resources:
        return Resources(self.luts + other.luts, self.bram18 + other.bram18,
                         self.uram + other.uram)


def bram18(width: int, depth: int) -> int:
    """BRAM18s for a memory ``width`` bits wide and ``depth`` words deep (simple dual port:
    16K×1, 8K×2, 4K×4, 2K×9, 1K×18, 512×36; FINN's table)."""
    if width <= 0 or depth <= 0:
        return 0
    if width == 1:
        return math.ceil(depth / 16384)
    if width == 2:
        return math.ceil(depth / 8192)
    if width <= 4:
        return math.ceil(depth / 4096) * math.ceil(width / 4)
    if width <= 9:
        return math.ceil(depth / 2048) * math.ceil(width / 9)
    if width <= 18 or depth > 512:
        return math.ceil(depth / 1024) * math.ceil(width / 18)
    return math.ceil(depth / 512) * math.ceil(width / 36)


def accumulator_bits(mw: int, w_bits: int, a_bits: int, *, signed_inputs: bool) -> int:
    """The accumulator a sum of ``mw`` products needs (FINN's bound, at most 32 bits)."""
    alpha = math.log2(mw) + w_bits + a_bits - 1 - int(signed_inputs)
    return int(min(32, math.ceil(alpha + math.log2(1 + 2.0 ** -alpha) + 1)))


def mvau_resources(f: Folded, w_bits: int, a_bits: int, *, signed_inputs: bool, out_bits: int,
                   ram_style: str, on_chip: bool) -> Resources:
    """LUTs and memories of one matrix(-vector)-threshold unit (see the module doc);
    ``out_bits`` 0: no thresholds (the last layer's raw sums)."""
    p, q = f.pe, f.simd
    wa = w_bits + a_bits
    mult = q * (2 * math.ceil(wa / 6) - 1) * wa
    tree = wa * (2 * q - 1)
    acc = accumulator_bits(f.mw, w_bits, a_bits, signed_inputs=signed_inputs)
    # thresholds and their comparators: FINN counts them in LUTs only when the thresholds
    # sit in LUTRAM (ram_style_thresholds: distributed); by default (auto) it counts none
    thr = comp = 0
    if out_bits and ram_style == "distributed":
        levels = 2**min(out_bits, 16) - 1
        thr = levels * acc * math.ceil((f.mh // p) / 64)
        comp = levels * acc
    depth = f.passes * f.groups * f.mw * f.mh // (p * q)
    width = p * q * w_bits
    style = ram_style if ram_style != "auto" else ("distributed" if depth <= 128 else "block")
    luts = 300 + 1.1 * p * (mult + tree + acc + thr + comp)
    brams = urams = 0
    if on_chip:
        if style == "distributed":
            luts += width * math.ceil(depth / 64)
        elif style == "ultra":
            urams = math.ceil(width / 72) * math.ceil(depth / 4096)
        else:
            brams = bram18(width, depth)
    return Resources(int(luts), brams, urams)


def swg_resources(layer: Conv2d, simd: int, a_bits: int) -> Resources:
    """A sliding-window generator: a line buffer of K input rows (``simd · A`` bits wide)
    and about 300 + 2·SIMD·A LUTs of address logic [assumption]."""
    c, _, w = layer.in_shape
    depth = layer.kernel[0] * (w + 2 * layer.padding) * (c // simd)
    width = simd * a_bits
    if depth <= 64:  # a few words: LUTRAM
        return Resources(300 + 2 * width + width)
    return Resources(300 + 2 * width, bram18(width, depth))


def stage_resources(par: int, bits: int) -> Resources:
    """A pool or add stage over ``par`` channels of ``bits`` bits: about 100 + 4·par·bits
    LUTs [assumption]."""
    return Resources(100 + 4 * par * max(1, bits))


def fifo_resources(e: Edge) -> Resources:
    """A FIFO of ``depth`` rows: in LUTRAM up to 64 words deep, else BRAM18s; its words are
    at most 1024 bits wide (a row split into words)."""
    words_per_row = max(1, math.ceil(e.row_bits / 1024))
    width = min(e.row_bits, 1024)
    depth = e.slots * words_per_row
    if depth <= 64:
        return Resources(40 + width * math.ceil(depth / 64))
    return Resources(40, bram18(width, depth))
