"""BNN+ regularisers (Darabi et al. 2018): pull latent weights towards ±α, α per filter.

``R1(w) = |α − |w||`` and ``R2(w) = (α − |w|)²``, summed over the weights; training adds
``λ · reg(weight)`` to the loss so that the weights cluster near the binary values ±α and
flip less often. α is one trainable scale per output channel.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

__all__ = ["BNNPlusRegularizer", "bnnplus_regularizer"]

RegularizerKind = Literal["l1", "l2"]


def bnnplus_regularizer(weight: Tensor, scale: Tensor, *, kind: RegularizerKind = "l1") -> Tensor:
    """Σ R(w) for ``weight`` (out_channels, ...) and per-filter ``scale`` (out_channels,).

    ``kind="l1"``: Σ |α_c − |w||; ``kind="l2"``: Σ (α_c − |w|)². A 0-d tensor, differentiable
    in both the weight and the scale.
    """
    if kind not in ("l1", "l2"):
        raise ValueError(f"BNN+ regulariser kind must be 'l1' or 'l2', not {kind!r}")
    if weight.dim() < 1 or scale.shape != weight.shape[:1]:
        raise ValueError(f"scale must have shape (out_channels,) = {tuple(weight.shape[:1])}, "
                         f"got {tuple(scale.shape)}")
    alpha = scale.reshape(-1, *([1] * (weight.dim() - 1)))
    gap = alpha - weight.abs()
    return gap.abs().sum() if kind == "l1" else (gap * gap).sum()


class BNNPlusRegularizer(nn.Module):
    """Holds the per-filter scales α (``nn.Parameter`` of shape (out_channels,)).

    ``reg(weight)`` returns :func:`bnnplus_regularizer` of ``weight`` with these scales;
    add ``lam * reg(weight)`` to the loss.
    """

    def __init__(
        self, out_channels: int, *, kind: RegularizerKind = "l1", init_scale: float = 1.0
    ) -> None:
        super().__init__()
        if not isinstance(out_channels, int) or out_channels < 1:
            raise ValueError(f"out_channels must be a positive int, not {out_channels!r}")
        if kind not in ("l1", "l2"):
            raise ValueError(f"BNN+ regulariser kind must be 'l1' or 'l2', not {kind!r}")
        self.kind: RegularizerKind = kind
        self.scale = nn.Parameter(torch.full((out_channels,), float(init_scale)))

    def forward(self, weight: Tensor) -> Tensor:
        return bnnplus_regularizer(weight, self.scale.to(weight.dtype), kind=self.kind)

    def extra_repr(self) -> str:
        return f"out_channels={self.scale.numel()}, kind={self.kind!r}"
