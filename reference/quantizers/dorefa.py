"""DoReFa-Net k-bit weights and activations (Zhou et al. 2016), with their STE rules."""

from __future__ import annotations

import torch
from torch import Tensor

from reference.quantizers._base import (
    CODE_DTYPE,
    Codes,
    Quantizer,
    check_bits,
    sign_codes,
    straight_through,
)

__all__ = ["DorefaActivation", "DorefaWeight"]


class DorefaWeight(Quantizer):
    """DoReFa-Net weights, registry name ``dorefa_weight`` (kwarg ``bits`` k, 1 to 16).

    k ≥ 2: ``u = tanh(W) / (2·max|tanh(W)|) + 1/2`` ∈ [0, 1], rounded to the k-bit grid
    ``c / n`` (n = 2^k − 1, c ∈ 0..n), output ``2·c/n − 1`` ∈ [−1, 1]. Backward: the STE
    through the rounding only; the gradient flows through tanh and the max normaliser by
    autograd, as in the authors' TensorFlow code. ``kind`` is ``int``.

    k = 1: ``sign(W) · E|W|`` (E over the whole layer, a constant in the backward pass),
    backward the unclipped STE ``∂L/∂W = ∂L/∂W_q``. ``kind`` is ``binary``.

    ``int_repr(W)``: k ≥ 2: odd int32 codes ``2c − n`` ∈ {−n, −n+2, ..., n} and the 0-d
    scale ``1/n`` (the stored unsigned k-bit code is ``(code + n) // 2``); k = 1: ±1 codes
    and the 0-d scale E|W|.
    """

    def __init__(self, *, bits: int = 2) -> None:
        bits = check_bits("dorefa_weight", bits, range(1, 17))
        super().__init__(kind="binary" if bits == 1 else "int", bits=bits)

    def _normalised(self, w: Tensor) -> Tensor:
        """``u = tanh(w) / (2 max|tanh w|) + 1/2``, differentiable in ``w``."""
        t = torch.tanh(w)
        peak = t.abs().amax().clamp_min(torch.finfo(t.dtype).tiny)
        return t / (2 * peak) + 0.5

    def int_repr(self, x: Tensor) -> Codes:
        """Odd codes ``2c − n`` with scale 1/n (k ≥ 2), or ±1 codes with scale E|W| (k = 1)."""
        w = x.detach()
        if self.bits == 1:
            return sign_codes(w), w.abs().mean()
        n = 2**self.bits - 1
        c = torch.round(self._normalised(w) * n).to(CODE_DTYPE)
        scale = torch.tensor(1.0 / n, dtype=w.dtype, device=w.device)
        return 2 * c - n, scale

    def forward(self, x: Tensor) -> Tensor:
        q = self.dequantize(self.int_repr(x))
        if self.bits == 1:
            return straight_through(q, x)
        return straight_through(q, 2 * self._normalised(x) - 1)


class DorefaActivation(Quantizer):
    """DoReFa-Net activations, registry name ``dorefa_act`` (kwarg ``bits`` k, 1 to 16).

    ``round(clip(x, 0, 1) · n) / n`` with n = 2^k − 1. Backward: ``grad · 1{0 ≤ x ≤ 1}`` (the
    STE through the rounding, zero where the clip saturates).

    ``int_repr(x)``: unsigned int32 codes in 0..n and the 0-d scale ``1/n``.
    """

    def __init__(self, *, bits: int = 2) -> None:
        bits = check_bits("dorefa_act", bits, range(1, 17))
        super().__init__(kind="int", bits=bits)

    def int_repr(self, x: Tensor) -> Codes:
        """Codes ``round(clip(x, 0, 1)·n)`` and the scale 1/n."""
        n = 2**self.bits - 1
        codes = torch.round(x.detach().clamp(0, 1) * n).to(CODE_DTYPE)
        return codes, torch.tensor(1.0 / n, dtype=x.dtype, device=x.device)

    def forward(self, x: Tensor) -> Tensor:
        inside = ((x.detach() >= 0) & (x.detach() <= 1)).to(x.dtype)
        return straight_through(self.dequantize(self.int_repr(x)), x * inside)
