"""Torch reference: quantisers, quantised layers, models, data readers, training, checkpoints,
and lowering a trained model to a workload.

Importing this package does not import torch: the torch-backed names below load their module
on first use (``reference.build_model`` imports ``reference.models``), so a command that only
parses flags — and ``bnnsim simulate`` — never pays torch's import cost.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "build_model",
    "evaluate",
    "load_checkpoint",
    "network_from_checkpoint",
    "real_to_binary",
    "save_checkpoint",
    "summary",
    "train",
]

_LAZY = {
    "build_model": "reference.models",
    "summary": "reference.models",
    "train": "reference.train",
    "evaluate": "reference.train",
    "real_to_binary": "reference.train",
    "load_checkpoint": "reference.checkpoint",
    "save_checkpoint": "reference.checkpoint",
    "network_from_checkpoint": "reference.lowering",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'reference' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
