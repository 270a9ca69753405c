"""PACT: parameterised clipping activations (Choi et al., "PACT: Parameterized Clipping
Activation for Quantized Neural Networks", 2018)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from reference.quantizers._base import CODE_DTYPE, Codes, Quantizer, check_bits, straight_through

__all__ = ["Pact"]

#: α never goes below this (a clipping level of 0 would make every code 0 and the step 0)
MIN_ALPHA = 1e-3


class Pact(Quantizer):
    """PACT activations, registry name ``pact`` (kwargs ``bits`` k, 1 to 16; ``alpha``, the
    initial clipping level, default 10 as in the paper).

    ``y = clip(x, 0, α) = ½(|x| − |x − α| + α)``, quantised to k bits: ``y_q = round(y·n/α)·α/n``
    with n = 2^k − 1. α is one trainable ``nn.Parameter`` per layer (the paper regularises it
    with L2; pass it to the optimiser's weight decay). Backward (the paper's eq. 3, the STE
    through the rounding): ``∂y_q/∂x = 1{0 ≤ x ≤ α}`` and ``∂y_q/∂α = 1{x ≥ α}``.

    ``int_repr(x)``: unsigned int32 codes ``round(clip(x, 0, α)·n/α)`` in 0..n and the 0-d
    scale ``α/n``. α is used as ``max(α, 10⁻³)``.
    """

    def __init__(self, *, bits: int = 2, alpha: float = 10.0) -> None:
        bits = check_bits("pact", bits, range(1, 17))
        if not alpha > 0:
            raise ValueError(f"quantizer 'pact' takes alpha > 0, not {alpha!r}")
        super().__init__(kind="int", bits=bits)
        self.alpha = nn.Parameter(torch.tensor(float(alpha)))

    def _alpha(self, like: Tensor) -> Tensor:
        return self.alpha.to(like.dtype).clamp_min(MIN_ALPHA)

    def int_repr(self, x: Tensor) -> Codes:
        """Codes ``round(clip(x, 0, α)·n/α)`` and the scale α/n."""
        n = 2**self.bits - 1
        a = self._alpha(x).detach()
        codes = torch.round(torch.minimum(x.detach().clamp_min(0), a) * n / a)
        return codes.to(CODE_DTYPE), a / n

    def forward(self, x: Tensor) -> Tensor:
        # the surrogate's gradients are the rule's: 1{0 ≤ x ≤ α} for x (relu's at 0 is 0,
        # which only changes a measure-zero set), and 1{x ≥ α} for α
        surrogate = torch.minimum(torch.relu(x), self._alpha(x))
        return straight_through(self.dequantize(self.int_repr(x)), surrogate)
