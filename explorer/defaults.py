"""The explorer's defaults, importable without Optuna (the CLI's parser reads them)."""

from __future__ import annotations

__all__ = ["DEFAULT_STORAGE", "SAMPLERS"]

#: the journal file a study lives in when no --storage is given
DEFAULT_STORAGE = "bnnsim-studies.journal"
#: the samplers by name (always passed to Optuna explicitly)
SAMPLERS = ("nsga2", "nsga3", "tpe", "gp", "random", "grid")
