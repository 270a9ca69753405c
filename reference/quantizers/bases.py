"""ABC-Net's multiple binary bases (Lin, Zhao & Pan, NeurIPS 2017) for weights and activations.

A tensor is approximated by a linear combination of ±1 bases, Σ_i s_i·B_i; a layer then runs
one binary convolution per (weight base, activation base) pair. ``int_repr`` returns one
``(±1 int32 codes, 0-d scale)`` pair per base, and the output is their sum in that order.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from reference.quantizers._base import (
    CODE_DTYPE,
    Codes,
    Quantizer,
    sign_codes,
    straight_through,
)

__all__ = ["AbcActivation", "AbcWeight", "spread"]


def spread(count: int) -> list[float]:
    """ABC-Net's u_i = −1 + (i − 1)·2/(M − 1), i = 1..M: evenly over [−1, 1]; [0] for M = 1."""
    if count == 1:
        return [0.0]
    return [-1.0 + i * 2.0 / (count - 1) for i in range(count)]


def _resolve_bases(name: str, bases: int | None, bits: int | None, default: int) -> int:
    """The number of bases from ``bases`` or ``bits`` (equal when both are given), 1 to 8."""
    if bases is not None and bits is not None and bases != bits:
        raise ValueError(f"quantizer '{name}' has bits == bases; got bases={bases!r}, "
                         f"bits={bits!r}")
    value = bases if bases is not None else bits if bits is not None else default
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 8:
        raise ValueError(f"quantizer '{name}' takes bases=1 to 8 (bits equal to it), "
                         f"not {value!r}")
    return value


class AbcWeight(Quantizer):
    """ABC-Net weights, registry name ``abc_weight`` (kwarg ``bases`` M, default 3, 1 to 8).

    B_i = sign(W − mean(W) + u_i·std(W)) with u_i from :func:`spread` (mean and population
    std over the whole layer), α = argmin ‖W − Σ α_i B_i‖² solved by least squares (the
    pseudo-inverse of the M×M normal equations, i.e. the minimum-norm solution when two bases
    coincide). Backward (paper eq. 4 with the STE ∂B_i/∂W = 1): ``∂L/∂W = (Σ_i α_i)·∂L/∂W_q``;
    α is a constant.

    ``int_repr(W)``: ``[(B_1, α_1), ..., (B_M, α_M)]``, ±1 int32 codes and 0-d scales.
    """

    def __init__(self, *, bases: int | None = None, bits: int | None = None) -> None:
        count = _resolve_bases("abc_weight", bases, bits, default=3)
        super().__init__(kind="bases", bits=count)
        self.bases = count
        self.shifts = tuple(spread(count))

    def int_repr(self, x: Tensor) -> list[Codes]:
        """One ``(±1 codes, α_i)`` pair per base, in the order of u_i."""
        w = x.detach()
        centred = w - w.mean()
        std = w.std(correction=0)
        codes = [sign_codes(centred + u * std) for u in self.shifts]
        basis = torch.stack([c.reshape(-1) for c in codes], dim=1).to(torch.float64)
        target = w.reshape(-1).to(torch.float64)
        alpha = torch.linalg.pinv(basis.T @ basis) @ (basis.T @ target)
        return [(c, a.to(w.dtype)) for c, a in zip(codes, alpha, strict=True)]

    def forward(self, x: Tensor) -> Tensor:
        rep = self.int_repr(x)
        total = sum(float(a) for _, a in rep)
        return straight_through(self.dequantize(rep), x * total)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, bases={self.bases}"


class AbcActivation(Quantizer):
    """ABC-Net activations, registry name ``abc_act`` (kwarg ``bases`` N, default 1, 1 to 8).

    A = Σ_n β_n·H_{v_n}(x) with H_v(x) = 2·1{clip(x + v, 0, 1) ≥ 0.5} − 1 = ±1 (+1 iff
    x ≥ 0.5 − v). Shifts v_n (``shift``) and scales β_n (``beta``) are trainable
    ``nn.Parameter``s of shape (N,), one value per base for the whole layer. Backward, with
    the STE through the indicator: ``∂H_v/∂x = ∂H_v/∂v = 1{0 ≤ x + v ≤ 1}`` (the gradient
    of the clip), ``∂A/∂β_n = H_{v_n}(x)``.

    Initial values are not given in the paper; ours (override with ``shifts`` / ``betas``):
    v_n = 0.5 − u_n/2 with u_n from :func:`spread` (thresholds 0.5 − v_n spread over
    [−0.5, 0.5]; one base gives v = 0.5, i.e. plain sign), β_n = 1/N.

    ``int_repr(x)``: ``[(H_1, β_1), ..., (H_N, β_N)]``, ±1 int32 codes and 0-d scales.
    """

    def __init__(
        self,
        *,
        bases: int | None = None,
        bits: int | None = None,
        shifts: Sequence[float] | None = None,
        betas: Sequence[float] | None = None,
    ) -> None:
        count = _resolve_bases("abc_act", bases, bits, default=1)
        super().__init__(kind="bases", bits=count)
        self.bases = count
        v = [0.5 - u / 2 for u in spread(count)] if shifts is None else list(shifts)
        b = [1.0 / count] * count if betas is None else list(betas)
        for label, values in (("shifts", v), ("betas", b)):
            if len(values) != count:
                raise ValueError(f"quantizer 'abc_act' takes {count} {label} for {count} "
                                 f"bases, got {len(values)}")
        self.shift = nn.Parameter(torch.tensor(v, dtype=torch.float32))
        self.beta = nn.Parameter(torch.tensor(b, dtype=torch.float32))

    def _bounded(self, x: Tensor, n: int) -> Tensor:
        """h_{v_n}(x) = clip(x + v_n, 0, 1), differentiable in x and v_n."""
        return torch.clamp(x + self.shift[n].to(x.dtype), 0, 1)

    @staticmethod
    def _codes(h: Tensor) -> Tensor:
        return (h >= 0.5).to(CODE_DTYPE) * 2 - 1

    def int_repr(self, x: Tensor) -> list[Codes]:
        """One ``(H_n codes, β_n)`` pair per base."""
        xd = x.detach()
        with torch.no_grad():
            return [
                (self._codes(self._bounded(xd, n)), self.beta[n].detach().to(x.dtype))
                for n in range(self.bases)
            ]

    def forward(self, x: Tensor) -> Tensor:
        terms = []
        for n in range(self.bases):
            h = self._bounded(x, n)
            signs = straight_through(self._codes(h.detach()).to(x.dtype), h)
            terms.append(signs * self.beta[n].to(x.dtype))
        out = terms[0]
        for term in terms[1:]:
            out = out + term
        return out

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, bases={self.bases}"
