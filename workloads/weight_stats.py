"""What a layer's actual weights make cheaper: counts of the operations each form of a
binary-weight convolution issues (kernel decomposition, result sharing) and of the non-zero
weights a ternary layer has — plain numbers a cost model prices (``WeightStats``), computed
once from the weights (numpy), no weights kept.

Operation counts (additions — one per accumulated input or partial result, the same
convention for every form — per output position, over all output channels; with nothing to
share, sharing costs more than the direct form):

============================ ================================================================
direct                       ``K·R``
decomposed                   ``Σ_k min(n⁺_k, n⁻_k) + R + K`` (the chosen positions; the window
                             sum; ``2S − J`` per output)
shared                       ``Σ_c U_c·F + K·C`` (``U_c`` distinct sub-kernels up to sign in
                             channel c, each accumulating its ``F = FY·FX`` inputs; each output
                             accumulating its C sub-kernel results)
shared + decomposed          ``Σ_c [F + Σ_{u ∈ U_c} (min(n⁺_u, n⁻_u) + 1)] + K·C`` (the
                             channel's window sum; each distinct sub-kernel by its rarer sign
                             and its ``2S − J``; the combination)
============================ ================================================================

(Kim et al., DAC 2017, for the decomposition; Chang et al., DATE 2020, for result sharing; see
``simulator.sharing`` for the forms themselves, computed bit-exactly.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where counts are made: the data model loads without it
    import numpy as np

__all__ = ["SHARING_FORMS", "SharingCounts", "WeightStats", "count_operations", "sub_kernels",
           "weight_stats"]

#: The forms a binary-weight layer may be computed in (``pe_array.weight_sharing``).
SHARING_FORMS = ("none", "decompose", "share", "share_decompose")


@dataclass(frozen=True, slots=True)
class SharingCounts:
    """Additions per output position (all output channels) of each form, and the distinct
    sub-kernels (up to sign) summed over input channels."""

    direct: int
    decomposed: int
    shared: int
    shared_decomposed: int
    distinct_sub_kernels: int
    sub_kernels: int  # K·C
    rarer_signs: int = 0  # Σ_k min(n⁺_k, n⁻_k): the decomposed form's accumulated inputs
    distinct_rarer: int = 0  # Σ_c Σ_u min(n⁺_u, n⁻_u): the same over distinct sub-kernels

    def saving(self, form: str) -> float:
        """The share of the direct form's additions a form saves."""
        return 1.0 - getattr(self, form) / self.direct


def sub_kernels(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Canonical sub-kernels of ±1 weights (K, C, FY, FX): per input channel, each filter's
    ``FY·FX`` signs up to sign (the first sign made +1). Returns (ids (K, C): the index of the
    canonical sub-kernel among its channel's distinct ones, signs (K, C): ±1)."""
    import numpy as np

    k, c = w.shape[:2]
    flat = w.reshape(k, c, -1).astype(np.int8)
    sign = np.where(flat[:, :, :1] < 0, -1, 1).astype(np.int8)
    canon = flat * sign  # first element +1
    ids = np.empty((k, c), np.int64)
    for j in range(c):  # whole rows compared: any kernel size
        _, inverse = np.unique(canon[:, j], axis=0, return_inverse=True)
        ids[:, j] = inverse.reshape(-1)
    return ids, sign[:, :, 0].astype(np.int64)


def count_operations(w: np.ndarray) -> SharingCounts:
    """Additions per output position of each form for ±1 weights (K, C, FY, FX). Distinct
    sub-kernels are found in one pass: each canonical sub-kernel (first sign +1) as its
    bits, unique per (channel, bits) row."""
    import numpy as np

    k, c = w.shape[:2]
    f = int(np.prod(w.shape[2:]))
    r = c * f
    flat = w.reshape(k, -1)
    plus = (flat > 0).sum(axis=1)
    rarer = int(np.minimum(plus, r - plus).sum())
    decomposed = rarer + r + k
    if f == 1:  # a 1×1 sub-kernel is +1 up to sign: one per channel, nothing to decompose
        distinct, distinct_rarer = c, 0
    else:
        sub = w.reshape(k, c, f)
        canon = (sub * np.where(sub[:, :, :1] < 0, -1, 1)) > 0  # (K, C, F), first one True
        bits = canon.astype(np.int64)
        if f < 63 and c < 2 ** (62 - f):  # (channel, bits) as one integer key
            code = (bits << np.arange(f, dtype=np.int64)).sum(axis=-1)
            keys = (np.arange(c, dtype=np.int64)[None, :] << f) | code
            _, first = np.unique(keys.reshape(-1), return_index=True)
        else:  # rows of the channel and the bits themselves
            rows = np.concatenate([np.broadcast_to(np.arange(c)[None, :, None], (k, c, 1)),
                                   bits], axis=-1).reshape(k * c, -1)
            _, first = np.unique(rows, axis=0, return_index=True)
        p = canon.reshape(k * c, f)[first].sum(axis=1)  # one per distinct sub-kernel
        distinct = len(first)
        distinct_rarer = int(np.minimum(p, f - p).sum())
    shared = distinct * f + k * c
    shared_dec = k * c + c * f + distinct_rarer + distinct
    return SharingCounts(direct=k * r, decomposed=decomposed, shared=shared,
                         shared_decomposed=shared_dec, distinct_sub_kernels=distinct,
                         sub_kernels=k * c, rarer_signs=rarer, distinct_rarer=distinct_rarer)


@dataclass(frozen=True, slots=True)
class WeightStats:
    """A MAC layer's weight-dependent counts (all groups together), for the cost model.

    ``weights`` and ``nonzero``: the weights and the non-zero ones (a ternary layer's zeros a
    gated PE skips). For ±1 weights, per output position over all output channels (see the
    module doc): ``rarer_signs`` inputs the decomposed form accumulates, ``distinct``
    sub-kernels up to sign (``Σ_c U_c``) and ``distinct_rarer`` inputs the shared and
    decomposed form accumulates; zero where the weights are not ±1 (``binary`` False)."""

    weights: int
    nonzero: int
    binary: bool = False
    rarer_signs: int = 0
    distinct: int = 0
    distinct_rarer: int = 0

    def to_dict(self) -> dict[str, int | bool]:
        return {"weights": self.weights, "nonzero": self.nonzero, "binary": self.binary,
                "rarer_signs": self.rarer_signs, "distinct": self.distinct,
                "distinct_rarer": self.distinct_rarer}


def weight_stats(codes: np.ndarray, groups: int = 1) -> WeightStats:
    """The counts of integer weight codes (K, C/groups, FY, FX): ±1 weights (every code ±1)
    get the sharing counts, summed over the groups (each group's filters share only among
    themselves)."""
    import numpy as np

    codes = np.asarray(codes)
    binary = bool(np.isin(codes, (-1, 1)).all())
    stats = {"rarer_signs": 0, "distinct": 0, "distinct_rarer": 0}
    if binary:
        per = codes.shape[0] // groups
        for g in range(groups):
            n = count_operations(codes[g * per:(g + 1) * per])
            stats["rarer_signs"] += n.rarer_signs
            stats["distinct"] += n.distinct_sub_kernels
            stats["distinct_rarer"] += n.distinct_rarer
    return WeightStats(weights=int(codes.size), nonzero=int(np.count_nonzero(codes)),
                       binary=binary, **stats)
