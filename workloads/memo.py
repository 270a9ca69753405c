"""Caches keyed by an object's identity, for frozen records that are costly to hash or to
serialise again (a technology table's entries, a network's layers)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["per_object"]

R = TypeVar("R")

#: entries kept per cached function before it starts again (records are few: a run's chips,
#: tables and networks)
LIMIT = 512


def per_object(fn: Callable[..., R]) -> Callable[..., R]:
    """Cache ``fn(obj, *args)`` per ``obj`` (by identity: the object is kept alive with its
    values, so its id is not reused) and ``args``. For immutable objects only; the value is
    shared, not copied."""
    store: dict[int, tuple[Any, dict[tuple[Any, ...], Any]]] = {}

    @functools.wraps(fn)
    def wrapper(obj: Any, *args: Any) -> R:
        hit = store.get(id(obj))
        if hit is None or hit[0] is not obj:
            if len(store) >= LIMIT:
                store.clear()
            hit = store[id(obj)] = (obj, {})
        values = hit[1]
        if args not in values:
            values[args] = fn(obj, *args)
        return values[args]

    return wrapper
