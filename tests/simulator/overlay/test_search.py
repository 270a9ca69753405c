"""The mapper's search is exact: its fast paths (sums factored per tile dimension, loop orders
that never win left out, the last tile's sub-array priced only for candidates that could win)
choose what pricing every candidate one by one under every loop order chooses."""

from __future__ import annotations

import numpy as np
from conftest import make_chip
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_properties import SETTINGS, chip_settings, conv_layers, placements, ppu_layers

from simulator.overlay.cost import k_tile_unit
from simulator.overlay.energy import area_breakdown_mm2, count_actions, energy_breakdown_pj
from simulator.overlay.mapping import LOOP_ORDERS, choose_mapping, price
from simulator.overlay.mapping.candidates import buffer_needs, enumerate_candidates
from simulator.overlay.mapping.pricing import Layout, exact_compute, price_candidates
from simulator.overlay.mapping.reuse import SEARCH_ORDERS, _never_better
from simulator.overlay.problem import mac_model, problem_for
from simulator.tech import load_tech
from workloads.errors import ConfigError, InfeasibleError
from workloads.layers import Add, Conv2d, Pool

FIELDS = ("compute", "post", "weight_bytes", "input_bytes", "output_bytes", "psum_bytes",
          "occupancy", "transfers", "first_load", "first_weight", "first_weight_moved",
          "last_post", "last_store", "slot", "serial", "spill", "tiles", "cycles",
          "last_tail")


@st.composite
def any_chip(draw):
    """The property tests' chips, with every objective and sometimes a window buffer."""
    settings = draw(chip_settings())
    settings["mapping.objective"] = draw(st.sampled_from(["energy", "edp", "latency", "dram"]))
    settings["pe_array.window_buffer_kib"] = draw(st.sampled_from([0, 0, 0.25, 4]))
    try:
        return make_chip(**settings)
    except ConfigError:
        assume(False)


def problem(layer, chip, where):
    where = dict(where)
    fuse = where.pop("fuse")
    if fuse is not None and isinstance(layer, Conv2d):
        shape = layer.out_shape
        if fuse == "add":
            where["add"] = Add("a", shape, layer.output, layer.output)
        elif min(shape[1:]) >= 2:
            where["pool"] = Pool("p", shape, 2, 2, 0, fuse, layer.output, layer.output)
    try:
        return problem_for(layer, chip, **where)
    except ConfigError:
        assume(False)


@SETTINGS
@given(layer=st.one_of(conv_layers(), ppu_layers()), chip=any_chip(), where=placements)
def test_factored_sums_equal_the_sums_over_every_class_combination(layer, chip, where):
    p = problem(layer, chip, where)
    orders = SEARCH_ORDERS if not p.depthwise else (("k", "c", "p"),)
    lay = Layout.of(p, enumerate_candidates(p, k_tile_unit(p, chip)), orders)
    tech = load_tech(chip.tech)
    area = sum(area_breakdown_mm2(chip, tech).values())
    fast, slow = (price_candidates(p, chip, lay, tech=tech, area_mm2=area, factored=f)
                  for f in (True, False))
    shape = np.shape(slow.cycles)
    for name in FIELDS:
        a, b = (np.broadcast_to(getattr(x, name), shape) for x in (fast, slow))
        assert np.array_equal(a, b), name
    assert np.array_equal(np.broadcast_to(fast.energy, shape),
                          np.broadcast_to(slow.energy, shape))
    if fast.compute_floor is not None:  # the floor bounds the exact compute, every cell
        cells = np.arange(int(np.prod(shape[1:])))
        exact = exact_compute(p, chip, lay, fast, cells)[0]
        assert np.array_equal(exact, exact_compute(p, chip, lay, slow, cells, factored=False)[0])
        floor = np.broadcast_to(fast.compute_floor, shape[1:]).ravel()
        upper = np.broadcast_to(fast.compute, shape[1:]).ravel()
        assert np.all(floor <= exact) and np.all(exact <= upper)


def test_the_orders_left_out_never_win():
    """An order whose fetches and spills an earlier order never exceeds is not priced."""
    left_out = [LOOP_ORDERS[i] for i in sorted(_never_better())]
    assert left_out == [("p", "k", "c"), ("p", "c", "k")]
    assert tuple(o for o in LOOP_ORDERS if o not in left_out) == SEARCH_ORDERS


@st.composite
def small_convs(draw):
    c, k = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    h, w = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    kernel = draw(st.integers(1, 3))
    pad = draw(st.integers(0, kernel // 2))
    assume(h + 2 * pad >= kernel and w + 2 * pad >= kernel)
    layer = draw(conv_layers())
    return Conv2d("l", (c, h, w), k, (kernel, kernel), draw(st.integers(1, 2)), pad, 1,
                  layer.weights, layer.activations, layer.output)


def _brute_force(p, chip):
    """The objective's best (order, tiling) by pricing each on its own, ties to the earlier
    order, then the earlier candidate (the search's rule)."""
    tech = load_tech(chip.tech)
    area = sum(area_breakdown_mm2(chip, tech).values())
    lat = chip.dram_latency_cycles
    cands = enumerate_candidates(p, k_tile_unit(p, chip))
    fits = np.broadcast_to(buffer_needs(p, chip, cands).fits(chip), cands.shape).ravel()
    orders = LOOP_ORDERS if not p.depthwise else (("k", "c", "p"),)
    best = None
    for o, order in enumerate(orders):
        for i in np.flatnonzero(fits):
            tk, tc, toy, tox = cands.tiling(int(i))
            try:
                m, t = price(p, chip, tk=tk, tc=tc, toy=toy, tox=tox, order=order)
            except InfeasibleError:
                continue
            cycles = t.lower_bound(lat)
            energy = sum(energy_breakdown_pj(
                count_actions(p, chip, m, t), chip, tech, cycles=cycles, area_mm2=area,
                acc_bits=p.acc_bits, model=mac_model(p, chip)).values())
            key = {"latency": (cycles, t.dram_bytes), "dram": (t.dram_bytes, cycles),
                   "energy": (energy, cycles), "edp": (energy * cycles, cycles)}[
                chip.objective.value] + (m.tiles, o, int(i))
            if best is None or key < best[0]:
                best = (key, m, t)
    return best


@settings(SETTINGS, max_examples=max(10, SETTINGS.max_examples // 2))
@given(layer=small_convs(), chip=any_chip(), where=placements)
def test_the_search_chooses_what_pricing_every_mapping_chooses(layer, chip, where):
    p = problem(layer, chip, {**where, "frames": 1})
    try:
        chosen = choose_mapping(p, chip)
    except InfeasibleError:
        assume(False)
    best = _brute_force(p, chip)
    assert best is not None
    _, m, t = best
    # the brute force prices each tiling alone; its sub-array is the search's to choose
    assert chosen == (m, t)
