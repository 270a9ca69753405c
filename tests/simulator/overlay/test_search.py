"""The mapper's search is exact: its fast paths (sums factored per tile dimension, loop orders
that never win left out, the last tile's sub-array priced only for candidates that could win)
choose what pricing every candidate one by one under every loop order chooses."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import make_chip
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_properties import SETTINGS, chip_settings, conv_layers, placements, ppu_layers

from simulator.overlay.chip import Dataflow, FoldTiming, FullPrecision, MemoryKind, Objective
from simulator.overlay.cost import k_tile_unit
from simulator.overlay.dram import transfer_fields
from simulator.overlay.energy import area_breakdown_mm2, count_actions, energy_breakdown_pj
from simulator.overlay.mapping import LOOP_ORDERS, choose_mapping, price, pricing, records
from simulator.overlay.mapping.candidates import buffer_needs, enumerate_candidates
from simulator.overlay.mapping.pricing import Layout, exact_compute, price_candidates
from simulator.overlay.mapping.reuse import SEARCH_ORDERS, _never_better
from simulator.overlay.problem import Unit, mac_model, problem_for
from simulator.tech import load_tech
from workloads.errors import ConfigError, InfeasibleError
from workloads.formats import NumberFormat
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
        exact = exact_compute(p, chip, lay, cells)[0]
        assert np.array_equal(exact, exact_compute(p, chip, lay, cells, factored=False)[0])
        floor = np.broadcast_to(fast.compute_floor, shape[1:]).ravel()
        upper = np.broadcast_to(fast.compute, shape[1:]).ravel()
        assert np.all(floor <= exact) and np.all(exact <= upper)


@st.composite
def other_buffers(draw, chip):
    """``chip`` with other buffers (sizes, kinds, banks, slots), objective, accumulators and
    placement switches: fields no kept value of pricing depends on."""
    def buffer(spec):
        return dataclasses.replace(
            spec, size_kib=draw(st.sampled_from([1, 2, 8, 64, 512])),
            double_buffered=draw(st.booleans()),
            kind=draw(st.sampled_from(list(MemoryKind))), banks=draw(st.sampled_from([1, 4])))

    return dataclasses.replace(
        chip, input_buffer=buffer(chip.input_buffer), weight_buffer=buffer(chip.weight_buffer),
        output_buffer=buffer(chip.output_buffer),
        full_precision=draw(st.sampled_from(list(FullPrecision))),
        accumulator_bits=draw(st.sampled_from([16, 24, 32])),
        objective=draw(st.sampled_from(list(Objective))),
        int8_unit_acc_bits=draw(st.sampled_from([24, 32])),
        keep_activations=draw(st.booleans()), keep_weights=draw(st.booleans()),
        fuse_pool=draw(st.booleans()), fuse_add=draw(st.booleans()),
        overlap_layers=draw(st.booleans()), node_nm=draw(st.sampled_from([None, 7.0])))


@st.composite
def other_memories(draw, chip):
    """``chip`` with every field but ``pricing.compute_fields`` (the array, the dataflow, the
    ports, the int8 unit, the post-processor) changed: :func:`other_buffers`, the clock and
    the DRAM."""
    chip = draw(other_buffers(chip))
    dram = dataclasses.replace(
        chip.dram, type=draw(st.sampled_from(["ddr3", "lpddr4", "hbm2"])),
        channels=draw(st.sampled_from([1, 2, 4])), width_bits=draw(st.sampled_from([8, 64])),
        data_rate_mtps=draw(st.sampled_from([250.0, 4000.0])),
        burst_bytes=draw(st.sampled_from([1, 64])), latency_ns=draw(st.sampled_from([0, 50])),
        energy_pj_per_bit=draw(st.sampled_from([1.0, 20.0])))
    return dataclasses.replace(chip, clock_mhz=draw(st.sampled_from([100.0, 1000.0])),
                               dram=dram)


def _changed(draw, chip, field):
    """``chip`` with ``field`` drawn anew: one of what ``pricing.compute_fields`` or
    ``pricing.traffic_fields`` read, or the DRAM's energy (read by neither)."""
    def pe(**kw):
        return dataclasses.replace(chip, pe_array=dataclasses.replace(chip.pe_array, **kw))

    def dram(**kw):
        return dataclasses.replace(chip, dram=dataclasses.replace(chip.dram, **kw))

    def port(name):
        spec = getattr(chip, name)
        return dataclasses.replace(chip, **{name: dataclasses.replace(
            spec, port_bits=draw(st.sampled_from([8, 16, 64, 256, 1024])))})

    return {
        "rows": lambda: pe(rows=draw(st.sampled_from([1, 2, 4, 8, 16]))),
        "cols": lambda: pe(cols=draw(st.sampled_from([1, 2, 4, 8, 16]))),
        "lane_bits": lambda: pe(lane_bits=draw(st.sampled_from([1, 8, 32, 64]))),
        "fold_timing": lambda: pe(fold_timing=draw(st.sampled_from(list(FoldTiming)))),
        "window": lambda: pe(window_kib=draw(st.sampled_from([0.0, 0.25, 4.0]))),
        "dataflow": lambda: dataclasses.replace(
            chip, dataflow=draw(st.sampled_from(list(Dataflow)))),
        "input_port": lambda: port("input_buffer"),
        "weight_port": lambda: port("weight_buffer"),
        "output_port": lambda: port("output_buffer"),
        "ppu_lanes": lambda: dataclasses.replace(chip, ppu_lanes=draw(st.sampled_from([1, 4, 16]))),
        "int8_unit": lambda: dataclasses.replace(
            chip, int8_unit_macs=draw(st.sampled_from([1, 64]))),
        "clock": lambda: dataclasses.replace(
            chip, clock_mhz=draw(st.sampled_from([50.0, 100.0, 1000.0]))),
        "latency": lambda: dram(latency_ns=draw(st.sampled_from([0.0, 10.0, 500.0]))),
        "data_rate": lambda: dram(data_rate_mtps=draw(st.sampled_from([100.0, 4000.0]))),
        "width": lambda: dram(width_bits=draw(st.sampled_from([8, 16, 64]))),
        "burst": lambda: dram(burst_bytes=draw(st.sampled_from([1, 8, 64]))),
        "channels": lambda: dram(channels=draw(st.sampled_from([1, 2, 4]))),
        "dram_energy": lambda: dram(energy_pj_per_bit=draw(st.sampled_from([1.0, 20.0]))),
        "none": lambda: chip,
    }[field]()


