"""LQ-Nets: quantisers with a learned basis (Zhang, Yang, Ye & Hua, "LQ-Nets: Learned
Quantization for Highly Accurate and Compact Deep Neural Networks", ECCV 2018).

A K-bit LQ quantiser holds a basis v ∈ R^K; its 2^K levels are {vᵀe}: e ∈ {−1, 1}^K for
weights (K ±1 planes, the ``bases`` format), e ∈ {0, 1}^K for activations (K 0/1 bit planes).
Each element goes to its nearest level and the gradient passes straight through. The basis is
not trained by gradient: every training-mode forward pass refits it to the tensor it has just
quantised by the paper's Quantization Error Minimization (QEM), a moving average of the
least-squares basis for the current encodings.

The paper learns one weight basis per output channel; ours is one per layer, for weights and
activations alike, because the lowered ``bases`` format carries one real scale per base.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import ClassVar

import torch
from torch import Tensor

from reference.quantizers._base import CODE_DTYPE, Codes, Quantizer, straight_through
from reference.quantizers.bases import _resolve_bases

__all__ = ["LqActivation", "LqWeight", "encodings"]

#: Φ⁻¹(0.75): the weight basis starts from 0.6745·σ, as in the paper's released code.
_NORM_PPF_0_75 = 0.6745
#: Largest level of the initial activation basis (levels evenly over [0, 3]).
_ACT_RANGE = 3.0
#: Smallest value an activation base may take (keeps every level ≥ 0 and the bases distinct
#: from 0, so the all-ones code stays the largest level).
_MIN_ACT_BASE = 1e-6


def encodings(count: int, *, signed: bool, device: torch.device | None = None) -> Tensor:
    """(2^K, K) int32 table of every code word: row j holds the bits of j, bit k in column k
    (0/1, or ±1 when ``signed``)."""
    rows = torch.arange(2**count, device=device)
    bits = (rows[:, None] >> torch.arange(count, device=device)) & 1
    return (bits * 2 - 1 if signed else bits).to(CODE_DTYPE)


class _LearnedBasis(Quantizer, ABC):
    """The shared LQ rule; a subclass fixes the code alphabet, the initial basis, the valid
    form of a fitted basis and the straight-through surrogate."""

    registry_name: ClassVar[str]
    signed: ClassVar[bool]
    #: QEM refits the basis on every training-mode call (the quantiser contract's note)
    updates_in_training: ClassVar[bool] = True
    basis: Tensor
    initialised: Tensor

    def __init__(self, *, bases: int | None, bits: int | None, momentum: float) -> None:
        count = _resolve_bases(self.registry_name, bases, bits, default=2)
        if (isinstance(momentum, bool) or not isinstance(momentum, int | float)
                or not 0.0 <= momentum <= 1.0):
            raise ValueError(f"quantizer '{self.registry_name}' takes momentum in [0, 1], "
                             f"not {momentum!r}")
        super().__init__(kind="bases", bits=count)
        self.bases = count
        self.momentum = float(momentum)
        # Buffers, not Parameters: QEM sets them; checkpoints keep them.
        self.register_buffer("basis", torch.zeros(count), persistent=True)
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool), persistent=True)

    @abstractmethod
    def _initial_basis(self, x: Tensor) -> Tensor:
        """The basis before the first training step (float64, shape (K,))."""

    @abstractmethod
    def _valid(self, v: Tensor) -> Tensor:
        """A fitted basis in the form stored (float64, ascending)."""

    @abstractmethod
    def _surrogate(self, x: Tensor, top: Tensor) -> Tensor:
        """What the gradient flows through; ``top`` is the largest level."""

    def current_basis(self, x: Tensor) -> Tensor:
        """The basis (float64) that quantises ``x``: the stored one, or, before the first
        training step, the initial one for ``x`` (computed, not stored)."""
        if bool(self.initialised):
            return self.basis.detach().to(torch.float64)
        return self._initial_basis(x.detach())

    def _encode(self, x: Tensor, v: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(codes (*x.shape, K) int32, scales (K,) and sorted levels (2^K,) in x's dtype).

        Each element takes the level above the count of midpoints it is ≥ to: the nearest
        level, the larger one on a midpoint (as ``sign`` sends 0 to +1).
        """
        scales = v.to(device=x.device, dtype=x.dtype)
        table = encodings(self.bases, signed=self.signed, device=x.device)
        # Σ_k e_k·v_k in base order, the same float operations as ``dequantize``
        levels = table[:, 0].to(x.dtype) * scales[0]
        for k in range(1, self.bases):
            levels = levels + table[:, k].to(x.dtype) * scales[k]
        levels, order = torch.sort(levels, stable=True)
        midpoints = (levels[:-1] + levels[1:]) / 2
        index = torch.bucketize(x, midpoints, right=True)
        return table[order][index], scales, levels

    @staticmethod
    def _pairs(codes: Tensor, scales: Tensor) -> list[Codes]:
        return [(codes[..., k].contiguous(), scales[k]) for k in range(codes.shape[-1])]

    def int_repr(self, x: Tensor) -> list[Codes]:
        """One ``(codes, v_k)`` pair per base, k ascending (v ascending once fitted)."""
        xd = x.detach()
        codes, scales, _ = self._encode(xd, self.current_basis(xd))
        return self._pairs(codes, scales)

    @torch.no_grad()
    def _qem(self, x: Tensor, codes: Tensor, v: Tensor) -> None:
        """One QEM step: v ← m·v + (1 − m)·v*, v* = argmin ‖Bv − x‖² for the encodings B.

        v* = v + pinv(BᵀB)·Bᵀ(x − Bv) (float64): the least-squares basis nearest the current
        one, so a base no element uses (a rank-deficient B) keeps its value rather than
        collapsing to 0; for a full-rank B it is the unique solution (BᵀB)⁻¹Bᵀx.
        """
        b = codes.reshape(-1, self.bases).to(torch.float64)
        target = x.reshape(-1).to(torch.float64)
        v = v.to(b.device)
        gram = b.T @ b
        fitted = v + torch.linalg.pinv(gram) @ (b.T @ target - gram @ v)
        new = self.momentum * v + (1.0 - self.momentum) * fitted
        self.basis.copy_(self._valid(new))
        self.initialised.fill_(True)

    def forward(self, x: Tensor) -> Tensor:
        v = self.current_basis(x)
        codes, scales, levels = self._encode(x.detach(), v)
        value = self.dequantize(self._pairs(codes, scales))
        if self.training:  # quantise with the current basis, then refit it (the paper's order)
            self._qem(x.detach(), codes, v)
        return straight_through(value, self._surrogate(x, levels[-1]))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, bases={self.bases}, momentum={self.momentum}"


