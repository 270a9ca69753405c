"""Sign binarisers that differ only in their backward rule: STE, ApproxSign, SignSwish.

All three output exactly ±1 (+1 at zero, never 0); ``int_repr(x)`` is ``(codes, 1.0)``
with ``codes`` the ±1 int32 signs and a 0-d unit scale.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from reference.quantizers._base import Codes, Quantizer, check_bits, sign_codes, straight_through

__all__ = ["ApproxSign", "SignSwish", "SteSign"]


class _SignBase(Quantizer):
    """Forward sign (±1, +1 at 0); subclasses supply the surrogate for the backward pass."""

    def __init__(self, *, name: str, bits: int) -> None:
        check_bits(name, bits, range(1, 2))
        super().__init__(kind="binary", bits=1)

    def int_repr(self, x: Tensor) -> Codes:
        """±1 int32 codes and a 0-d scale of 1 in ``x``'s dtype."""
        return sign_codes(x.detach()), torch.ones((), dtype=x.dtype, device=x.device)

    def surrogate(self, x: Tensor) -> Tensor:
        raise NotImplementedError("each sign quantiser defines its backward surrogate")

    def forward(self, x: Tensor) -> Tensor:
        return straight_through(self.dequantize(self.int_repr(x)), self.surrogate(x))


class SteSign(_SignBase):
    """BinaryConnect / BNN sign (Courbariaux, Hubara et al. 2016), registry name ``sign``.

    Backward: the clipped straight-through estimator, ``grad · 1{|x| ≤ 1}`` (the gradient of
    hard-tanh, bounds included), which cancels the gradient of saturated inputs.
    """

    def __init__(self, *, bits: int = 1) -> None:
        super().__init__(name="sign", bits=bits)

    def surrogate(self, x: Tensor) -> Tensor:
        return x * (x.detach().abs() <= 1).to(x.dtype)


class ApproxSign(_SignBase):
    """Bi-Real Net's ApproxSign (Liu et al., ECCV 2018), registry name ``approx_sign``.

    Backward: the derivative of the piecewise quadratic ``F(x)`` that approximates sign:
    ``2 + 2x`` on ``[−1, 0)``, ``2 − 2x`` on ``[0, 1)``, 0 elsewhere — a tighter fit to sign
    than the STE's box.
    """

    def __init__(self, *, bits: int = 1) -> None:
        super().__init__(name="approx_sign", bits=bits)

    def surrogate(self, x: Tensor) -> Tensor:
        one = torch.ones_like(x)
        return torch.where(
            x < -1, -one,
            torch.where(x < 0, 2 * x + x * x, torch.where(x < 1, 2 * x - x * x, one)),
        )


class SignSwish(_SignBase):
    """BNN+ SignSwish (Darabi et al. 2018), registry name ``signswish``.

    Backward: the derivative of ``SS_β(x) = 2σ(βx)[1 + βx(1 − σ(βx))] − 1``, i.e.
    ``β(2 − βx·tanh(βx/2)) / (1 + cosh(βx))``; larger β approaches sign more closely.
    ``beta`` is a buffer, or an ``nn.Parameter`` trained with the network when
    ``trainable=True`` (it then receives the gradient of ``SS_β`` with respect to β).
    """

    beta: Tensor

    def __init__(self, *, beta: float = 5.0, trainable: bool = False, bits: int = 1) -> None:
        super().__init__(name="signswish", bits=bits)
        if not beta > 0:
            raise ValueError(f"quantizer 'signswish' takes beta > 0, not {beta!r}")
        value = torch.tensor(float(beta))
        if trainable:
            self.beta = nn.Parameter(value)
        else:
            self.register_buffer("beta", value)

    def surrogate(self, x: Tensor) -> Tensor:
        bx = self.beta.to(x.dtype) * x
        s = torch.sigmoid(bx)
        return 2 * s * (1 + bx * (1 - s)) - 1

    def extra_repr(self) -> str:
        trainable = isinstance(self.beta, nn.Parameter)
        return f"{super().extra_repr()}, beta={float(self.beta):g}, trainable={trainable}"