CHIP_FIELDS = ("none", "rows", "cols", "lane_bits", "fold_timing", "window", "dataflow",
               "input_port", "weight_port", "output_port", "ppu_lanes", "int8_unit", "clock",
               "latency", "data_rate", "width", "burst", "channels", "dram_energy")


def _same(a, b):
    if a is None or b is None:
        return a is b
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return np.shape(a) == np.shape(b) and np.array_equal(a, b)


@SETTINGS
@given(layer=st.one_of(conv_layers(), ppu_layers()), chip=any_chip(), where=placements,
       data=st.data())
def test_chips_equal_in_compute_fields_share_their_compute_side(layer, chip, where, data):
    """Pricing keeps a layer's compute side per ``compute_fields``: a chip that differs in
    every other field computes the same, uncached."""
    other = data.draw(other_memories(chip))
    assert pricing.compute_fields(other) == pricing.compute_fields(chip)
    p = problem(layer, chip, where)
    orders = SEARCH_ORDERS if not p.depthwise else (("k", "c", "p"),)
    lay = Layout.of(p, enumerate_candidates(p, k_tile_unit(p, chip)), orders)
    cells = np.arange(int(np.prod(lay.cands.shape)))
    sides = []
    for c in (chip, other):
        pricing.forget()
        side = pricing._compute_side(p, c, lay, True)
        sides.append((side, pricing._mac_counts(p, c, lay, side, True),
                      exact_compute(p, c, lay, cells) if len(side.choices) > 1 else None))
    (a, mac_a, exact_a), (b, mac_b, exact_b) = sides
    for f in ("issue", "smallest", "whole", "tail", "floor", "post", "last_post", "choices"):
        assert _same(getattr(a, f), getattr(b, f)), f
    assert _same(mac_a, mac_b)
    assert _same(exact_a, exact_b)


@SETTINGS
@given(layer=st.one_of(conv_layers(), ppu_layers()), chip=any_chip(), where=placements,
       data=st.data())