class LqWeight(_LearnedBasis):
    """LQ-Nets weights, registry name ``lq_weight`` (kwargs ``bases`` K, default 2, 1 to 8 —
    ``bits`` may be given equal to it — and ``momentum`` m of QEM's running average, default
    0.9, the paper's).

    Levels {vᵀe : e ∈ {−1, 1}^K}, one basis per layer (the paper's is per output channel; the
    ``bases`` format has one scale per base). Forward: the nearest level, the larger on a
    midpoint. Backward: the straight-through estimator, ∂L/∂W = ∂L/∂Ŵ.

    Basis: a buffer ``basis`` (K,), refitted by QEM on every training-mode forward (see
    :meth:`_qem`) and frozen in eval mode. It starts at v_k = 2^k·s, s = 0.6745·σ/2^(K−1)
    with σ the root mean square of the first weight seen — the paper's initial uniform
    quantiser, with the measured σ for its He-initialisation σ; the flag buffer
    ``initialised`` marks it taken (before the first training step, eval mode uses the same
    initial basis for the tensor at hand without storing it). A fitted basis is stored as
    |v| sorted ascending, which leaves the level set (symmetric under flipping one base's
    sign, or permuting bases) unchanged.

    ``int_repr(W)``: ``[(e_1, v_1), …, (e_K, v_K)]``, ±1 int32 codes and 0-d scales.
    """

    registry_name = "lq_weight"
    signed = True

    def __init__(self, *, bases: int | None = None, bits: int | None = None,
                 momentum: float = 0.9) -> None:
        super().__init__(bases=bases, bits=bits, momentum=momentum)

    def _initial_basis(self, x: Tensor) -> Tensor:
        rms = float(x.to(torch.float64).pow(2).mean().sqrt()) if x.numel() else 0.0
        step = _NORM_PPF_0_75 * (rms if math.isfinite(rms) else 0.0) / 2 ** (self.bases - 1)
        return step * 2.0 ** torch.arange(self.bases, dtype=torch.float64,
                                          device=self.basis.device)

    def _valid(self, v: Tensor) -> Tensor:
        return torch.sort(v.abs()).values

    def _surrogate(self, x: Tensor, top: Tensor) -> Tensor:
        return x


class LqActivation(_LearnedBasis):
    """LQ-Nets activations, registry name ``lq_act`` (kwargs ``bases`` K, default 2, 1 to 8 —
    ``bits`` may be given equal to it — and ``momentum`` m, default 0.9).

    Levels {vᵀe : e ∈ {0, 1}^K} with v > 0: 0 up to Σ_k v_k; one basis per layer, as in the
    paper. Forward: the nearest level, the larger on a midpoint (inputs below the first
    midpoint, negatives included, give 0). Backward: the paper's clipped straight-through
    estimator, ∂L/∂x = ∂L/∂x̂ · 1{0 ≤ x ≤ Σ_k v_k} (the largest level).

    Basis: a buffer ``basis`` (K,), starting at v_k = 2^k·3/(2^K − 1) (levels evenly over
    [0, 3]; ``initialised`` is set from the start), refitted by QEM on every training-mode
    forward and frozen in eval mode. A fitted basis is clamped to at least 1e-6 (every level
    stays ≥ 0 and the all-ones code the largest) and sorted ascending (a permutation of the
    bases leaves the levels unchanged).

    ``int_repr(x)``: ``[(e_1, v_1), …, (e_K, v_K)]``, 0/1 int32 codes and 0-d scales.
    """

    registry_name = "lq_act"
    zero_one_planes: ClassVar[bool] = True  # its codes are bits, not signs
    signed = False

    def __init__(self, *, bases: int | None = None, bits: int | None = None,
                 momentum: float = 0.9) -> None:
        super().__init__(bases=bases, bits=bits, momentum=momentum)
        self.basis.copy_(self._initial_basis(self.basis))
        self.initialised.fill_(True)

    def _initial_basis(self, x: Tensor) -> Tensor:
        step = _ACT_RANGE / (2**self.bases - 1)
        return step * 2.0 ** torch.arange(self.bases, dtype=torch.float64,
                                          device=self.basis.device)

    def _valid(self, v: Tensor) -> Tensor:
        return torch.sort(v.clamp_min(_MIN_ACT_BASE)).values

    def _surrogate(self, x: Tensor, top: Tensor) -> Tensor:
        xd = x.detach()
        return x * ((xd >= 0) & (xd <= top)).to(x.dtype)
