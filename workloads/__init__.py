"""Workloads: the ground layer every other package stands on.

Errors by kind, the strict file reader and output helpers, number formats and quantisation
configs, layer and network records, network files and the zoo (one description per network,
with its paper's quantisation). Pure Python with PyYAML: no torch, no numpy, no simulation.
"""

from __future__ import annotations

from workloads.errors import BnnsimError, ConfigError, InfeasibleError
from workloads.files import check_keys, check_output_path, load_yaml, loads_yaml, write_json
from workloads.formats import BINARY, INT8, LOGITS, NumberFormat
from workloads.layers import Add, Conv2d, Layer, LayerKind, Linear, Pool
from workloads.netfile import is_checkpoint_path, load_network, network_from_yaml
from workloads.network import Network, NetworkBuilder
from workloads.quant import LayerQuant, NetworkQuantDefaults, OperandQuant, QuantConfig, parse_quant
from workloads.zoo import ZOO, ZooNetwork, get_network, zoo_names, zoo_network

__all__ = [
    "BINARY",
    "INT8",
    "LOGITS",
    "ZOO",
    "Add",
    "BnnsimError",
    "ConfigError",
    "Conv2d",
    "InfeasibleError",
    "Layer",
    "LayerKind",
    "LayerQuant",
    "Linear",
    "Network",
    "NetworkBuilder",
    "NetworkQuantDefaults",
    "NumberFormat",
    "OperandQuant",
    "Pool",
    "QuantConfig",
    "ZooNetwork",
    "check_keys",
    "check_output_path",
    "get_network",
    "is_checkpoint_path",
    "load_network",
    "load_yaml",
    "loads_yaml",
    "network_from_yaml",
    "parse_quant",
    "write_json",
    "zoo_names",
    "zoo_network",
]
