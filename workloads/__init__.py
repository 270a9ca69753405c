"""Workloads: network and layer records (shapes, precisions), the zoo, and lowering.

No simulation and no torch here (lowering a checkpoint imports torch lazily).
"""

from __future__ import annotations

from workloads.files import load_network, network_from_checkpoint, network_from_yaml
from workloads.layers import Add, Conv2d, Layer, LayerKind, Linear, Pool, Precision
from workloads.network import Network
from workloads.zoo import ZOO, get_network, zoo_names

__all__ = [
    "ZOO",
    "Add",
    "Conv2d",
    "Layer",
    "LayerKind",
    "Linear",
    "Network",
    "Pool",
    "Precision",
    "get_network",
    "load_network",
    "network_from_checkpoint",
    "network_from_yaml",
    "zoo_names",
]
