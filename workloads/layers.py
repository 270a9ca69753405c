"""Layer records of a workload: shapes, strides, padding, groups and per-operand precision.

A workload is pure data (no torch, no simulation). MAC layers (:class:`Conv2d`, :class:`Linear`)
carry the number format of their weights and of their *input* activations; the format of a
layer's output is the input format of whatever consumes it, which :class:`Network` fills in.
Shapes are (channels, height, width) for one inference (batch 1).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Literal

from workloads.errors import ConfigError
from workloads.formats import BINARY, INT8, NumberFormat
from workloads.weight_stats import WeightStats

__all__ = [
    "LIMITS",
    "MAX_LAYER_MACS",
    "Add",
    "Conv2d",
    "Layer",
    "LayerKind",
    "Linear",
    "Pool",
    "Shape",
]

Shape = tuple[int, int, int]  # (channels, height, width)


class LayerKind(enum.Enum):
    CONV = "conv"
    FC = "fc"
    POOL = "pool"
    ADD = "add"


#: Upper bounds of a layer's numbers: every product the simulator forms from them stays far
#: inside int64 (a layer's MACs at most ``MAX_LAYER_MACS``; see docs/hardening.md).
LIMITS = {"channels": 1 << 24, "size": 1 << 16, "kernel": 1 << 12, "stride": 1 << 12,
          "padding": 1 << 12, "gate": 1024}
MAX_LAYER_MACS = 1 << 50
_LIMIT_OF = {"out_channels": "channels", "in_c": "channels", "groups": "channels",
             "in_h": "size", "in_w": "size", "kernel": "kernel", "kernel_h": "kernel",
             "kernel_w": "kernel", "stride": "stride", "padding": "padding", "gate": "gate"}


def _positive(name: str, key: str, value: object, *, minimum: int = 1) -> None:
    high = LIMITS[_LIMIT_OF[key]]
    if (not isinstance(value, int) or isinstance(value, bool)
            or not minimum <= value <= high):
        raise ConfigError(f"must be an integer in [{minimum}, {high:,}]", key=f"{name}.{key}",
                          value=value, has_value=True)


def _conv_out(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


@dataclass(frozen=True, slots=True)
class Conv2d:
    """A 2-D convolution ``in_shape → (out_channels, out_h, out_w)``."""

    name: str
    in_shape: Shape
    out_channels: int
    kernel: tuple[int, int]
    stride: int = 1
    padding: int = 0
    groups: int = 1
    weights: NumberFormat = BINARY
    activations: NumberFormat = BINARY
    output: NumberFormat = BINARY
    kind: LayerKind = LayerKind.CONV  # CONV, or FC for a fully connected layer
    #: counts of the trained weights (a lowered network's layers carry them; None: shapes only)
    weight_stats: WeightStats | None = None
    #: Real-to-Binary gating: r > 0 scales each output channel by a gate that the network's
    #: ``<name>.gate_*`` layers compute from this layer's input (its second input), 0: none
    gate: int = 0

    def __post_init__(self) -> None:
        if self.kind not in (LayerKind.CONV, LayerKind.FC):
            raise ConfigError("a Conv2d is of kind conv or fc", key=f"{self.name}.kind")
        for key, value in (("out_channels", self.out_channels), ("stride", self.stride),
                           ("groups", self.groups), ("kernel_h", self.kernel[0]),
                           ("kernel_w", self.kernel[1]), *zip(("in_c", "in_h", "in_w"),
                                                              self.in_shape, strict=True)):
            _positive(self.name, key, value)
        _positive(self.name, "padding", self.padding, minimum=0)
        _positive(self.name, "gate", self.gate, minimum=0)
        c = self.in_shape[0]
        if c % self.groups or self.out_channels % self.groups:
            raise ConfigError(f"groups must divide in ({c}) and out ({self.out_channels}) "
                              "channels", key=f"{self.name}.groups", value=self.groups,
                              has_value=True)
        if self.out_h < 1 or self.out_w < 1:
            raise ConfigError(f"kernel {self.kernel} does not fit the input {self.in_shape}",
                              key=f"{self.name}.kernel")
        if self.macs > MAX_LAYER_MACS:
            raise ConfigError(f"{self.macs:,} MACs; a layer may have at most "
                              f"{MAX_LAYER_MACS:,} (2**50)", key=f"{self.name}.out_channels")

    @property
    def out_h(self) -> int:
        return _conv_out(self.in_shape[1], self.kernel[0], self.stride, self.padding)

    @property
    def out_w(self) -> int:
        return _conv_out(self.in_shape[2], self.kernel[1], self.stride, self.padding)

    @property
    def out_shape(self) -> Shape:
        return (self.out_channels, self.out_h, self.out_w)

    @property
    def in_channels_per_group(self) -> int:
        return self.in_shape[0] // self.groups

    @property
    def out_channels_per_group(self) -> int:
        return self.out_channels // self.groups

    @property
    def reduction(self) -> int:
        """Length of one output's dot product: C/groups · FY · FX."""
        return self.in_channels_per_group * self.kernel[0] * self.kernel[1]

    @property
    def macs(self) -> int:
        return self.out_channels * self.out_h * self.out_w * self.reduction

    @property
    def weight_count(self) -> int:
        return self.out_channels * self.reduction

    @property
    def weight_bits(self) -> int:
        return self.weight_count * self.weights.storage_bits

    @property
    def input_bits(self) -> int:
        return math.prod(self.in_shape) * self.activations.storage_bits

    @property
    def output_bits(self) -> int:
        return math.prod(self.out_shape) * self.output.storage_bits


