"""One layer as the mapper sees it: loop bounds, operand widths and which unit runs it.

A layer becomes a :class:`Problem` per group: ``K`` output channels, ``C`` input channels,
``FY × FX`` kernel, ``OY × OX`` outputs, with ``G`` independent groups run one after another.
Pooling and residual adds run on the post-processing unit as "depthwise" problems (each
output channel reads only its own input channel, no weights).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulator.overlay.chip import Chip, FullPrecision, Packing
from simulator.overlay.pe_types import INT8_UNIT, AdderTreePe, OperandWords, PeType, SharedWork
from workloads.errors import InfeasibleError
from workloads.formats import NumberFormat
from workloads.layers import Add, Conv2d, Layer, Pool

__all__ = ["Problem", "Unit", "mac_model", "problem_for"]


class Unit(enum.Enum):
    ARRAY = "array"  # the PE array (XNOR lanes, or int8 MACs on the baseline)
    INT8 = "int8_unit"  # the int8 MAC unit for 8-bit layers
    PPU = "ppu"  # post-processing unit: pooling, residual add


@dataclass(frozen=True, slots=True)
class Problem:
    name: str
    unit: Unit
    groups: int
    K: int  # output channels per group (channels, for depthwise problems)
    C: int  # input channels per group (1 for depthwise problems)
    FY: int
    FX: int
    stride: int
    pad: int
    H: int  # input height and width
    W: int
    OY: int
    OX: int
    w_bits: int  # storage bits per weight element (0: no weights)
    a_bits: int  # storage bits per input element read
    out_bits: int  # storage bits per output element written
    acc_bits: int  # partial-sum width
    a_passes: int  # bit-serial passes over the activations (planes)
    w_passes: int  # bit-serial passes over the weights (planes)
    word_elems: int  # reduction elements one PE consumes per cycle (lane width; 1 for int8)
    a_word_bits: int  # bits of one PE activation word
    w_word_bits: int  # bits of one PE weight word (twice the lane for masked ternary)
    depthwise: bool  # outputs of channel k read input channel k only (pool/add)
    operands: int  # input maps read (2 for a residual add)
    window: int  # inputs combined per output on the PPU (pool window; 1 for add)
    macs: int  # useful MACs of the whole layer (all groups)
    channel_packed: bool = True  # a PE word holds channels of one kernel position
    words_model: OperandWords | None = None  # how the operands reach the PE (MAC layers)
    post_adds: int = 1  # PPU adds per output after a MAC tile (threshold, correction)
    post_mults: int = 0  # PPU multiplies per output (binary-base scales, average's divide)
    combine_bits: int = 0  # width of one pooling combine (0: a 1-bit OR)
    frames: int = 1  # frames of a batch, run layer by layer: the pixel loop runs over them
    in_dram: bool = True  # inputs come from DRAM (False: the previous layer's map on chip)
    out_dram: bool = True  # final outputs go to DRAM (False: kept on chip for the next layer)
    w_dram: bool = True  # weights come from DRAM (False: all weights resident on chip)
    #: a pooling fused into the post-processing (``ppu.fuse_pool``): its window side (1:
    #: none), the width of one combine (0: a 1-bit OR) and whether it averages
    pool_k: int = 1
    pool_combine_bits: int = 0
    pool_avg: bool = False
    skip_bits: int = 0  # a residual add fused into the post-processing reads this per output
    #: the weight-dependent work an adder PE skips or shares (None: every tap added)
    shared: SharedWork | None = None

    @property
    def reduction(self) -> int:
        return self.C * self.FY * self.FX

    @property
    def passes(self) -> int:
        return self.a_passes * self.w_passes

    @property
    def outputs(self) -> int:
        """Output elements of the whole layer, all groups and frames."""
        return self.groups * self.K * self.OY * self.OX * self.frames

    @property
    def stored_outputs(self) -> int:
        """Output elements written (after a fused pooling)."""
        return self.outputs // (self.pool_k * self.pool_k)

    @property
    def post_ops(self) -> int:
        """PPU operations per output of a MAC tile."""
        return self.post_adds + self.post_mults

    def words(self, c: Any) -> np.ndarray:
        """PE words one pass over ``c`` input channels' reduction takes: channel-packed
        (channel-last layout), ``FY·FX·⌈c / lane⌉`` — a word holds channels of one kernel
        position; else packed across kernel positions, ``⌈c·FY·FX / lane⌉``."""
        c = np.asarray(c, dtype=np.int64)
        if self.channel_packed:
            return self.FY * self.FX * -(-c // self.word_elems)
        return -(-(c * self.FY * self.FX) // self.word_elems)


def mac_model(p: Problem, chip: Chip) -> PeType | None:
    """The MAC datapath that runs ``p``: the array's PE type, the int8 unit, or None (PPU)."""
    if p.unit is Unit.ARRAY:
        return chip.pe_array.pe
    return INT8_UNIT if p.unit is Unit.INT8 else None


