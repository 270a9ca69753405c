"""The search: the best legal mapping of a layer, and the price of any given one.

Candidates that fit the buffers are priced under every loop order; the chip's objective ranks
them (fewest cycles, then least DRAM traffic, then fewest tiles — or DRAM first). A layer whose
smallest tile fits no buffer is an :class:`~workloads.errors.InfeasibleError` naming the layer,
the buffer and the size it needs.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache

import numpy as np

from simulator.overlay.chip import Chip, Objective
from simulator.overlay.energy import area_breakdown_mm2
from simulator.overlay.mapping.candidates import (
    BufferNeeds,
    Candidates,
    buffer_needs,
    enumerate_candidates,
)
from simulator.overlay.mapping.pricing import EXACT_LIMIT, exact_bounds, price_candidates
from simulator.overlay.mapping.records import Mapping, PricedCandidates, Totals
from simulator.overlay.mapping.reuse import LOOP_ORDERS
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
             order: tuple[str, ...]) -> Mapping:
    return Mapping(
        unit=p.unit.value, dataflow=chip.dataflow.value if p.unit is Unit.ARRAY else p.unit.value,
        tk=int(c.tk[i]), tc=int(c.tc[i]), toy=int(c.toy[i]), tox=int(c.tox[i]), order=order,
        tiles=int(priced.tiles[o, i]), spills_psums=bool(priced.spill[o, i]),
        rows=int(priced.rows[o, i]), cols=int(priced.cols[o, i]),
    )


@lru_cache(maxsize=256)
def _area_mm2(chip: Chip, tech: TechTable) -> float:
    return sum(area_breakdown_mm2(chip, tech).values())


@lru_cache(maxsize=4096)
def _choose(p: Problem, chip: Chip, tech: TechTable | None) -> tuple[Mapping, Totals]:
    cands = enumerate_candidates(p, chip)
    needs = buffer_needs(p, chip, cands)
    ok = needs.fits(chip)
    if not ok.any():
        _raise_infeasible(p, chip, needs)
    cands = cands.take(np.flatnonzero(ok))
    cands = cands.take(np.flatnonzero(_exact(p, chip, cands)))
    orders = LOOP_ORDERS if not p.depthwise else (("k", "c", "p"),)
    energetic = chip.objective in (Objective.ENERGY, Objective.EDP) and tech is not None
    priced = price_candidates(p, chip, cands, orders, tech=tech if energetic else None,
                              area_mm2=_area_mm2(chip, tech) if energetic and tech else 0.0)
    keys = {
        Objective.LATENCY: (priced.cycles, priced.dram_bytes, priced.tiles),
        Objective.DRAM: (priced.dram_bytes, priced.cycles, priced.tiles),
        Objective.ENERGY: (priced.energy, priced.cycles, priced.tiles),
        Objective.EDP: (priced.energy * priced.cycles, priced.cycles, priced.tiles),
    }[chip.objective]
    # lexsort is stable: among equals, the earlier order and the earlier candidate win
    o, i = divmod(int(np.lexsort(tuple(k.ravel() for k in reversed(keys)))[0]), len(cands))
    return _mapping(p, chip, cands, priced, o, i, orders[o]), priced.totals(o, i)


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


def _exact(p: Problem, chip: Chip, cands: Candidates) -> np.ndarray:
    """Which candidates price exactly (see ``pricing.exact_bounds``); none is an
    :class:`InfeasibleError`: the layer is too large for this chip to count in cycles."""
    cycles, nbytes = exact_bounds(p, chip, cands)
    ok = (cycles < EXACT_LIMIT) & (nbytes < EXACT_LIMIT)
    if not ok.any():
        i = int(np.argmin(cycles))
        slow_dram = nbytes[i] >= EXACT_LIMIT or chip.dram_bytes_per_cycle < 1
        raise InfeasibleError(
            f"layer '{p.name}' is too large for this chip to simulate exactly: its cheapest "
            f"tiling may take {cycles[i]:.3g} cycles or move {nbytes[i]:.3g} bytes, beyond "
            f"the 2**53 the simulator counts exactly",
            layer=p.name, resource="dram.data_rate_mtps" if slow_dram else "pe_array.rows",
            needed=float(max(cycles[i], nbytes[i])), available=EXACT_LIMIT, unit="cycles",
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
    if not bool(needs.fits(chip)[0]):
        _raise_infeasible(p, chip, needs)
    _exact(p, chip, cands)
    priced = price_candidates(p, chip, cands, (order,))
    return _mapping(p, chip, cands, priced, 0, 0, order), priced.totals(0, 0)
