"""Symmetric uniform k-bit quantiser (signed 8-bit edges) and the float passthrough."""

from __future__ import annotations

import torch
from torch import Tensor

from reference.quantizers._base import CODE_DTYPE, Codes, Quantizer, check_bits, straight_through

__all__ = ["FloatIdentity", "UniformSymmetric"]


class UniformSymmetric(Quantizer):
    """Signed symmetric uniform quantiser, registry name ``uniform`` (kwarg ``bits`` k, 2 to 16).

    One scale per slice along dim 0 — per sample for activations ``(N, ...)``, per output
    channel for weights ``(out, ...)`` — so a sample's quantised value does not depend on its
    batch-mates: scale = max|slice| / (2^(k−1) − 1) (1 for an all-zero slice). A tensor of
    fewer than two dimensions has no batch axis and gets one scale. Codes = round(x / scale)
    in [−(2^(k−1) − 1), 2^(k−1) − 1] (the most negative code is unused so the range is
    symmetric), output ``codes · scale``. Backward: the plain STE (``∂L/∂x = ∂L/∂x_q``), the
    scale a constant.

    ``int_repr(x)``: signed int32 codes and the scale, shape ``(N, 1, ..., 1)`` (0-d for a
    tensor of fewer than two dimensions).
    """

    def __init__(self, *, bits: int = 8) -> None:
        bits = check_bits("uniform", bits, range(2, 17))
        super().__init__(kind="int", bits=bits)

    def int_repr(self, x: Tensor) -> Codes:
        """Signed codes ``round(x / scale)`` and the per-slice (dim 0) scale."""
        xd = x.detach()
        qmax = 2 ** (self.bits - 1) - 1
        if xd.dim() < 2:
            peak = xd.abs().amax()
        else:
            peak = xd.abs().amax(dim=tuple(range(1, xd.dim())), keepdim=True)
        scale = torch.where(peak > 0, peak / qmax, torch.ones_like(peak))
        codes = torch.round(xd / scale).clamp(-qmax, qmax).to(CODE_DTYPE)
        return codes, scale

    def forward(self, x: Tensor) -> Tensor:
        return straight_through(self.dequantize(self.int_repr(x)), x)


class FloatIdentity(Quantizer):
    """Full precision, registry name ``identity``: returns its input unchanged (kind ``float``).

    It has no integer form: ``int_repr`` raises ``NotImplementedError``.
    """

    def __init__(self, *, bits: int = 32) -> None:
        check_bits("identity", bits, range(32, 33))
        super().__init__(kind="float", bits=32)

    def forward(self, x: Tensor) -> Tensor:
        return x
