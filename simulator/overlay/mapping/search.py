"""The search: the best legal mapping of a layer, and the price of any given one.

Candidates that fit the buffers are priced under every loop order that can win; the chip's
objective ranks them (fewest cycles, then least DRAM traffic, then fewest tiles — or DRAM
first). A layer whose smallest tile fits no buffer is an
:class:`~workloads.errors.InfeasibleError` naming the layer, the buffer and the size it needs.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from typing import Any

import numpy as np

from simulator.overlay.chip import Chip, Objective
from simulator.overlay.cost import k_tile_unit
from simulator.overlay.energy import area_breakdown_mm2
from simulator.overlay.mapping.candidates import BufferNeeds, Candidates, buffer_needs
from simulator.overlay.mapping.pricing import (
    EXACT_LIMIT,
    Layout,
    exact_bounds,
    exact_compute,
    exact_everywhere,
    layout,
    price_candidates,
)
from simulator.overlay.mapping.records import Mapping, PricedCandidates, Totals, item
from simulator.overlay.mapping.reuse import SEARCH_ORDERS
from simulator.overlay.problem import Problem, Unit
from simulator.tech import TechTable, load_tech
from workloads.errors import InfeasibleError

__all__ = ["choose_mapping", "price"]


def choose_mapping(p: Problem, chip: Chip, tech: TechTable | None = None
                   ) -> tuple[Mapping, Totals]:
    """The best legal mapping of ``p`` on ``chip`` by the chip's objective, and its exact
    totals. ``tech`` prices energy (default: the chip's own table) for the ``energy`` and
    ``edp`` objectives.

    Raises :class:`InfeasibleError` naming the layer, the buffer and the size needed when not
    even the smallest tile fits. Layers of equal shape share one search (cached).
    """
    if tech is None and chip.objective in (Objective.ENERGY, Objective.EDP):
        tech = load_tech(chip.tech)
    try:
        return _choose(dataclasses.replace(p, name=""), chip, tech)
    except InfeasibleError as err:
        raise InfeasibleError(err.message.replace("layer ''", f"layer '{p.name}'"),
                              layer=p.name, resource=err.resource, needed=err.needed,
                              available=err.available, unit=err.unit, file=err.file,
                              value=err.value, has_value=err.has_value) from None


def _mapping(p: Problem, chip: Chip, c: Candidates, priced: PricedCandidates, o: int, i: int,
             order: tuple[str, ...], sub_array: tuple[int, int] | None) -> Mapping:
    """The mapping of order ``o``, candidate ``i``; ``sub_array``: its last tile's (rows,
    cols) where not the usable array's."""
    index = (o, *c.cell(i))
    tk, tc, toy, tox = c.tiling(i)

    def at(a: np.ndarray) -> int:
        return item(a, index)

    rows, cols = sub_array or (at(priced.rows), at(priced.cols))
    return Mapping(
        unit=p.unit.value, dataflow=chip.dataflow.value if p.unit is Unit.ARRAY else p.unit.value,
        tk=tk, tc=tc, toy=toy, tox=tox, order=order, tiles=at(priced.tiles),
        spills_psums=bool(at(priced.spill)), rows=rows, cols=cols,
    )


@lru_cache(maxsize=256)
def _area_mm2(chip: Chip, tech: TechTable) -> float:
    return sum(area_breakdown_mm2(chip, tech).values())


@lru_cache(maxsize=4096)
def _choose(p: Problem, chip: Chip, tech: TechTable | None) -> tuple[Mapping, Totals]:
    orders = SEARCH_ORDERS if not p.depthwise else (("k", "c", "p"),)
    lay = layout(p, k_tile_unit(p, chip), orders)
    cands = lay.cands
    needs = lay.needs(p, chip)
    fits = np.broadcast_to(needs.fits(chip), cands.shape)
    if not fits.any():
        _raise_infeasible(p, chip, needs)
    if not exact_everywhere(p, chip):
        fits = fits & _exact(p, chip, cands, fits)
    ok = np.flatnonzero(fits)  # the candidates, in grid order
    energetic = chip.objective in (Objective.ENERGY, Objective.EDP) and tech is not None
    priced = price_candidates(p, chip, lay, tech=tech if energetic else None,
                              area_mm2=_area_mm2(chip, tech) if energetic and tech else 0.0)
    picked = priced.pick(ok, dram=chip.objective in (Objective.LATENCY, Objective.DRAM))

    def keys(cycles: np.ndarray) -> tuple[Any, ...]:
        """The objective's ranking keys of ``picked`` at ``cycles``, most significant first."""
        return {
            Objective.LATENCY: lambda: (cycles, picked.dram),
            Objective.DRAM: lambda: (picked.dram, cycles),
            Objective.ENERGY: lambda: (picked.energy_at(cycles), cycles),
            Objective.EDP: lambda: (picked.energy_at(cycles) * cycles, cycles),
        }[chip.objective]()

    ranked = keys(picked.cycles)
    compute = None
    if priced.compute_floor is not None:
        # The last tile may run faster on a sub-array: the keys above take it on the usable
        # array, an upper bound. Only candidates whose key at their least compute could
        # still reach the best upper bound can win; price their last tile exactly.
        reach = keys(picked.cycles_at(priced.on_grid(priced.compute_floor, ok)))[0]
        keep = np.flatnonzero((reach <= ranked[0].min()).any(axis=0))
        ok, picked = ok[keep], picked.keep(keep)
        compute, rows, cols = exact_compute(p, chip, lay, ok)
        ranked = keys(picked.cycles_at(compute))
    # lexsort is stable: among equals, the earlier order and the earlier candidate win
    o, j = divmod(int(np.lexsort((picked.tiles.ravel(),
                                  *(k.ravel() for k in reversed(ranked))))[0]), len(ok))
    last = None if compute is None else (int(compute[j]), int(rows[j]), int(cols[j]))
    return _chosen(p, chip, lay, priced, o, int(ok[j]), last)


