"""The simulator: chip files, the mapper, cost functions and two timing engines.

Imports numpy, SimPy and PyYAML only: never torch or matplotlib.
"""

from __future__ import annotations

from simulator.api import simulate
from simulator.chip import Chip, apply_overrides, builtin_chips, load_chip
from simulator.engines import ENGINES, AnalyticalEngine, Engine, EventEngine, get_engine
from simulator.result import LayerResult, Result
from simulator.tech import TechTable, load_tech

__all__ = [
    "ENGINES",
    "AnalyticalEngine",
    "Chip",
    "Engine",
    "EventEngine",
    "LayerResult",
    "Result",
    "TechTable",
    "apply_overrides",
    "builtin_chips",
    "get_engine",
    "load_chip",
    "load_tech",
    "simulate",
]
