"""Quantised convolution and fully connected layers.

A layer quantises its *input* activations and its weights, then runs the ordinary float
convolution / matrix product on the quantised values (fake quantisation with straight-through
gradients inside the quantisers). Batch-norm, pooling and residual adds live in the model, so
a block reads ``QConv → BN → (pool)`` and the next layer's input quantiser applies the sign, as
in Courbariaux et al. 2016 and FINN.

Quantisers are passed by keyword (``weight_quantizer=``, ``input_quantizer=``); each carries
its number format as ``kind`` and ``bits`` metadata.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from reference.qconfig import LayerQuant, OperandQuant

__all__ = ["QConv2d", "QLinear", "QuantLayer", "make_qlayer", "make_quantizer"]


def make_quantizer(
    operand: OperandQuant, *, kernel_size: int | None = None, stride: int = 1, padding: int = 0,
) -> nn.Module:
    """Build the registry quantiser named by ``operand`` with its bit-width or base count.

    The convolution's geometry is passed to ``xnor_act``, whose scaling map K averages over
    the kernel window.
    """
    from reference.quantizers import get

    name = operand.quantizer
    kwargs: dict[str, Any] = {}
    if operand.kind == "int":
        kwargs["bits"] = operand.bits
    elif operand.kind == "bases":
        kwargs["bases"] = operand.bases
    if name == "xnor_act" and kernel_size is not None:
        kwargs.update(kernel_size=kernel_size, stride=stride,
                      padding=min(padding, kernel_size // 2))
    return get(name, **kwargs)


def _identity() -> nn.Module:
    from reference.quantizers import get

    return get("identity")


class QuantLayer:
    """Mixin shared by :class:`QConv2d` and :class:`QLinear`: quantisers and their formats.

    ``quant`` is the :class:`LayerQuant` the layer was built from (``None`` when the
    quantisers were passed directly); ``input_dropout`` is the probability of dropping a
    quantised input element while training (Brevitas' bnn_pynq MLPs use 0.2);
    ``input_activation`` runs before the input quantiser (a ReLU where the quantiser itself is
    linear, e.g. full precision; identity otherwise).
    """

    weight: torch.Tensor
    weight_quantizer: nn.Module
    input_quantizer: nn.Module
    input_activation: nn.Module
    input_dropout: float
    quant: LayerQuant | None

    def _init_quant(
        self,
        weight_quantizer: nn.Module | None,
        input_quantizer: nn.Module | None,
        input_activation: nn.Module | None,
        input_dropout: float,
        quant: LayerQuant | None,
    ) -> None:
        if not 0.0 <= input_dropout < 1.0:
            raise ValueError(f"input_dropout must be in [0, 1), got {input_dropout}")
        self.weight_quantizer = weight_quantizer if weight_quantizer is not None else _identity()
        self.input_quantizer = input_quantizer if input_quantizer is not None else _identity()
        self.input_activation = input_activation if input_activation is not None \
            else nn.Identity()
        self.input_dropout = float(input_dropout)
        self.quant = quant

    @property
    def weight_kind(self) -> str:
        """Weight format kind: binary, ternary, int, bases or float."""
        return str(getattr(self.weight_quantizer, "kind", "float"))

    @property
    def weight_bits(self) -> int:
        """Storage bits of one weight (1 binary, 2 ternary, k int, M bases, 32 float)."""
        return int(getattr(self.weight_quantizer, "bits", 32))

    @property
    def input_kind(self) -> str:
        """Input-activation format kind."""
        return str(getattr(self.input_quantizer, "kind", "float"))

    @property
    def input_bits(self) -> int:
        """Storage bits of one input activation."""
        return int(getattr(self.input_quantizer, "bits", 32))

    def quantized_weight(self) -> torch.Tensor:
        """The weights as the layer uses them in its forward pass (quantiser applied)."""
        return self.weight_quantizer(self.weight)

    @property
    def input_relu(self) -> bool:
        """Whether a ReLU precedes the input quantiser."""
        return isinstance(self.input_activation, nn.ReLU)

    def _quantize_input(self, x: torch.Tensor) -> torch.Tensor:
        x = self.input_quantizer(self.input_activation(x))
        if self.input_dropout > 0.0 and self.training:  # type: ignore[attr-defined]
            x = F.dropout(x, p=self.input_dropout, training=True)
        return x


class QConv2d(QuantLayer, nn.Conv2d):
    """A 2-D convolution with quantised input activations and weights."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        stride: int = 1,
        padding: int = 0,
        groups: int = 1,
        bias: bool = False,
        weight_quantizer: nn.Module | None = None,
        input_quantizer: nn.Module | None = None,
        input_activation: nn.Module | None = None,
        input_dropout: float = 0.0,
        quant: LayerQuant | None = None,
    ) -> None:
        nn.Conv2d.__init__(
            self, in_channels, out_channels, kernel_size, stride=stride, padding=padding,
            groups=groups, bias=bias,
        )
        self._init_quant(weight_quantizer, input_quantizer, input_activation, input_dropout,
                         quant)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(self._quantize_input(x), self.quantized_weight(), self.bias)

    def macs_per_sample(self, output_hw: tuple[int, int]) -> int:
        """Multiply-accumulates for one input sample given the output's height and width."""
        kh, kw = self.kernel_size
        return (output_hw[0] * output_hw[1] * self.out_channels
                * (self.in_channels // self.groups) * kh * kw)


class QLinear(QuantLayer, nn.Linear):
    """A fully connected layer with quantised input activations and weights."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        bias: bool = False,
        weight_quantizer: nn.Module | None = None,
        input_quantizer: nn.Module | None = None,
        input_activation: nn.Module | None = None,
        input_dropout: float = 0.0,
        quant: LayerQuant | None = None,
    ) -> None:
        nn.Linear.__init__(self, in_features, out_features, bias=bias)
        self._init_quant(weight_quantizer, input_quantizer, input_activation, input_dropout,
                         quant)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(self._quantize_input(x), self.quantized_weight(), self.bias)

    def macs_per_sample(self) -> int:
        """Multiply-accumulates for one input sample."""
        return self.in_features * self.out_features


def make_qlayer(
    lq: LayerQuant,
    *,
    in_features: int,
    out_features: int,
    kernel_size: int | None = None,
    stride: int = 1,
    padding: int = 0,
    groups: int = 1,
    bias: bool = False,
    input_relu: bool = False,
    input_dropout: float = 0.0,
) -> QConv2d | QLinear:
    """A :class:`QConv2d` (``kernel_size`` given) or :class:`QLinear` quantised as ``lq``.

    ``in_features``/``out_features`` are channels for a convolution; ``input_relu`` puts a
    ReLU before the input quantiser.
    """
    wq = make_quantizer(lq.weights)
    aq = make_quantizer(lq.activations, kernel_size=kernel_size, stride=stride, padding=padding)
    act = nn.ReLU() if input_relu else None
    if kernel_size is None:
        if (stride, padding, groups) != (1, 0, 1):
            raise ValueError("stride, padding and groups apply to convolutions only")
        return QLinear(in_features, out_features, bias=bias, weight_quantizer=wq,
                       input_quantizer=aq, input_activation=act, input_dropout=input_dropout,
                       quant=lq)
    return QConv2d(in_features, out_features, kernel_size, stride=stride, padding=padding,
                   groups=groups, bias=bias, weight_quantizer=wq, input_quantizer=aq,
                   input_activation=act, input_dropout=input_dropout, quant=lq)
