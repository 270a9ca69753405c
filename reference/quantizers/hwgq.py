"""Half-wave Gaussian quantiser (Cai, He, Sun & Vasconcelos, CVPR 2017), with its Lloyd levels.

HWGQ replaces ReLU: 0 for x ≤ 0, and on x > 0 the nearest of L = 2^k − 1 positive levels,
fitted by Lloyd's algorithm to a unit Gaussian restricted to x > 0 (batch norm makes the
pre-activations roughly N(0, 1)). For k = 2 the uniform step is Δ ≈ 0.5388, the levels
{0.538, 1.076, 1.614} of the authors' Caffe models (Δ truncated to 3 decimals).
"""

from __future__ import annotations

import functools
import math
from typing import Literal

import torch
from torch import Tensor

from reference.quantizers._base import CODE_DTYPE, Codes, Quantizer, check_bits, straight_through

__all__ = ["HWGQ", "half_gaussian_levels"]

_MAX_ITER = 200_000
_TOL = 1e-13


def _bin_stats(edges: Tensor) -> tuple[Tensor, Tensor]:
    """Per bin (edges[i], edges[i+1]] of the half-normal on x > 0: probability and E[x·1_bin].

    The half-normal density is 2φ(x), so P = erfc(a/√2) − erfc(b/√2) and
    E[x·1_bin] = √(2/π)·(exp(−a²/2) − exp(−b²/2)).
    """
    tail = torch.special.erfc(edges / math.sqrt(2.0))
    dens = torch.exp(-0.5 * edges * edges)
    return tail[:-1] - tail[1:], math.sqrt(2.0 / math.pi) * (dens[:-1] - dens[1:])


def _edges(levels: Tensor) -> Tensor:
    """Bin edges of a nearest-level quantiser on x > 0: 0, the midpoints, +∞."""
    ends = levels.new_tensor([0.0]), levels.new_tensor([math.inf])
    return torch.cat((ends[0], 0.5 * (levels[:-1] + levels[1:]), ends[1]))


@functools.cache
def half_gaussian_levels(num_levels: int, *, uniform: bool) -> tuple[float, ...]:
    """MSE-optimal positive levels for the unit half-normal, by Lloyd's algorithm (float64).

    ``uniform=True``: levels i·Δ (i = 1..L); each step assigns x to its nearest level and
    sets Δ to the least-squares step for that assignment, Δ = Σ i·E[x·1_i] / Σ i²·P_i.
    ``uniform=False``: Lloyd-Max; each step moves every level to the centroid E[x | bin] of
    its bin, starting from the uniform solution. Both iterate to a fixed point (largest
    change < 1e-13; convergence slows as L grows, which is why ``HWGQ`` caps the bits). Cached
    per argument; the cache holds immutable tuples only.

    >>> round(half_gaussian_levels(3, uniform=True)[0], 3)
    0.539
    """
    if isinstance(num_levels, bool) or not isinstance(num_levels, int) or num_levels < 1:
        raise ValueError(f"num_levels must be a positive int, not {num_levels!r}")
    index = torch.arange(1, num_levels + 1, dtype=torch.float64)
    step = math.sqrt(2.0 / math.pi) / num_levels  # any positive start converges
    for _ in range(_MAX_ITER):
        prob, first = _bin_stats(_edges(step * index))
        new_step = float((index * first).sum() / (index * index * prob).sum())
        done = abs(new_step - step) < _TOL
        step = new_step
        if done:
            break
    else:
        raise RuntimeError(f"Lloyd iteration for {num_levels} uniform levels did not converge")
    levels = step * index
    if not uniform:
        for _ in range(_MAX_ITER):
            prob, first = _bin_stats(_edges(levels))
            new = torch.where(prob > 0, first / prob.clamp_min(1e-300), levels)
            done = float((new - levels).abs().max()) < _TOL
            levels = new
            if done:
                break
        else:
            raise RuntimeError(f"Lloyd-Max for {num_levels} levels did not converge")
    return tuple(float(v) for v in levels)


