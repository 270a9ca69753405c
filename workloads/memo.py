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
    """Cache ``fn(obj, *args, **kwargs)`` per ``obj`` (by identity: the object is kept alive
    with its values, so its id is not reused) and the arguments (not cached when one cannot
    be a dict key). For immutable objects only; the value is shared, not copied."""
    store: dict[int, tuple[Any, dict[tuple[Any, ...], Any]]] = {}

    @functools.wraps(fn)
    def wrapper(obj: Any, *args: Any, **kwargs: Any) -> R:
        key = (args, tuple(sorted(kwargs.items()))) if kwargs else args
        hit = store.get(id(obj))
        if hit is None or hit[0] is not obj:
            if len(store) >= LIMIT:
                store.clear()
            hit = store[id(obj)] = (obj, {})
        values = hit[1]
        try:
            return values[key]
        except KeyError:
            value = values[key] = fn(obj, *args, **kwargs)
            return value
        except TypeError:  # an argument that cannot be a key (an array): not cached
            return fn(obj, *args, **kwargs)

    return wrapper
