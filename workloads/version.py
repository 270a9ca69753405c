"""The installed bnnsim's version, recorded in results, checkpoints and reports."""

from __future__ import annotations

from functools import cache
from importlib import metadata

__all__ = ["package_version"]


@cache
def package_version() -> str:
    """The installed package's version, or ``0+unknown`` when run from a bare source tree."""
    try:
        return metadata.version("bnnsim")
    except metadata.PackageNotFoundError:
        return "0+unknown"