class HWGQ(Quantizer):
    """HWGQ activations, registry name ``hwgq`` (kwarg ``bits`` k: 1 to 8, non-uniform 1 to 4).

    ``variant="uniform"``: levels {0, Δ, 2Δ, ..., LΔ}, L = 2^k − 1 (the paper's choice for
    bit-serial hardware); ``"nonuniform"``: Lloyd-Max levels. Forward: 0 for x ≤ 0, else the
    nearest *positive* level (ties go to the lower), as in the authors' Caffe layer: a small
    x > 0 maps to q_1, not 0. (Letting 0 compete for x > 0 would make the optimal 2-bit step
    0.651 instead of the published 0.538.)
    ``backward="clipped_relu"``: ``grad · 1{0 < x ≤ q_max}``. ``"log_tailed"``: the
    derivative of the log-tailed ReLU, which continues x past q_max as
    ``q_max + log(x − τ)``, τ = q_max − 1: ``grad`` on (0, q_max], ``grad / (x − τ)`` above.

    ``int_repr(x)``: int32 level indices in 0..L. Uniform: the 0-d scale Δ, output
    ``codes · Δ``. Non-uniform: *not* a scale but the level table ``[0, q_1, ..., q_L]``
    (1-D, length L + 1); the output is ``table[codes]`` (see :meth:`dequantize`).
    """

    def __init__(
        self,
        *,
        bits: int = 2,
        variant: Literal["uniform", "nonuniform"] = "uniform",
        backward: Literal["clipped_relu", "log_tailed"] = "clipped_relu",
    ) -> None:
        if variant not in ("uniform", "nonuniform"):
            raise ValueError(f"quantizer 'hwgq' takes variant='uniform' or 'nonuniform', "
                             f"not {variant!r}")
        bits = check_bits("hwgq", bits, range(1, 9 if variant == "uniform" else 5))
        super().__init__(kind="int", bits=bits)
        if backward not in ("clipped_relu", "log_tailed"):
            raise ValueError(f"quantizer 'hwgq' takes backward='clipped_relu' or "
                             f"'log_tailed', not {backward!r}")
        self.variant = variant
        self.backward_rule = backward
        #: Positive levels q_1 < ... < q_L (Python floats, computed once per (L, variant)).
        self.levels = half_gaussian_levels(2**bits - 1, uniform=variant == "uniform")

    @property
    def q_max(self) -> float:
        """The largest level; the clipped-ReLU gradient stops here."""
        return self.levels[-1]

    def int_repr(self, x: Tensor) -> Codes:
        """Level indices (0 for x ≤ 0) and Δ (uniform) or the level table (non-uniform)."""
        xd = x.detach()
        edges = _edges(torch.tensor(self.levels, dtype=torch.float64))
        bounds = torch.cat((edges[:1], edges[1:-1])).to(dtype=x.dtype, device=x.device)
        codes = torch.bucketize(xd, bounds).to(CODE_DTYPE)
        if self.variant == "uniform":
            return codes, torch.tensor(self.levels[0], dtype=x.dtype, device=x.device)
        table = torch.tensor((0.0, *self.levels), dtype=x.dtype, device=x.device)
        return codes, table

    def dequantize(self, rep: Codes | list[Codes]) -> Tensor:
        """``codes · Δ`` (uniform) or ``table[codes]`` (non-uniform)."""
        if self.variant == "uniform" or isinstance(rep, list):
            return super().dequantize(rep)
        codes, table = rep
        return table[codes.long()]

    def forward(self, x: Tensor) -> Tensor:
        xd = x.detach()
        inside = ((xd > 0) & (xd <= self.q_max)).to(x.dtype)
        factor = inside
        if self.backward_rule == "log_tailed":
            tau = self.q_max - 1.0
            above = xd > self.q_max
            factor = torch.where(above, 1.0 / torch.where(above, xd - tau, 1.0), inside)
        return straight_through(self.dequantize(self.int_repr(x)), x * factor)

    def extra_repr(self) -> str:
        return (f"{super().extra_repr()}, variant={self.variant!r}, "
                f"backward={self.backward_rule!r}")
