"""argparse types for numeric flags: a number in a range, or one clear line.

Used by the command line (``--batch``) and the explorer's commands (``--trials``,
``--workers``, ``--tolerance``, …); argparse prints the message as
``bnnsim <command>: error: argument --flag: …``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

__all__ = ["bounded"]


def bounded(flag: str, kind: type[int] | type[float], low: float, high: float
            ) -> Callable[[str], int | float]:
    """An argparse type: ``kind`` (int or float) in ``[low, high]``, both inclusive."""
    what = "an integer" if kind is int else "a number"
    span = f"[{low:g}, {high:g}]" if kind is float else f"[{int(low)}, {int(high)}]"

    def parse(text: str) -> int | float:
        try:
            value = kind(text.strip())
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not {what}; allowed: {what} "
                                             f"in {span}") from None
        if not low <= value <= high:  # (NaN fails too)
            shown = f"{value:g}" if kind is float else str(value)
            raise argparse.ArgumentTypeError(f"{shown} is out of range; allowed: {what} in "
                                             f"{span}")
        return value

    parse.__name__ = flag  # argparse names the flag's type in its messages
    return parse
