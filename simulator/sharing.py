"""Kernel decomposition and result sharing for binary-weight layers with multi-bit inputs: the
operations each form issues for a layer's *actual* weights, and the forms themselves, computed
bit-exactly (numpy).

With ±1 weights and k-bit inputs an adder-based PE adds or subtracts every input, ``R = C·FY·FX``
operations per output. Two published reductions:

* **Kernel decomposition** (Kim et al., DAC 2017): a ±1 kernel is ``2B − J`` with ``B`` the
  0/1 mask of its +1 positions and ``J`` all ones, so ``Σ a·w = 2·Σ_{B=1} a − Σ a``: each output
  adds only the inputs where ``B = 1``, and the window sum ``Σ a`` is computed once per output
  position and shared by all K output channels. Choosing per filter the rarer sign (``w =
  −(2B̄ − J)``) never costs more.
* **Result sharing** (Chang et al., DATE 2020): a filter's 2-D sub-kernel for one input channel
  (``FY × FX`` signs) often repeats — or appears negated — across output channels; each distinct
  sub-kernel up to sign is summed once per input channel and position, and every output
  combines its C sub-kernel results with a sign.

The operations each form issues are counted in :mod:`workloads.weight_stats` (the cost model
reads them from a lowered network's layers); this module computes the forms themselves.
"""

from __future__ import annotations

import numpy as np

from workloads.weight_stats import SharingCounts, count_operations, sub_kernels

__all__ = ["SharingCounts", "count_operations", "decomposed_conv", "direct_conv",
           "shared_conv", "sub_kernels"]


def _patches(a: np.ndarray, fy: int, fx: int, stride: int, padding: int) -> np.ndarray:
    """(N, C, H, W) → (N, C, OH, OW, FY, FX) windows of the zero-padded input."""
    n, c, h, w = a.shape
    p = np.zeros((n, c, h + 2 * padding, w + 2 * padding), np.int64)
    p[:, :, padding:padding + h, padding:padding + w] = a
    win = np.lib.stride_tricks.sliding_window_view(p, (fy, fx), axis=(2, 3))
    oh, ow = (h + 2 * padding - fy) // stride + 1, (w + 2 * padding - fx) // stride + 1
    return win[:, :, ::stride, ::stride][:, :, :oh, :ow]


def direct_conv(a: np.ndarray, w: np.ndarray, *, stride: int = 1, padding: int = 0
                ) -> np.ndarray:
    """``Σ a·w``: integer codes (N, C, H, W) with ±1 weights (K, C, FY, FX) → (N, K, OH, OW)."""
    win = _patches(a, w.shape[2], w.shape[3], stride, padding)
    return np.einsum("nchwyx,kcyx->nkhw", win, w.astype(np.int64))


def decomposed_conv(a: np.ndarray, w: np.ndarray, *, stride: int = 1, padding: int = 0
                    ) -> np.ndarray:
    """The decomposed form: per filter its rarer sign's mask ``B`` (``w = s·(2B − J)``), the sums
    over ``B`` and one window sum per position shared by every filter."""
    win = _patches(a, w.shape[2], w.shape[3], stride, padding)
    window = win.sum(axis=(1, 4, 5))  # (N, OH, OW): Σ a, once per position
    k = w.shape[0]
    flat = w.reshape(k, -1)
    use_plus = (flat > 0).sum(axis=1) <= (flat < 0).sum(axis=1)
    s = np.where(use_plus, 1, -1)  # w = s·(2B − J), B the positions of sign s
    b = (w * s[:, None, None, None] > 0).astype(np.int64)
    partial = np.einsum("nchwyx,kcyx->nkhw", win, b)
    return s[None, :, None, None] * (2 * partial - window[:, None])


def shared_conv(a: np.ndarray, w: np.ndarray, *, stride: int = 1, padding: int = 0
                ) -> np.ndarray:
    """The result-sharing form: each channel's distinct sub-kernels (up to sign) summed once,
    then every output combines its C results with their signs."""
    win = _patches(a, w.shape[2], w.shape[3], stride, padding)
    ids, signs = sub_kernels(w)
    k, c = w.shape[:2]
    out = np.zeros((a.shape[0], k, win.shape[2], win.shape[3]), np.int64)
    for j in range(c):
        _, first = np.unique(ids[:, j], return_index=True)
        reps = (w[first, j] * signs[first, j][:, None, None]).astype(np.int64)  # canonical
        sums = np.einsum("nhwyx,uyx->nuhw", win[:, j], reps)  # once per distinct sub-kernel
        out += signs[:, j][None, :, None, None] * sums[:, ids[:, j]]
    return out