def _chosen(p: Problem, chip: Chip, lay: Layout, priced: PricedCandidates, o: int, i: int,
            last: tuple[int, int, int] | None) -> tuple[Mapping, Totals]:
    """The mapping and totals of order ``o``, candidate ``i``; ``last``: its compute cycles
    and the sub-array (rows, cols) of its last tile where ``priced`` took the usable array
    for it (``priced.compute_floor``); None: priced exactly."""
    if last is None and priced.compute_floor is not None:  # (``price``: a one-off layout)
        compute, rows, cols = exact_compute(p, chip, lay, np.array([i]), keep=False)
        last = (int(compute[0]), int(rows[0]), int(cols[0]))
    compute_, sub_array = (None, None) if last is None else (last[0], (last[1], last[2]))
    return (_mapping(p, chip, lay.cands, priced, o, i, lay.orders[o], sub_array),
            priced.totals(o, lay.cands.cell(i), compute_))


def _raise_infeasible(p: Problem, chip: Chip, needs: BufferNeeds) -> None:
    for name in ("weight", "input", "output"):
        spec = {"input": chip.input_buffer, "weight": chip.weight_buffer,
                "output": chip.output_buffer}[name]
        smallest = int(getattr(needs, name).min())
        if smallest > spec.tile_bits:
            kib = smallest * spec.slots / 8192
            raise InfeasibleError(
                f"layer '{p.name}' cannot be mapped: its smallest tile needs {smallest} bits in "
                f"the {name} buffer, which holds {spec.tile_bits} bits per slot; set "
                f"buffers.{name}.size_kib ≥ {kib:.4g}"
                + (" (double-buffered)" if spec.slots == 2 else ""),
                layer=p.name, resource=f"buffers.{name}.size_kib", needed=kib,
                available=spec.size_kib, unit="KiB", file=chip.source or chip.name,
                value=spec.size_kib, has_value=True,
            )
    # the candidate of 1×1×1×1 tiles needs the least of every buffer at once
    raise RuntimeError(f"mapper: no candidate of layer '{p.name}' fits although each buffer "
                       "fits its smallest tile; please report")


def _exact(p: Problem, chip: Chip, cands: Candidates, fits: np.ndarray) -> np.ndarray:
    """Which candidates price exactly (see ``pricing.exact_bounds``); none of those that
    ``fits`` is an :class:`InfeasibleError`: the layer is too large for this chip to count in
    cycles."""
    cycles, nbytes = (np.broadcast_to(x, cands.shape)
                      for x in exact_bounds(p, chip, cands))
    ok = (cycles < EXACT_LIMIT) & (nbytes < EXACT_LIMIT)
    if not (ok & fits).any():
        i = int(np.argmin(np.where(fits, cycles, np.inf)))
        c, b = cycles.flat[i], nbytes.flat[i]
        slow_dram = b >= EXACT_LIMIT or chip.dram_bytes_per_cycle < 1
        raise InfeasibleError(
            f"layer '{p.name}' is too large for this chip to simulate exactly: its cheapest "
            f"tiling may take {c:.3g} cycles or move {b:.3g} bytes, beyond "
            f"the 2**53 the simulator counts exactly",
            layer=p.name, resource="dram.data_rate_mtps" if slow_dram else "pe_array.rows",
            needed=float(max(c, b)), available=EXACT_LIMIT, unit="cycles",
            file=chip.source or chip.name)
    return ok


def price(p: Problem, chip: Chip, *, tk: int, tc: int, toy: int, tox: int,
          order: tuple[str, ...] = ("k", "c", "p")) -> tuple[Mapping, Totals]:
    """Exact totals of one given tiling (what-if mappings; the tests' hand derivations).

    Raises ``ValueError`` for an illegal tiling or order and :class:`InfeasibleError` when the
    tiles do not fit the buffers.
    """
    if sorted(order) != ["c", "k", "p"]:
        raise ValueError(f"loop order must be a permutation of k, c, p, not {order!r}")
    for name, value, top in (("tk", tk, p.K), ("tc", tc, p.C), ("toy", toy, p.OY),
                             ("tox", tox, p.OX)):
        if not 1 <= value <= top:
            raise ValueError(f"{name} must be in [1, {top}], not {value!r}")
    cands = Candidates.single(p, tk, tc, toy, tox)
    needs = buffer_needs(p, chip, cands)
    fits = np.broadcast_to(needs.fits(chip), cands.shape)
    if not fits.all():
        _raise_infeasible(p, chip, needs)
    _exact(p, chip, cands, fits)
    lay = Layout.of(p, cands, (order,))
    return _chosen(p, chip, lay, price_candidates(p, chip, lay, keep=False), 0, 0, None)