def problem_for(layer: Layer, chip: Chip, *, frames: int = 1, in_dram: bool = True,
                out_dram: bool = True, w_dram: bool = True, pool: Pool | None = None,
                add: Add | None = None, pow2_on_int8: bool = True) -> Problem:
    """Lower one workload layer onto the chip's units: ``frames`` of a batch, where its
    inputs, outputs and weights live (DRAM, or on chip: ``residency.plan_network``), and a
    pooling or residual add fused into its post-processing. ``pow2_on_int8=False`` keeps
    power-of-two weights on the array (bit-serially) where they would go to the int8 unit
    (the family tries both, :func:`pow2_choices`)."""
    where: dict[str, Any] = {"frames": frames, "in_dram": in_dram, "out_dram": out_dram,
                             "w_dram": w_dram}
    if isinstance(layer, Conv2d):
        w, a = layer.weights, layer.activations
        pe = chip.pe_array.pe
        # 8-bit layers go to the int8 unit where the chip has one for them and the array's
        # PEs cannot run them natively; power-of-two weights may (shift-adds, the int path)
        to_int8 = w.full_precision or (w.kind == "pow2" and pow2_on_int8)
        if (to_int8 and not pe.runs_full_precision
                and chip.full_precision is FullPrecision.INT8_UNIT):
            unit, model = Unit.INT8, INT8_UNIT
        else:
            unit, model = Unit.ARRAY, pe
        words = model.operand_words(chip.pe_array.lane_bits, w, a)
        acc = chip.int8_unit_acc_bits if unit is Unit.INT8 else chip.accumulator_bits
        reduction = layer.in_channels_per_group * layer.kernel[0] * layer.kernel[1]
        _check_accumulator(layer.name, reduction, w, a, chip, acc, unit)
        scales = (w.bases * a.bases) if "bases" in (w.kind, a.kind) else 0
        out_bits = layer.output.storage_bits
        fused: dict[str, Any] = {}
        if pool is not None:  # the window's combine per output, its output format stored
            bits = pool.activations.storage_bits
            avg = pool.mode != "max"
            fused = {"pool_k": pool.kernel, "pool_avg": avg,
                     "pool_combine_bits": (bits + (pool.window - 1).bit_length() if avg
                                           else (0 if bits == 1 else bits))}
            out_bits = pool.output.storage_bits
        if add is not None:  # the shortcut read and added per output before the store
            fused = {"skip_bits": add.activations.storage_bits}
            out_bits = add.output.storage_bits
        shared = _shared_work(layer, chip, frames) if unit is Unit.ARRAY else None
        return Problem(
            name=layer.name, unit=unit, groups=layer.groups,
            K=layer.out_channels_per_group, C=layer.in_channels_per_group,
            FY=layer.kernel[0], FX=layer.kernel[1], stride=layer.stride, pad=layer.padding,
            H=layer.in_shape[1], W=layer.in_shape[2], OY=layer.out_h, OX=layer.out_w,
            w_bits=w.storage_bits, a_bits=a.storage_bits, out_bits=out_bits,
            acc_bits=acc, a_passes=words.a_passes, w_passes=words.w_passes,
            word_elems=words.word_elems, a_word_bits=words.a_word_bits,
            w_word_bits=words.w_word_bits, depthwise=False, operands=1, window=1,
            macs=layer.macs * frames, channel_packed=chip.pe_array.packing is Packing.CHANNEL,
            words_model=words,
            post_adds=(1 + int(words.correction) + scales + int(add is not None)
                       + _sharing_post_adds(layer, chip, shared)),
            # a Real-to-Binary gate multiplies each output by its channel's gate
            post_mults=scales + int(layer.gate > 0), shared=shared, **where, **fused,
        )
    if isinstance(layer, Pool | Add):
        c, h, wd = layer.in_shape
        _, oy, ox = layer.out_shape
        bits = layer.activations.storage_bits
        if isinstance(layer, Pool):
            if layer.mode == "global_avg":  # one window over the whole map
                fy, fx, s, p = h, wd, 1, 0
            else:
                fy = fx = layer.kernel
                s, p = layer.stride, layer.padding
            operands, window = 1, layer.window
            if layer.mode == "max":  # OR of binary maps, else a compare (a subtraction)
                combine, mults = (0 if bits == 1 else bits), 0
            else:  # a sum wide enough for the window, then one multiply by 1/window
                combine, mults = bits + (window - 1).bit_length(), 1
        else:
            fy = fx = s = 1
            p = 0
            operands, window = 2, 1
            combine, mults = 0, 0
        acc = chip.accumulator_bits
        return Problem(
            name=layer.name, unit=Unit.PPU, groups=1, K=c, C=1, FY=fy, FX=fx, stride=s, pad=p,
            H=h, W=wd, OY=oy, OX=ox, w_bits=0, a_bits=layer.activations.storage_bits,
            out_bits=layer.output.storage_bits, acc_bits=acc, a_passes=1, w_passes=1,
            word_elems=1, a_word_bits=bits, w_word_bits=bits, depthwise=True,
            operands=operands, window=window, macs=0, post_adds=0, post_mults=mults,
            combine_bits=combine, **{**where, "w_dram": True},
        )
    raise TypeError(f"the overlay cannot run a {type(layer).__name__} layer")


