"""Bit planes of integer weights as ``workloads.lowered`` stores them, written independently
of ``reference.lowering`` (which needs torch) for the numpy-only functional-model tests."""

from __future__ import annotations

import numpy as np


def pack_planes(kind: str, w: np.ndarray, bits: int) -> np.ndarray:
    rows = w.reshape(w.shape[0], -1).astype(np.int64)
    if kind == "binary":
        planes = [rows > 0]
    elif kind == "ternary":
        planes = [rows > 0, rows != 0]
    else:  # two's complement in bits + 1 planes, least significant first
        u = rows & ((1 << (bits + 1)) - 1)
        planes = [((u >> b) & 1).astype(bool) for b in range(bits + 1)]
    return np.stack([np.packbits(p.astype(np.uint8), axis=1) for p in planes])