def test_chips_equal_in_transfer_fields_time_transfers_alike(layer, chip, where, data):
    """Pricing keeps a layout's DRAM transfers per ``dram.transfer_fields``: a chip with
    other fields (the DRAM's type, latency, energy; a width and rate of the same bandwidth)
    times them the same, uncached."""
    other = data.draw(other_memories(chip))
    scale = data.draw(st.sampled_from([1, 2, 4]))
    other = dataclasses.replace(
        other, clock_mhz=chip.clock_mhz, dram=dataclasses.replace(
            other.dram, channels=chip.dram.channels, burst_bytes=chip.dram.burst_bytes,
            width_bits=chip.dram.width_bits * scale,
            data_rate_mtps=chip.dram.data_rate_mtps / scale))
    assume(transfer_fields(other) == transfer_fields(chip))
    p = problem(layer, chip, where)
    lay = Layout.of(p, enumerate_candidates(p, k_tile_unit(p, chip)), SEARCH_ORDERS)
    a = pricing._transfers(lay, chip)
    lay.transfers.clear()
    b = pricing._transfers(lay, other)
    for f in dataclasses.fields(a):
        assert _same(getattr(a, f.name), getattr(b, f.name)), f.name


@pytest.mark.parametrize("field", CHIP_FIELDS)
@settings(SETTINGS, max_examples=max(8, SETTINGS.max_examples // 4))
@given(layer=st.one_of(conv_layers(), ppu_layers()), chip=any_chip(), where=placements,
       data=st.data())
def test_values_kept_for_one_chip_are_those_of_the_next_computed_anew(field, layer, chip,
                                                                       where, data):
    """The small values the search keeps across chips — a layout's buffer needs, whether a
    problem prices exactly everywhere, the slot bound and cycles per slot counts — are, after
    another chip's search, what computing them afresh gives for a chip with other buffers
    and ``field`` changed."""
    other = _changed(data.draw, data.draw(other_buffers(chip)), field)
    p = problem(layer, chip, where)
    orders = SEARCH_ORDERS if not p.depthwise else (("k", "c", "p"),)
    lay = Layout.of(p, enumerate_candidates(p, k_tile_unit(p, chip)), orders)
    pricing.forget()
    lay.needs(p, chip)
    pricing.exact_everywhere(p, chip)
    warm = price_candidates(p, chip, lay), price_candidates(p, other, lay)
    needs = lay.needs(p, other)
    fresh = buffer_needs(p, other, lay.cands)
    for name in ("input", "weight", "output"):
        assert _same(getattr(needs, name), getattr(fresh, name)), name
    cycles, nbytes = pricing.extreme_bounds(p, other)
    assert pricing.exact_everywhere(p, other) == (cycles < pricing.EXACT_LIMIT
                                                  and nbytes < pricing.EXACT_LIMIT)
    pricing.forget()
    cold = price_candidates(p, other, Layout.of(p, lay.cands, orders))
    for name in ("slot", "bound", "cycles"):
        assert _same(getattr(warm[1], name), getattr(cold, name)), name


def _cold(p, chip):
    from simulator.overlay.mapping import search

    search._choose.cache_clear()
    pricing.forget()
    try:
        return choose_mapping(p, chip)
    except InfeasibleError as err:
        return str(err)


@pytest.mark.parametrize("field", CHIP_FIELDS)
@settings(SETTINGS, max_examples=max(8, SETTINGS.max_examples // 4))
@given(layer=st.one_of(conv_layers(), ppu_layers()), chip=any_chip(), where=placements,
       data=st.data())
def test_a_search_after_a_similar_chip_chooses_as_a_cold_one(field, layer, chip, where, data):
    """What one chip's search keeps (compute sides, exact last tiles, transfers, traffic)
    gives a chip with other buffers and ``field`` changed the same mapping and totals as a
    search from nothing."""
    other = _changed(data.draw, data.draw(other_buffers(chip)), field)
    p = problem(layer, chip, where)
    cold = _cold(p, other)
    _cold(p, chip)  # warms every cache with ``chip``
    try:
        warm = choose_mapping(p, other)
    except InfeasibleError as err:
        warm = str(err)
    assert warm == cold
    if not isinstance(cold, str):  # (the MAC counts, which the energy reads, too)
        assert warm[1].mac == cold[1].mac


def test_an_int8_layer_after_a_chip_with_another_int8_unit_chooses_as_a_cold_one():
    """The int8 unit's rate is one of ``compute_fields``: an 8-bit layer on it is priced
    anew for a chip with another (hypothesis rarely draws such a layer)."""
    i8, b1 = NumberFormat.parse("8"), NumberFormat.parse("1")
    layer = Conv2d("c", (3, 16, 16), 32, (3, 3), 1, 1, 1, i8, i8, b1)
    base = {"full_precision": "int8_unit", "accumulator_bits": 32,
            "mapping.objective": "energy"}
    fast = make_chip(**base, **{"int8_unit.macs_per_cycle": 64})
    slow = make_chip(**base, **{"int8_unit.macs_per_cycle": 2})
    p = problem_for(layer, fast)
    assert p.unit is Unit.INT8
    cold = _cold(p, slow)
    _cold(p, fast)
    warm = choose_mapping(p, slow)
    assert warm == cold and warm[1].mac == cold[1].mac
    assert warm[1].compute_cycles > choose_mapping(p, fast)[1].compute_cycles


@SETTINGS
@given(layer=st.one_of(conv_layers(), ppu_layers()), chip=any_chip(), where=placements,
       data=st.data())
def test_chips_equal_in_traffic_fields_share_their_traffic(layer, chip, where, data):
    """A layer's traffic is kept per ``traffic_fields``: a chip with a faster clock, a DRAM
    as much faster and a latency as much shorter (the same cycles), another DRAM type and
    energy, and other buffers computes the same traffic, uncached."""
    scale = data.draw(st.sampled_from([2, 4]))
    other = dataclasses.replace(
        data.draw(other_buffers(chip)), clock_mhz=chip.clock_mhz * scale,
        dram=dataclasses.replace(
            chip.dram, type=data.draw(st.sampled_from(["ddr3", "lpddr4", "hbm2"])),
            energy_pj_per_bit=data.draw(st.sampled_from([1.0, 20.0])),
            data_rate_mtps=chip.dram.data_rate_mtps * scale,
            latency_ns=chip.dram.latency_ns / scale))
    assume(pricing.traffic_fields(other) == pricing.traffic_fields(chip))
    p = problem(layer, chip, where)
    orders = SEARCH_ORDERS if not p.depthwise else (("k", "c", "p"),)
    lay = Layout.of(p, enumerate_candidates(p, k_tile_unit(p, chip)), orders)
    traffic = []
    for c in (chip, other):
        pricing.forget()
        side = pricing._compute_side(p, c, lay, True)
        lay.transfers.clear()
        traffic.append(pricing._traffic(p, c, lay, side))
    a, b = traffic
    for f in dataclasses.fields(a):
        if f.name == "streams":
            assert a.streams.keys() == b.streams.keys()
            assert all(_same(a.streams[k], b.streams[k]) for k in a.streams)
        elif f.name != "memo":
            assert _same(getattr(a, f.name), getattr(b, f.name)), f.name


@SETTINGS
@given(layer=st.one_of(conv_layers(), ppu_layers()), chip=any_chip(), where=placements,
       frames=st.sampled_from([1, 2, 7, 64]))
def test_the_extreme_tiling_bounds_every_candidates_overflow_bound(layer, chip, where, frames):
    """``exact_everywhere`` decides for every candidate from the bounds' value at the most
    tiles and the largest tile sizes: that value is never below a candidate's."""
    p = problem(layer, chip, {**where, "frames": frames})
    cycles, nbytes = pricing.exact_bounds(p, chip, enumerate_candidates(p, k_tile_unit(p, chip)))
    most_cycles, most_bytes = pricing.extreme_bounds(p, chip)
    assert cycles.max() <= most_cycles and nbytes.max() <= most_bytes


def test_a_batch_too_large_to_count_exactly_is_infeasible():
    """A batch whose tilings may all pass 2**53 cycles is an InfeasibleError, not a mapping
    priced past float64's integers (the pixel loop runs over the frames)."""
    i8, b1 = NumberFormat.parse("8"), NumberFormat.parse("1")
    chip = make_chip(**{"clock_mhz": 10000, "dram.latency_ns": 100000, "accumulator_bits": 32,
                        "int8_unit.macs_per_cycle": 1, "buffers.input.size_kib": 0.0625,
                        "buffers.weight.size_kib": 0.0625, "buffers.output.size_kib": 0.0625})
    p = problem_for(Conv2d("c", (64, 32, 32), 64, (3, 3), 1, 1, 1, i8, i8, b1), chip,
                    frames=4096)
    assert not pricing.exact_everywhere(p, chip)
    with pytest.raises(InfeasibleError, match="too large for this chip to simulate exactly"):
        choose_mapping(p, chip)


def test_kept_layouts_stay_within_their_budget_and_change_no_choice(monkeypatch):
    """Layouts are kept least recently used within ``LAYOUT_BUDGET``: what is counted is what
    the kept layouts hold (their arrays, transfers and needs), a new layout lets the oldest
    go until the rest fit, and a search with a small store chooses as with a large one."""
    from simulator.overlay.mapping import search

    b1 = NumberFormat.parse("1")
    layers = [Conv2d(f"c{i}", (c, h, h), k, (3, 3), 1, 1, 1, b1, b1, b1)
              for i, (c, h, k) in enumerate([(16, 8, 32), (32, 16, 64), (64, 8, 64),
                                             (8, 32, 16), (48, 12, 24)])]
    chips = [make_chip(**{"pe_array.cols": cols, "dram.channels": ch})
             for cols in (4, 8) for ch in (1, 2)]

    def choices():
        out = []
        for chip in chips:
            for layer in layers:
                search._choose.cache_clear()
                out.append(choose_mapping(problem_for(layer, chip), chip))
                held = sum(pricing._nbytes(lay) for lay in pricing._LAYOUTS.values())
                assert pricing._layout_bytes[0] == held
                assert all(lay.held[0] == pricing._nbytes(lay)
                           for lay in pricing._LAYOUTS.values())
        return out

    pricing.forget()
    wide = choices()
    many = len(pricing._LAYOUTS)
    sizes = sorted(lay.held[0] for lay in pricing._LAYOUTS.values())
    assert many == len(layers) * 2  # (a layout per problem and column count)
    lay = pricing.layout(problem_for(layers[0], chips[0]), 4, SEARCH_ORDERS)
    for rate in range(1, 2 + pricing._TRANSFERS_LIMIT):  # (more DRAMs than a layout keeps)
        pricing._transfers(lay, make_chip(**{"dram.data_rate_mtps": 100.0 * rate}))
        assert lay.held[0] == pricing._nbytes(lay)
        assert pricing._layout_bytes[0] == sum(pricing._nbytes(x)
                                               for x in pricing._LAYOUTS.values())
    pricing.forget()
    assert pricing._layout_bytes[0] == 0 and lay.held[0] == 0
    monkeypatch.setattr(pricing, "LAYOUT_BUDGET", sizes[-1] + sizes[0])
    narrow = choices()
    assert len(pricing._LAYOUTS) < many
    assert wide == narrow
    for layer in layers:  # each new layout lets the oldest go until the rest fit
        pricing.layout(problem_for(layer, chips[0], frames=2), 4, SEARCH_ORDERS)
        assert (pricing._layout_bytes[0] <= pricing.LAYOUT_BUDGET
                or len(pricing._LAYOUTS) == 1)
    pricing.forget()


def test_kept_sides_count_what_they_hold_when_their_traffic_starts_again():
    """A compute side keeps the traffic of at most ``_TRAFFIC_LIMIT`` DRAMs: the next one
    lets the others go, and their bytes leave its count and the store's with them."""
    b1 = NumberFormat.parse("1")
    layer = Conv2d("c", (32, 16, 16), 64, (3, 3), 1, 1, 1, b1, b1, b1)
    chips = [make_chip(**{"dram.data_rate_mtps": 100.0 * r})
             for r in range(1, 2 + pricing._TRAFFIC_LIMIT)]
    p = problem_for(layer, chips[0])
    pricing.forget()
    counts = []
    for chip in chips:
        price_candidates(p, chip, pricing.layout(p, k_tile_unit(p, chip), SEARCH_ORDERS))
        (side,) = pricing._COMPUTED.values()
        counts.append(side.memo["bytes"])
        assert pricing._kept_bytes[0] == side.memo["bytes"]
    assert counts[-1] == counts[0] < counts[-2]  # (one DRAM's traffic again)
    pricing.forget()
    assert pricing._kept_bytes[0] == 0 and "bytes" not in side.memo


@pytest.mark.parametrize(("frames", "changes"), [
    (16, {"int8_unit.macs_per_cycle": 1024}),  # one of compute_fields
    (4, {"dram.data_rate_mtps": 10}),  # of traffic_fields: the bandwidth,
    (7, {"dram.latency_ns": 0}),  # the latency
    (7, {"dram.latency_ns": 0, "dram.burst_bytes": 65536}),  # and the burst
])
def test_whether_a_problem_prices_exactly_is_kept_per_the_fields_it_reads(frames, changes):
    """``exact_everywhere`` is kept per the problem, ``compute_fields`` and ``traffic_fields``:
    one field of either changes the answer, and asking after the other chip does not."""
    i8, b1 = NumberFormat.parse("8"), NumberFormat.parse("1")
    base = {"clock_mhz": 10000, "dram.latency_ns": 100000, "accumulator_bits": 32,
            "int8_unit.macs_per_cycle": 1, "buffers.input.size_kib": 0.0625,
            "buffers.weight.size_kib": 0.0625, "buffers.output.size_kib": 0.0625}
    if "dram.burst_bytes" in changes:  # (the other chip: the same but for the burst)
        base.update({"dram.latency_ns": 0, "dram.burst_bytes": 32})
    a, b = make_chip(**base), make_chip(**{**base, **changes})
    layer = (Conv2d("c", (64, 32, 32), 64, (3, 3), 1, 1, 1, i8, i8, b1) if frames != 7
             else Conv2d("c", (65, 32, 35), 60, (3, 3), 1, 1, 1, i8, i8, b1))
    p = problem_for(layer, a, frames=frames)
    fresh = {}
    for chip in (a, b):
        cycles, nbytes = pricing.extreme_bounds(p, chip)
        fresh[chip] = bool(cycles < pricing.EXACT_LIMIT and nbytes < pricing.EXACT_LIMIT)
    assert fresh[a] != fresh[b]
    for first, then in ((a, b), (b, a)):
        pricing.forget()
        assert pricing.exact_everywhere(p, first) == fresh[first]
        assert pricing.exact_everywhere(p, then) == fresh[then]


@SETTINGS
@given(grid=st.tuples(*[st.integers(1, 5)] * 3), orders=st.integers(1, 4), data=st.data())
def test_gathering_candidates_reads_what_broadcasting_gives(grid, orders, data):
    """``records.gather`` (and ``on_grid``) read an array at grid cells from its own elements:
    the same as broadcasting it to (orders, *grid) and indexing, for every axis of size one
    or full, with or without the orders axis, and of fewer dimensions."""
    full = (orders, *grid)
    ndim = data.draw(st.integers(0, 4))
    shape = tuple(data.draw(st.sampled_from([1, n])) for n in full[len(full) - ndim:])
    a = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape) * 7 - 3
    if data.draw(st.booleans()) and a.ndim:  # a view that is not contiguous
        a = np.broadcast_to(a, full[len(full) - a.ndim:])
    flat = np.array(data.draw(st.lists(st.integers(0, int(np.prod(grid)) - 1), max_size=9)),
                    dtype=np.int64)
    expected = np.broadcast_to(a, full)[(slice(None), *np.unravel_index(flat, grid))]
    got = records.gather(full, flat)(a)
    assert got.shape == expected.shape and np.array_equal(got, expected)
    if a.ndim < len(full):
        assert np.array_equal(records.on_grid(a, grid, flat),
                              np.broadcast_to(a, grid).reshape(-1)[flat])
    wrong = data.draw(st.sampled_from([(*full[:-1], full[-1] + 1), (orders + 1, *grid),
                                       (2, *full)]))
    with pytest.raises(ValueError, match="does not broadcast"):
        records.gather(full, flat)(np.zeros(wrong, dtype=np.int64))


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
