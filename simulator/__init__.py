"""The simulator: accelerator families behind one seam, one result schema, technology tables.

``simulate(workload, chip)`` runs a :class:`~workloads.network.Network` on a chip of any family
(the chip file's ``family:``; the overlay PE array by default). Imports numpy, SimPy and PyYAML
only: never torch, optuna or matplotlib.
"""

from __future__ import annotations

from simulator.api import (
    apply_overrides,
    builtin_chips,
    chip_from_dict,
    get_family,
    load_chip,
    simulate,
)
from simulator.families import DEFAULT_FAMILY, FAMILIES
from simulator.family import ChipSpec, Family
from simulator.result import SCHEMA_VERSION, LayerResult, Result
from simulator.settings import Schema, Setting
from simulator.tech import TechTable, builtin_tech, load_tech
from simulator.trace import Interval

__all__ = [
    "DEFAULT_FAMILY",
    "FAMILIES",
    "SCHEMA_VERSION",
    "ChipSpec",
    "Family",
    "Interval",
    "LayerResult",
    "Result",
    "Schema",
    "Setting",
    "TechTable",
    "apply_overrides",
    "builtin_chips",
    "builtin_tech",
    "chip_from_dict",
    "get_family",
    "load_chip",
    "load_tech",
    "simulate",
]
