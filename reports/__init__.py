"""Reports: results and studies as typed tables (pandas), figures (matplotlib), a Chrome /
Perfetto trace and one self-contained HTML page. Reports read results and studies; they never
re-run a simulation.

The names below load lazily: ``bnnsim simulate`` uses :mod:`reports.terminal` without paying
for pandas or matplotlib.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["Report", "chrome_trace", "load_result", "result_report", "study_report"]

_WHERE = {"Report": "reports.build", "result_report": "reports.build",
          "study_report": "reports.build", "chrome_trace": "reports.trace",
          "load_result": "reports.tables"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'reports' has no attribute {name!r}")
