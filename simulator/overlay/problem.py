"""One layer as the mapper sees it: loop bounds, operand widths and which unit runs it.

A layer becomes a :class:`Problem` per group: ``K`` output channels, ``C`` input channels,
``FY × FX`` kernel, ``OY × OX`` outputs, with ``G`` independent groups run one after another.
Pooling and residual adds run on the post-processing unit as "depthwise" problems (each
output channel reads only its own input channel, no weights).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from simulator.overlay.chip import Chip, FullPrecision
from simulator.overlay.pe_types import INT8_UNIT, PeType
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
    word_bits: int  # bits of one PE operand word
    depthwise: bool  # outputs of channel k read input channel k only (pool/add)
    operands: int  # input maps read (2 for a residual add)
    window: int  # inputs combined per output on the PPU (pool window; 1 for add)
    macs: int  # useful MACs of the whole layer (all groups)

    @property
    def reduction(self) -> int:
        return self.C * self.FY * self.FX

    @property
    def passes(self) -> int:
        return self.a_passes * self.w_passes


def mac_model(p: Problem, chip: Chip) -> PeType | None:
    """The MAC datapath that runs ``p``: the array's PE type, the int8 unit, or None (PPU)."""
    if p.unit is Unit.ARRAY:
        return chip.pe_array.pe
    return INT8_UNIT if p.unit is Unit.INT8 else None


def problem_for(layer: Layer, chip: Chip) -> Problem:
    """Lower one workload layer onto the chip's units."""
    acc = chip.accumulator_bits
    if isinstance(layer, Conv2d):
        w, a = layer.weights, layer.activations
        pe = chip.pe_array.pe
        if (w.full_precision and not pe.runs_full_precision
                and chip.full_precision is FullPrecision.INT8_UNIT):
            unit, model = Unit.INT8, INT8_UNIT
        else:
            unit, model = Unit.ARRAY, pe
        words = model.operand_words(chip.pe_array.lane_bits, w, a)
        return Problem(
            name=layer.name, unit=unit, groups=layer.groups,
            K=layer.out_channels_per_group, C=layer.in_channels_per_group,
            FY=layer.kernel[0], FX=layer.kernel[1], stride=layer.stride, pad=layer.padding,
            H=layer.in_shape[1], W=layer.in_shape[2], OY=layer.out_h, OX=layer.out_w,
            w_bits=w.storage_bits, a_bits=a.storage_bits, out_bits=layer.output.storage_bits,
            acc_bits=acc, a_passes=words.a_passes, w_passes=words.w_passes,
            word_elems=words.word_elems, word_bits=words.word_bits, depthwise=False,
            operands=1, window=1, macs=layer.macs,
        )
    if isinstance(layer, Pool | Add):
        c, h, wd = layer.in_shape
        _, oy, ox = layer.out_shape
        if isinstance(layer, Pool):
            if layer.mode == "global_avg":  # one window over the whole map
                fy, fx, s, p = h, wd, 1, 0
            else:
                fy = fx = layer.kernel
                s, p = layer.stride, layer.padding
            operands, window = 1, layer.window
        else:
            fy = fx = s = 1
            p = 0
            operands, window = 2, 1
        return Problem(
            name=layer.name, unit=Unit.PPU, groups=1, K=c, C=1, FY=fy, FX=fx, stride=s, pad=p,
            H=h, W=wd, OY=oy, OX=ox, w_bits=0, a_bits=layer.activations.storage_bits,
            out_bits=layer.output.storage_bits, acc_bits=acc, a_passes=1, w_passes=1,
            word_elems=1, word_bits=layer.activations.storage_bits, depthwise=True,
            operands=operands, window=window, macs=0,
        )
    raise TypeError(f"the overlay cannot run a {type(layer).__name__} layer")