def _sharing_post_adds(layer: Conv2d, chip: Chip, shared: SharedWork | None) -> int:
    """Post-processing adds per output a binary layer's sharing form adds: the decomposed
    form's ``2S − J``; result sharing's combination of the output's C sub-kernel results
    (on the post-processing unit's lanes, so its cycles count)."""
    if shared is None or layer.weights.kind != "binary":
        return 0
    form = chip.pe_array.weight_sharing
    return {"decompose": 1, "share": layer.in_channels_per_group,
            "share_decompose": layer.in_channels_per_group}.get(form, 0)


def _shared_work(layer: Conv2d, chip: Chip, frames: int) -> SharedWork | None:
    """What the layer's trained weights let the chip's adder PE skip or share: ternary zeros
    gated, or a binary layer in the chip's ``weight_sharing`` form (``workloads.weight_stats``
    for the counts, per output position over all output channels). None on other PEs, for
    layers without trained weights (shapes only) and for multi-bit weights."""
    if not isinstance(chip.pe_array.pe, AdderTreePe):
        return None
    stats, form = layer.weight_stats, chip.pe_array.weight_sharing
    w = layer.weights
    if stats is None:
        if form != "none" and w.kind == "binary":
            raise InfeasibleError(
                f"layer '{layer.name}': pe_array.weight_sharing: {form} prices the trained "
                "weights; simulate a lowered network (bnnsim lower --checkpoint … --out "
                "net.npz, then --network net.npz)", layer=layer.name,
                resource="pe_array.weight_sharing", needed=1, available=0,
                unit="trained weights", value=form, has_value=True)
        return None
    positions = layer.out_h * layer.out_w * frames
    g, c = layer.groups, layer.in_channels_per_group
    f = layer.kernel[0] * layer.kernel[1]
    if w.kind == "ternary":  # the zero taps are gated
        return SharedWork(positions * stats.nonzero)
    if w.kind != "binary" or form == "none" or not stats.binary:
        return None
    window = positions * g * c * f  # one window sum per position and channel group
    # (result sharing's K·C combinations per position run on the post-processing unit:
    # ``_sharing_post_adds``)
    if form == "decompose":
        return SharedWork(positions * stats.rarer_signs, window_adds=window)
    if form == "share":
        return SharedWork(positions * stats.distinct * f)
    # each distinct sub-kernel's 2S − J, beside its accumulator
    return SharedWork(positions * stats.distinct_rarer, window_adds=window,
                      combine_adds=positions * stats.distinct)


def _magnitude(fmt: NumberFormat, *, signed: bool) -> int:
    """Largest |value| of one operand's code: ±1 for binary, ternary and each binary base
    (bases are summed after scaling, one base pair per pass), else a k-bit code — signed for
    weights, unsigned for activations."""
    if fmt.kind in ("binary", "ternary", "bases"):
        return 1
    if fmt.kind == "pow2":  # 0 or ±2^e, e < levels
        return 1 << (fmt.pow2_levels - 1)
    bits = fmt.storage_bits
    return (1 << (bits - 1)) if signed else (1 << bits) - 1


def accumulator_bits_needed(reduction: int, w: NumberFormat, a: NumberFormat) -> int:
    """Bits a two's-complement accumulator needs for a reduction of ``reduction`` products of
    these operands (bit-serial shift-adds included): the magnitude of the largest sum plus a
    sign bit."""
    largest = reduction * _magnitude(w, signed=True) * _magnitude(a, signed=False)
    return largest.bit_length() + 1


def _check_accumulator(name: str, reduction: int, w: NumberFormat, a: NumberFormat,
                       chip: Chip, acc: int, unit: Unit) -> None:
    need = accumulator_bits_needed(reduction, w, a)
    if need > acc:
        key = "int8_unit.accumulator_bits" if unit is Unit.INT8 else "accumulator_bits"
        raise InfeasibleError(
            f"layer '{name}' cannot run on this chip: its reduction of {reduction:,} "
            f"w{w.label}a{a.label} products needs a {need}-bit accumulator, the chip has "
            f"{acc}; set {key} ≥ {need}",
            layer=name, resource=key, needed=need, available=acc, unit="bits",
            file=chip.source or chip.name, value=acc, has_value=True)
