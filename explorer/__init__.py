"""Design-space exploration: Optuna studies over chip fields and quantisations.

``explorer.space`` parses and validates search-space files; ``explorer.evaluate`` turns one
design point into metrics (or an infeasible verdict with its reason) through the simulator;
``explorer.study`` runs and resumes studies on a journal file or an RDB (PostgreSQL) storage
and extracts their Pareto sets; ``explorer.commands`` is ``bnnsim explore`` / ``pareto``.
Optuna is imported by ``study`` (and the commands when they run) only. See docs/explorer.md.
"""

from __future__ import annotations

from explorer.evaluate import Evaluation, Evaluator
from explorer.space import Space, load_space, parse_space

__all__ = ["Evaluation", "Evaluator", "Space", "load_space", "parse_space"]
