"""Reuse and traffic rules: how often a loop order fetches each operand tile, and when partial
sums leave the chip.

A tile stays in its buffer while consecutive tiles reuse it; otherwise it is fetched again.
Partial sums spill to DRAM when the reduction loop is not innermost (among loops of more than
one trip).
"""

from __future__ import annotations

import itertools
from typing import Literal

import numpy as np

__all__ = ["LOOP_ORDERS", "SEARCH_ORDERS", "LoopName", "Operand", "fetch_multiplicity",
           "multiplicity", "spills", "spills_for"]

LoopName = Literal["k", "c", "p"]
#: The tile loops an operand's tiles depend on: weights (k, c), inputs (c, p), and the inputs
#: of a depthwise problem (k, p).
Operand = Literal["w", "i", "i_dw"]
LOOP_ORDERS: tuple[tuple[str, ...], ...] = tuple(itertools.permutations(("k", "c", "p")))
_REL: dict[Operand, tuple[str, ...]] = {"w": ("k", "c"), "i": ("c", "p"), "i_dw": ("k", "p")}


def multiplicity(order: tuple[str, ...], rel: tuple[str, ...], trips: dict[str, np.ndarray]
                 ) -> np.ndarray:
    """How often each tile of an operand is fetched: once per iteration of the loops outside
    the innermost loop it depends on (loops of one trip do not count)."""
    shape = np.broadcast(*trips.values()).shape
    mult = np.ones(shape, dtype=np.int64)
    found = np.zeros(shape, dtype=bool)
    for i in (2, 1, 0):
        if order[i] not in rel:
            continue
        hit = (trips[order[i]] > 1) & ~found
        outer = np.ones(shape, dtype=np.int64)
        for j in range(i):
            if order[j] not in rel:
                outer = outer * trips[order[j]]
        mult = np.where(hit, outer, mult)
        found |= hit
    return mult


def spills(order: tuple[str, ...], trips: dict[str, np.ndarray]) -> np.ndarray:
    """Partial sums leave the chip when the reduction loop has a loop of >1 trip inside it."""
    ci = order.index("c")
    inner = np.zeros(np.broadcast(*trips.values()).shape, dtype=bool)
    for name in order[ci + 1:]:
        inner |= trips[name] > 1
    return (trips["c"] > 1) & inner


def _tables() -> tuple[dict[Operand, np.ndarray], np.ndarray]:
    """The rules above depend only on the order and on which loops have more than one trip
    (8 patterns), so tabulate them: which trip counts multiply each operand's fetches, and
    whether partial sums spill. Primes 2, 3, 5 stand for trips of k, c, p."""
    fetch = {rel: np.zeros((len(LOOP_ORDERS), 8, 3), dtype=bool) for rel in _REL}
    spill = np.zeros((len(LOOP_ORDERS), 8), dtype=bool)
    for o, order in enumerate(LOOP_ORDERS):
        for pat in range(8):
            trips = {"k": np.array(2 if pat & 4 else 1), "c": np.array(3 if pat & 2 else 1),
                     "p": np.array(5 if pat & 1 else 1)}
            for rel, loops in _REL.items():
                m = int(multiplicity(order, loops, trips))
                fetch[rel][o, pat] = (m % 2 == 0, m % 3 == 0, m % 5 == 0)
            spill[o, pat] = bool(spills(order, trips))
    return fetch, spill


_FETCH_LOOPS, _SPILLS = _tables()


def _rows_and_pattern(orders: tuple[tuple[str, ...], ...], nk: np.ndarray, nc: np.ndarray,
                      npx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rows = np.array([LOOP_ORDERS.index(o) for o in orders])
    pattern = (nk > 1) * 4 + (nc > 1) * 2 + (npx > 1)
    return rows, pattern


def fetch_multiplicity(operand: Operand, orders: tuple[tuple[str, ...], ...], nk: np.ndarray,
                       nc: np.ndarray, npx: np.ndarray) -> np.ndarray:
    """Fetches of each tile of ``operand`` for every order × candidate (trip counts ``nk``,
    ``nc``, ``npx`` per candidate): shape (orders, candidates)."""
    rows, pattern = _rows_and_pattern(orders, nk, nc, npx)
    e = _FETCH_LOOPS[operand][rows][:, pattern]  # which trip counts multiply the fetches
    return (np.where(e[..., 0], nk, 1) * np.where(e[..., 1], nc, 1)
            * np.where(e[..., 2], npx, 1))


def spills_for(orders: tuple[tuple[str, ...], ...], nk: np.ndarray, nc: np.ndarray,
               npx: np.ndarray) -> np.ndarray:
    """Whether partial sums spill, for every order × candidate."""
    rows, pattern = _rows_and_pattern(orders, nk, nc, npx)
    return _SPILLS[rows][:, pattern]


def _never_better() -> frozenset[int]:
    """Orders that never win the search: for every pattern of trip counts an earlier order
    fetches each operand (weights and inputs) under a subset of its loops and spills no more
    often. Every cost the search ranks by grows with fetches and spills, and among equal costs
    the earlier order wins, so such an order is never chosen."""
    out = set()
    for b in range(len(LOOP_ORDERS)):
        if all(any(all(np.all(_FETCH_LOOPS[rel][a, pat] <= _FETCH_LOOPS[rel][b, pat])
                       for rel in ("w", "i"))
                   and _SPILLS[a, pat] <= _SPILLS[b, pat] for a in range(b))
               for pat in range(8)):
            out.add(b)
    return frozenset(out)


#: The loop orders the search prices (of a problem that is not depthwise: those have one).
SEARCH_ORDERS: tuple[tuple[str, ...], ...] = tuple(
    o for i, o in enumerate(LOOP_ORDERS) if i not in _never_better())
