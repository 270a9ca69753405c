"""The built-in accelerator families by name (the value of ``family:`` in a chip file).

Adding a family: a package beside ``simulator/overlay/`` and one line here.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from simulator.dataflow import DataflowFamily
from simulator.family import Family
from simulator.overlay import OverlayFamily

__all__ = ["DEFAULT_FAMILY", "FAMILIES"]

#: The family of a chip file without a ``family:`` key.
DEFAULT_FAMILY = "overlay"

FAMILIES: Mapping[str, Family] = MappingProxyType({
    OverlayFamily.name: OverlayFamily(),
    DataflowFamily.name: DataflowFamily(),
})