def Linear(
    name: str,
    in_features: int,
    out_features: int,
    *,
    weights: NumberFormat = BINARY,
    activations: NumberFormat = BINARY,
    output: NumberFormat = BINARY,
) -> Conv2d:
    """A fully connected layer: a 1×1 convolution over a 1×1 map, kind ``FC``."""
    return Conv2d(name, (in_features, 1, 1), out_features, (1, 1), weights=weights,
                  activations=activations, output=output, kind=LayerKind.FC)


@dataclass(frozen=True, slots=True)
class Pool:
    """Max or average pooling (max-pool on binary maps is an OR in the post-processing unit)."""

    name: str
    in_shape: Shape
    kernel: int
    stride: int
    padding: int = 0
    mode: Literal["max", "avg", "global_avg"] = "max"
    activations: NumberFormat = BINARY
    output: NumberFormat = BINARY
    kind: LayerKind = field(default=LayerKind.POOL, init=False)

    def __post_init__(self) -> None:
        for key, value in (("kernel", self.kernel), ("stride", self.stride),
                           *zip(("in_c", "in_h", "in_w"), self.in_shape, strict=True)):
            _positive(self.name, key, value)
        if self.mode not in ("max", "avg", "global_avg"):
            raise ConfigError("allowed: max, avg, global_avg", key=f"{self.name}.mode",
                              value=self.mode, has_value=True)
        if not 0 <= self.padding <= self.kernel // 2:
            raise ConfigError(f"pooling padding must be in [0, kernel // 2 = {self.kernel // 2}]",
                              key=f"{self.name}.padding", value=self.padding, has_value=True)
        if self.out_shape[1] < 1 or self.out_shape[2] < 1:
            raise ConfigError("pooling window larger than the input", key=f"{self.name}.kernel")

    @property
    def out_shape(self) -> Shape:
        c, h, w = self.in_shape
        if self.mode == "global_avg":
            return (c, 1, 1)
        return (c, _conv_out(h, self.kernel, self.stride, self.padding),
                _conv_out(w, self.kernel, self.stride, self.padding))

    @property
    def window(self) -> int:
        """Inputs combined into one output."""
        return self.in_shape[1] * self.in_shape[2] if self.mode == "global_avg" else \
            self.kernel * self.kernel

    macs = 0
    weight_bits = 0

    @property
    def input_bits(self) -> int:
        return math.prod(self.in_shape) * self.activations.storage_bits

    @property
    def output_bits(self) -> int:
        return math.prod(self.out_shape) * self.output.storage_bits


@dataclass(frozen=True, slots=True)
class Add:
    """Element-wise residual add of two equal-shaped maps (Bi-Real shortcuts)."""

    name: str
    in_shape: Shape
    activations: NumberFormat = INT8
    output: NumberFormat = BINARY
    kind: LayerKind = field(default=LayerKind.ADD, init=False)

    def __post_init__(self) -> None:
        for key, value in zip(("in_c", "in_h", "in_w"), self.in_shape, strict=True):
            _positive(self.name, key, value)

    @property
    def out_shape(self) -> Shape:
        return self.in_shape

    macs = 0
    weight_bits = 0

    @property
    def input_bits(self) -> int:
        """Both operands."""
        return 2 * math.prod(self.in_shape) * self.activations.storage_bits

    @property
    def output_bits(self) -> int:
        return math.prod(self.out_shape) * self.output.storage_bits


Layer = Conv2d | Pool | Add
