"""Quantised convolution and fully connected layers.

A layer quantises its *input* activations and its weights, then runs the ordinary float
convolution / matrix product on the quantised values (fake quantisation with straight-through
gradients inside the quantisers). Batch-norm, pooling and residual adds live in the model, so
a block reads ``QConv → BN → (pool)`` and the next layer's input quantiser applies the sign, as
in Courbariaux et al. 2016 and FINN.

Quantisers are passed by keyword (``weight_quantizer=``, ``input_quantizer=``); each carries
its number format as ``kind`` and ``bits`` metadata. XNOR-Net's ``xnor_act`` is the one input
quantiser whose scale is not applied to the input: the layer multiplies its ±1 codes by the
quantised weights and scales the *output* by K (convolutions) or β (fully connected).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from reference.quantizers.xnor import XnorActivation
from workloads.quant import LayerQuant, OperandQuant

__all__ = ["Gate", "QConv2d", "QLinear", "QuantLayer", "make_qlayer", "make_quantizer"]


class Gate(nn.Module):
    """Real-to-Binary's data-driven channel re-scaling (Martinez, Yang, Bulat &
    Tzimiropoulos, ICLR 2020, "gating"): from the layer's real-valued input, per sample,
    ``σ(W₂·ReLU(W₁·s + b₁) + b₂)`` with ``s`` the input's per-channel average (a fully
    connected layer's input vector itself), ``W₁`` of ``C → max(1, C // r)`` and ``W₂`` to the
    output channels; the layer's output is multiplied by it channel by channel. The two small
    layers are real-valued here (8-bit on the simulated hardware, ``workloads.network
    .gate_layers``)."""

    def __init__(self, channels: int, out_features: int, reduction: int) -> None:
        super().__init__()
        if reduction < 1:
            raise ValueError(f"a gate's reduction ratio is ≥ 1, not {reduction!r}")
        self.reduction = reduction
        self.channels = channels
        hidden = max(1, channels // reduction)
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The gates of input ``x``: (N, out, 1, 1) for a map (N, C, H, W); (N, out) for a
        vector — a flattened map (N, C·H·W) is averaged per channel first."""
        if x.dim() == 4:
            s = x.mean(dim=(2, 3))
        elif x.shape[1] != self.channels:  # a map flattened for a fully connected layer
            s = x.reshape(x.shape[0], self.channels, -1).mean(dim=2)
        else:
            s = x
        g = torch.sigmoid(self.fc2(F.relu(self.fc1(s))))
        return g[:, :, None, None] if x.dim() == 4 else g

    def extra_repr(self) -> str:
        return f"reduction={self.reduction}"


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
    if operand.kind in ("int", "pow2"):
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
    gate: Gate | None

    def _init_quant(
        self,
        weight_quantizer: nn.Module | None,
        input_quantizer: nn.Module | None,
        input_activation: nn.Module | None,
        input_dropout: float,
        quant: LayerQuant | None,
        gate: Gate | None = None,
    ) -> None:
        if not 0.0 <= input_dropout < 1.0:
            raise ValueError(f"input_dropout must be in [0, 1), got {input_dropout}")
        self.weight_quantizer = weight_quantizer if weight_quantizer is not None else _identity()
        self.input_quantizer = input_quantizer if input_quantizer is not None else _identity()
        self.input_activation = input_activation if input_activation is not None \
            else nn.Identity()
        self.input_dropout = float(input_dropout)
        self.quant = quant
        self.gate = gate
        bind = getattr(self.weight_quantizer, "bind", None)
        if callable(bind):  # a quantiser with per-weight state (INQ's freeze masks)
            bind(self.weight)

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

    def _quantize_input(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The MAC's input and the factor for its output (XNOR-Net's K or β), or None.

        An ``xnor_act`` input quantiser contributes only its ±1 codes to the MAC (STE
        gradient intact); its scale multiplies the output, as in Rastegari et al. 2016.
        """
        x = self.input_activation(x)
        q = self.input_quantizer
        out_scale: torch.Tensor | None = None
        if isinstance(q, XnorActivation):
            out_scale = q.output_scale(x)
            x = q.signs(x)
        else:
            x = q(x)
        if self.input_dropout > 0.0 and self.training:  # type: ignore[attr-defined]
            x = F.dropout(x, p=self.input_dropout, training=True)
        return x, out_scale

    def _scale_output(self, y: torch.Tensor, out_scale: torch.Tensor | None,
                      bias: torch.Tensor | None, gates: torch.Tensor | None = None
                      ) -> torch.Tensor:
        """``y · out_scale · gates + bias`` (the bias is added after XNOR-Net's output scaling
        and the gates)."""
        if gates is not None:
            y = y * gates
        if out_scale is not None:
            if out_scale.dim() == 4 and out_scale.shape[-2:] not in ((1, 1), y.shape[-2:]):
                raise ValueError(f"xnor_act's K map {tuple(out_scale.shape[-2:])} does not "
                                 f"match the convolution output {tuple(y.shape[-2:])}; "
                                 "build the quantiser with the conv's stride and padding")
            y = y * out_scale
        if bias is not None:
            y = y + (bias.view(1, -1, 1, 1) if y.dim() == 4 else bias)
        return y


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
        gate: Gate | None = None,
    ) -> None:
        nn.Conv2d.__init__(
            self, in_channels, out_channels, kernel_size, stride=stride, padding=padding,
            groups=groups, bias=bias,
        )
        self._init_quant(weight_quantizer, input_quantizer, input_activation, input_dropout,
                         quant, gate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gates = self.gate(x) if self.gate is not None else None
        xq, out_scale = self._quantize_input(x)
        if out_scale is None and gates is None:
            return self._conv_forward(xq, self.quantized_weight(), self.bias)
        y = self._conv_forward(xq, self.quantized_weight(), None)
        return self._scale_output(y, out_scale, self.bias, gates)

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
        gate: Gate | None = None,
    ) -> None:
        nn.Linear.__init__(self, in_features, out_features, bias=bias)
        self._init_quant(weight_quantizer, input_quantizer, input_activation, input_dropout,
                         quant, gate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gates = self.gate(x) if self.gate is not None else None
        xq, out_scale = self._quantize_input(x)
        if out_scale is None and gates is None:
            return F.linear(xq, self.quantized_weight(), self.bias)
        return self._scale_output(F.linear(xq, self.quantized_weight()), out_scale, self.bias,
                                  gates)

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
    gate_channels: int | None = None,
) -> QConv2d | QLinear:
    """A :class:`QConv2d` (``kernel_size`` given) or :class:`QLinear` quantised as ``lq``.

    ``in_features``/``out_features`` are channels for a convolution; ``input_relu`` puts a
    ReLU before the input quantiser; ``gate_channels``: the channels of the map a fully
    connected layer's gate averages (its input vector flattened from C × H × W; default:
    ``in_features``).
    """
    wq = make_quantizer(lq.weights)
    aq = make_quantizer(lq.activations, kernel_size=kernel_size, stride=stride, padding=padding)
    act = nn.ReLU() if input_relu else None
    gate = Gate(gate_channels or in_features, out_features, lq.gate) if lq.gate else None
    if kernel_size is None:
        if (stride, padding, groups) != (1, 0, 1):
            raise ValueError("stride, padding and groups apply to convolutions only")
        return QLinear(in_features, out_features, bias=bias, weight_quantizer=wq,
                       input_quantizer=aq, input_activation=act, input_dropout=input_dropout,
                       quant=lq, gate=gate)
    return QConv2d(in_features, out_features, kernel_size, stride=stride, padding=padding,
                   groups=groups, bias=bias, weight_quantizer=wq, input_quantizer=aq,
                   input_activation=act, input_dropout=input_dropout, quant=lq, gate=gate)
