"""Torch reference: quantisers, quantised layers, models, data readers, training, checkpoints.

Importing this package does not import torch: the torch-free modules (``files``,
``qconfig``) are used by ``workloads`` and ``simulator``, whose workers must not pay
torch's import cost. Torch-backed modules are imported on first use.
"""

from __future__ import annotations

from reference.files import ConfigError, load_yaml
from reference.qconfig import LayerQuant, OperandQuant, QuantConfig, parse_quant

__all__ = [
    "ConfigError",
    "LayerQuant",
    "OperandQuant",
    "QuantConfig",
    "load_yaml",
    "parse_quant",
]
