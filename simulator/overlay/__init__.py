"""The overlay family: a PE array of XNOR-popcount (or int8) PEs that runs one layer at a time,
with input/weight/output buffers, a DRAM and a post-processing unit.

Spec (``chip``) → mapping (``mapping``) → cost (``cost``, ``energy``, ``pe_types``) → timing
(``engines``: the analytical bound and the SimPy event model over ``dram``, ``buffers`` and
``pe_array``), assembled per layer by :class:`OverlayFamily`.
"""

from __future__ import annotations

from simulator.overlay.chip import SCHEMA, Chip
from simulator.overlay.engines import ENGINES, AnalyticalEngine, Engine, EventEngine, get_engine
from simulator.overlay.family import OverlayFamily, OverlayLayer, OverlayTotals
from simulator.overlay.pe_types import INT8_UNIT, PE_TYPES, PeType

__all__ = [
    "ENGINES",
    "INT8_UNIT",
    "PE_TYPES",
    "SCHEMA",
    "AnalyticalEngine",
    "Chip",
    "Engine",
    "EventEngine",
    "OverlayFamily",
    "OverlayLayer",
    "OverlayTotals",
    "PeType",
    "get_engine",
]
