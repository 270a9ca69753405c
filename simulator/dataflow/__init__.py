"""The dataflow family: a FINN-style streaming pipeline of one matrix-vector-threshold unit
per layer, FIFOs between them, weights on chip.

Spec (``chip``) → folding (``folding``: per-layer PE and SIMD, FINN's files, automatic) →
stages and FIFOs (``pipeline``) with FINN-R resources (``resources``) → timing (``engines``:
a closed form and a SimPy model with bounded FIFOs), assembled by :class:`DataflowFamily`.
"""

from __future__ import annotations

from simulator.dataflow.chip import SCHEMA, DataflowChip
from simulator.dataflow.family import DataflowFamily, DataflowLayer, DataflowTotals

__all__ = ["SCHEMA", "DataflowChip", "DataflowFamily", "DataflowLayer", "DataflowTotals"]
