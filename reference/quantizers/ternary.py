"""Ternary weight quantisers: TWN (Li & Liu 2016) and TTQ (Zhu et al., ICLR 2017).

Both output values in {−s_n, 0, +s_p}; ``int_repr`` codes are int32 in {−1, 0, +1}.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from reference.quantizers._base import CODE_DTYPE, Codes, Quantizer, check_bits, straight_through

__all__ = ["TernaryWeight", "TrainedTernary"]


def _ternary_codes(w: Tensor, delta: Tensor) -> Tensor:
    """{−1, 0, +1} int32 codes: the sign of ``w`` where ``|w| > delta``, else 0."""
    return (w > delta).to(CODE_DTYPE) - (w < -delta).to(CODE_DTYPE)


class TernaryWeight(Quantizer):
    """Ternary Weight Networks, registry name ``twn``: W_t ∈ {−α, 0, +α}.

    Δ = ``threshold_factor`` · mean|W| (the paper's 0.7 approximation of the optimal
    threshold), α = mean of |W| over the weights with |W| > Δ; per layer, or per output
    channel with ``per_channel=True``. Backward: the plain straight-through estimator
    (``∂L/∂W = ∂L/∂W_t``); Δ and α are treated as constants.

    ``int_repr(W)``: {−1, 0, +1} codes and α (0-d, or ``(C, 1, ..., 1)`` per channel).
    """

    def __init__(
        self, *, per_channel: bool = False, threshold_factor: float = 0.7, bits: int = 2
    ) -> None:
        check_bits("twn", bits, range(2, 3))
        super().__init__(kind="ternary", bits=2)
        if not threshold_factor >= 0:
            raise ValueError(f"quantizer 'twn' takes threshold_factor >= 0, "
                             f"not {threshold_factor!r}")
        self.per_channel = per_channel
        self.threshold_factor = float(threshold_factor)

    def _sum(self, t: Tensor) -> Tensor:
        """Sum per output channel (keeping dims) or over the whole tensor (0-d)."""
        if self.per_channel and t.dim() >= 2:
            return t.sum(dim=tuple(range(1, t.dim())), keepdim=True)
        return t.sum()

    def int_repr(self, x: Tensor) -> Codes:
        """Ternary codes and α = mean |W| over the kept weights (0 where none is kept)."""
        w = x.detach()
        absw = w.abs()
        count = w[0].numel() if self.per_channel and w.dim() >= 2 else w.numel()
        delta = self.threshold_factor * self._sum(absw) / count
        codes = _ternary_codes(w, delta)
        kept = (codes != 0).to(w.dtype)
        alpha = self._sum(absw * kept) / self._sum(kept).clamp_min(1)
        return codes, alpha

    def forward(self, x: Tensor) -> Tensor:
        return straight_through(self.dequantize(self.int_repr(x)), x)

    def extra_repr(self) -> str:
        return (f"{super().extra_repr()}, per_channel={self.per_channel}, "
                f"threshold_factor={self.threshold_factor:g}")


class _TTQFunction(torch.autograd.Function):
    """w_t = W_p on {w > Δ}, 0 on {|w| ≤ Δ}, −W_n on {w < −Δ}; TTQ's backward (Sec. 3)."""

    @staticmethod
    def forward(w: Tensor, w_p: Tensor, w_n: Tensor, delta: Tensor) -> Tensor:
        codes = _ternary_codes(w, delta)
        scale = torch.where(codes > 0, w_p.to(w.dtype), w_n.to(w.dtype))
        return codes.to(w.dtype) * scale

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Tensor, ...], output: Tensor) -> None:
        w, w_p, w_n, delta = inputs
        ctx.save_for_backward(_ternary_codes(w, delta), w_p, w_n)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, Tensor, Tensor, None]:
        codes, w_p, w_n = ctx.saved_tensors
        pos, neg = codes > 0, codes < 0
        factor = torch.where(pos, w_p.to(grad.dtype),
                             torch.where(neg, w_n.to(grad.dtype), torch.ones_like(grad)))
        grad_w_p = (grad * pos).sum().to(w_p.dtype).reshape(w_p.shape)
        grad_w_n = -(grad * neg).sum().to(w_n.dtype).reshape(w_n.shape)
        return grad * factor, grad_w_p, grad_w_n, None


class TrainedTernary(Quantizer):
    """Trained Ternary Quantization, registry name ``ttq``: W_t ∈ {−W_n, 0, +W_p}.

    Δ = ``threshold`` · max|W| (t = 0.05 in the paper), per layer, treated as a constant.
    ``w_p`` and ``w_n`` are positive trainable scales (``nn.Parameter``, initialised to
    ``init_scale``; the authors' code starts both at 1.0). Backward (paper eqs. 7–8):

    * latent weights: ``∂L/∂w̃ = W_p·∂L/∂w_t`` where w̃ > Δ, ``1·∂L/∂w_t`` where |w̃| ≤ Δ,
      ``W_n·∂L/∂w_t`` where w̃ < −Δ;
    * ``∂L/∂W_p = Σ_{i∈I_p} ∂L/∂w_t(i)``;
    * ``∂L/∂W_n = −Σ_{i∈I_n} ∂L/∂w_t(i)``. The paper prints this sum without the minus;
      since it defines the negative value as −W_n with W_n > 0, the chain rule (and the
      authors' TensorFlow code, which differentiates ``W_n · sign(w)``) carries the minus.

    ``int_repr(W)``: {−1, 0, +1} codes and the elementwise scale ``where(codes > 0, W_p, W_n)``
    (shape of W), so that ``codes · scale`` is the output; the two scalars are ``w_p``, ``w_n``.
    """

    def __init__(self, *, threshold: float = 0.05, init_scale: float = 1.0, bits: int = 2) -> None:
        check_bits("ttq", bits, range(2, 3))
        super().__init__(kind="ternary", bits=2)
        if not 0 <= threshold < 1:
            raise ValueError(f"quantizer 'ttq' takes 0 <= threshold < 1, not {threshold!r}")
        if not init_scale > 0:
            raise ValueError(f"quantizer 'ttq' takes init_scale > 0, not {init_scale!r}")
        self.threshold = float(threshold)
        self.w_p = nn.Parameter(torch.tensor(float(init_scale)))
        self.w_n = nn.Parameter(torch.tensor(float(init_scale)))

    def delta(self, w: Tensor) -> Tensor:
        """The threshold Δ = t · max|W| (0-d, no gradient)."""
        return self.threshold * w.detach().abs().amax()

    def int_repr(self, x: Tensor) -> Codes:
        """Ternary codes and the elementwise scale (W_p on positive codes, W_n elsewhere)."""
        w = x.detach()
        codes = _ternary_codes(w, self.delta(w))
        scale = torch.where(codes > 0, self.w_p.detach().to(w.dtype),
                            self.w_n.detach().to(w.dtype))
        return codes, scale

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = _TTQFunction.apply(x, self.w_p, self.w_n, self.delta(x))
        return out

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, threshold={self.threshold:g}"
