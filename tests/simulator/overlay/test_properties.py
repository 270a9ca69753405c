"""Property tests over random layers and chips (hypothesis).

Bounds: analytical ≤ event ≤ fully serial, per layer and in network runs. Monotonicity: more
DRAM channels, a faster DRAM, wider lanes, bigger buffers or more PEs never add cycles.
Conservation: energy is the sum of its parts; DRAM bytes cover every unique weight, input and
output; the tiling covers every MAC once; the class-based totals equal the sums over the
explicit tile schedule.
"""

from __future__ import annotations

import dataclasses
import math
import os

from conftest import make_chip
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from simulator.overlay.dram import busy_cycles, transfer
from simulator.overlay.energy import area_breakdown_mm2, count_actions, energy_breakdown_pj
from simulator.overlay.engines import AnalyticalEngine, EventEngine, LayerJob
from simulator.overlay.mapping import choose_mapping
from simulator.overlay.problem import Unit, mac_model, problem_for
from simulator.overlay.schedule import build_schedule
from simulator.tech import load_tech
from workloads.errors import ConfigError
from workloads.formats import NumberFormat
from workloads.layers import Add, Conv2d, Pool

EXAMPLES = int(os.environ.get("BNNSIM_HYPOTHESIS_EXAMPLES", "80"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

precisions = st.sampled_from([
    NumberFormat("binary", 1), NumberFormat("ternary", 2), NumberFormat("int", 2),
    NumberFormat("int", 4), NumberFormat("bases", 3, 3), NumberFormat("int", 8),
])


@st.composite
def conv_layers(draw):
    groups = draw(st.sampled_from([1, 1, 1, 2]))
    c = groups * draw(st.integers(1, 48))
    k = groups * draw(st.integers(1, 48))
    h = draw(st.integers(1, 20))
    w = draw(st.integers(1, 20))
    kernel = draw(st.integers(1, 5))
    pad = draw(st.integers(0, kernel))  # padding ≥ kernel is legal: border outputs read none
    stride = draw(st.integers(1, 3))
    assume(h + 2 * pad >= kernel and w + 2 * pad >= kernel)
    return Conv2d("l", (c, h, w), k, (kernel, kernel), stride, pad, groups,
                  draw(precisions), draw(precisions), draw(precisions))


@st.composite
def ppu_layers(draw):
    c, h, w = draw(st.integers(1, 64)), draw(st.integers(3, 24)), draw(st.integers(3, 24))
    prec = draw(precisions)
    if draw(st.booleans()):
        return Add("a", (c, h, w), prec, prec)
    k = draw(st.integers(2, 3))
    return Pool("p", (c, h, w), k, draw(st.integers(1, k)), draw(st.integers(0, k // 2)),
                draw(st.sampled_from(["max", "avg"])), prec, prec)


@st.composite
def chip_settings(draw):
    """A random chip's dotted-path settings (for :func:`make_chip`)."""
    return {
        "pe_array.rows": draw(st.sampled_from([1, 2, 3, 4, 8, 12, 16])),
        "pe_array.cols": draw(st.sampled_from([1, 2, 3, 4, 5, 8, 12, 16])),
        "pe_array.lane_bits": draw(st.sampled_from([1, 8, 32, 64])),
        "pe_array.fold_timing": draw(st.sampled_from(["pipelined", "per_fold"])),
        "pe_array.pe_type": draw(st.sampled_from(["xnor", "xnor_mask"])),
        "pe_array.packing": draw(st.sampled_from(["channel", "kernel"])),
        "accumulator_bits": draw(st.sampled_from([24, 32])),
        "dataflow": draw(st.sampled_from(["output_stationary", "weight_stationary",
                                          "input_stationary"])),
        "buffers.input.port_bits": draw(st.sampled_from([8, 64, 256, 1024])),
        "buffers.weight.port_bits": draw(st.sampled_from([8, 64, 256, 1024])),
        "buffers.output.port_bits": draw(st.sampled_from([16, 64, 256, 1024])),
        "buffers.input.size_kib": draw(st.sampled_from([1, 2, 8, 64])),
        "buffers.weight.size_kib": draw(st.sampled_from([1, 2, 8, 64])),
        "buffers.output.size_kib": draw(st.sampled_from([1, 2, 8, 64])),
        "buffers.input.double_buffered": draw(st.booleans()),
        "buffers.weight.double_buffered": draw(st.booleans()),
        "buffers.output.double_buffered": draw(st.booleans()),
        "dram.type": draw(st.sampled_from(["ddr3", "lpddr4", "hbm2"])),
        "dram.width_bits": draw(st.sampled_from([8, 16, 64])),
        "dram.data_rate_mtps": draw(st.sampled_from([250.0, 1000.0, 4000.0])),
        "dram.latency_ns": draw(st.sampled_from([0, 10, 50])),
        "dram.burst_bytes": draw(st.sampled_from([1, 8, 64])),
        "dram.channels": draw(st.sampled_from([1, 2, 4])),
        "ppu.lanes": draw(st.sampled_from([1, 4, 16])),
        "full_precision": draw(st.sampled_from(["int8_unit", "bit_serial"])),
        # the resource properties hold for the latency objective; the energy objective may
        # spend cycles to save energy (tested separately)
        "mapping.objective": "latency",
    }


def chips():
    return chip_settings().map(lambda settings: make_chip(**settings))


#: frames of a batch and where the streams live (DRAM or on chip)
placements = st.fixed_dictionaries({
    "frames": st.sampled_from([1, 1, 2, 3]), "in_dram": st.booleans(),
    "out_dram": st.booleans(), "w_dram": st.booleans(),
    "fuse": st.sampled_from([None, None, "max", "avg", "add"])})


def mapped(layer, chip, fuse=None, **where):
    if fuse is not None and isinstance(layer, Conv2d):  # a pooling or add in its post
        shape = layer.out_shape
        if fuse == "add":
            where["add"] = Add("a", shape, layer.output, layer.output)
        elif min(shape[1:]) >= 2:
            where["pool"] = Pool("p", shape, 2, 2, 0, fuse, layer.output, layer.output)
    try:  # (a layer the chip cannot run: its accumulator or its buffers too small)
        p = problem_for(layer, chip, **where)
        m, t = choose_mapping(p, chip)
    except ConfigError:
        assume(False)
    return p, m, t


def cycles(layer, chip, engine=None):
    p, m, t = mapped(layer, chip)
    return (engine or AnalyticalEngine()).time_layer(p, chip, m, t).cycles


@SETTINGS
@given(layer=st.one_of(conv_layers(), ppu_layers()), chip=chips(), where=placements)
def test_event_between_lower_bound_and_serial_sum(layer, chip, where):
    p, m, t = mapped(layer, chip, **where)
    lower = AnalyticalEngine().time_layer(p, chip, m, t).cycles
    event = EventEngine().time_layer(p, chip, m, t)
    assert lower <= event.cycles <= t.serial_cycles
    assert event.cycles >= t.compute_cycles


@SETTINGS
@given(layers=st.lists(st.one_of(conv_layers(), ppu_layers()), min_size=2, max_size=3),
       chip=chips(), overlap=st.booleans())
def test_network_run_between_the_bounds(layers, chip, overlap):
    """Layers in one event run: each span between its bound (the first weight load all
    hidden when it may overlap the previous layer) and its serial schedule plus the next
    layer's first weight transfer (which may contend with its traffic, once); without overlap
    each span is the layer timed alone."""
    chip = dataclasses.replace(chip, overlap_layers=overlap)
    jobs = []
    for i, layer in enumerate(layers):
        p, m, t = mapped(layer, chip)
        jobs.append(LayerJob(f"l{i}", p, m, t, after_layer=i > 0))
    timings = EventEngine().time_network(jobs, chip)
    for k, (job, timing) in enumerate(zip(jobs, timings, strict=True)):
        nxt = jobs[k + 1] if k + 1 < len(jobs) else None
        extra = nxt.totals.first_weight_cycles if nxt and nxt.prefetches(chip) else 0
        assert job.lower_bound(chip) <= timing.cycles <= job.totals.serial_cycles + extra
        assert timing.cycles >= job.totals.compute_cycles
        assert sum(timing.stalls.values()) == timing.cycles - job.totals.compute_cycles
        if not overlap:
            alone = EventEngine().time_layer(job.problem, chip, job.mapping, job.totals)
            assert timing.cycles == alone.cycles
    estimate = AnalyticalEngine().time_network(jobs, chip)
    for job, timing in zip(jobs, estimate, strict=True):
        assert job.lower_bound(chip) <= timing.cycles <= job.totals.lower_bound(
            chip.dram_latency_cycles)


@SETTINGS
@given(layer=st.one_of(conv_layers(), ppu_layers()), chip=chips(), where=placements)
def test_schedule_matches_class_totals_and_covers_every_mac_once(layer, chip, where):
    p, m, t = mapped(layer, chip, **where)
    s = build_schedule(p, chip, m)
    assert len(s) == m.tiles
    assert int(s.compute_cycles.sum()) == t.compute_cycles
    assert int(s.post_cycles.sum()) == t.ppu_cycles
    streams = ("weight_bytes", "input_bytes", "store_bytes", "psum_load_bytes", "skip_bytes")
    moved = {name: int(transfer(chip, getattr(s, name))[1].sum()) for name in streams}
    alone = sum(int(transfer(chip, getattr(s, name))[0].sum()) for name in streams)
    assert moved["weight_bytes"] == t.weight_bytes
    assert moved["input_bytes"] + moved["skip_bytes"] == t.input_bytes  # shortcuts: inputs
    assert moved["store_bytes"] + moved["psum_load_bytes"] == t.output_bytes + t.psum_bytes
    assert int(busy_cycles(chip, sum(moved.values()))) == t.dram_occupancy
    assert (t.compute_cycles + t.ppu_cycles + alone + t.transfers * chip.dram_latency_cycles
            == t.serial_cycles)
    if p.unit is not Unit.PPU:
        # every (output channel, input channel, output pixel) triple exactly once
        assert int((s.k * s.c * s.px).sum()) * p.FY * p.FX == layer.macs * p.frames
        if p.out_dram:  # every output written back
            assert (int((s.k * s.px)[s.output_done & (s.store_bytes > 0)].sum())
                    >= p.K * p.OY * p.OX * p.frames)
    if not p.in_dram:  # (a fused add's shortcut still comes from DRAM)
        assert moved["input_bytes"] == 0 and not s.new_input.any()
    if not p.w_dram:
        assert t.weight_bytes == 0 and not s.new_weight.any()


@SETTINGS
@given(layer=conv_layers(), chip=chips())
def test_dram_bytes_cover_unique_data(layer, chip):
    _, _, t = mapped(layer, chip)

    def touched(out_len, size):  # input rows/cols some output reads (stride may skip some)
        idx = {o * layer.stride - layer.padding + f for o in range(out_len)
               for f in range(layer.kernel[0])}
        return len({i for i in idx if 0 <= i < size})

    inputs = (layer.in_shape[0] * touched(layer.out_h, layer.in_shape[1])
              * touched(layer.out_w, layer.in_shape[2]))
    unique = (layer.weight_bits + inputs * layer.activations.storage_bits
              + layer.output_bits) // 8
    assert t.dram_bytes >= unique


@SETTINGS
@given(layer=conv_layers(), chip=chips())
def test_latency_at_least_work_over_peak(layer, chip):
    p, _, t = mapped(layer, chip)
    if p.unit is Unit.ARRAY:
        peak = chip.pe_array.pes * p.word_elems
        assert t.compute_cycles >= math.ceil(layer.macs * p.passes / peak)
    elif p.unit is Unit.INT8:
        assert t.compute_cycles >= math.ceil(layer.macs * p.passes / chip.int8_unit_macs)


@SETTINGS
@given(layer=st.one_of(conv_layers(), ppu_layers()), chip=chips())
def test_energy_is_the_sum_of_its_parts(layer, chip):
    p, m, t = mapped(layer, chip)
    tech = load_tech("45nm")
    area = sum(area_breakdown_mm2(chip, tech).values())
    parts = energy_breakdown_pj(count_actions(p, chip, m, t), chip, tech, cycles=1000,
                                area_mm2=area, acc_bits=chip.accumulator_bits,
                                model=mac_model(p, chip))
    assert all(v >= 0 for v in parts.values())
    assert math.isclose(sum(parts.values()), math.fsum(parts.values()))
    if layer.macs:
        assert parts["compute"] > 0


def _more(chip, **changes):
    from simulator import apply_overrides

    return apply_overrides(chip, changes)


@SETTINGS
@given(layer=st.one_of(conv_layers(), ppu_layers()), chip=chips(),
       factor=st.sampled_from([2, 4]))
def test_faster_dram_never_adds_cycles(layer, chip, factor):
    better = _more(chip, **{"dram.data_rate_mtps": chip.dram.data_rate_mtps * factor})
    assert cycles(layer, better) <= cycles(layer, chip)


@SETTINGS
@given(layer=st.one_of(conv_layers(), ppu_layers()), chip=chips(),
       factor=st.sampled_from([2, 4]))
def test_more_channels_never_add_cycles(layer, chip, factor):
    better = _more(chip, **{"dram.channels": chip.dram.channels * factor})
    assert cycles(layer, better) <= cycles(layer, chip)


@SETTINGS
@given(layer=conv_layers(), chip=chips())
def test_wider_lanes_never_add_cycles(layer, chip):
    wider = _more(chip, **{"pe_array.lane_bits": chip.pe_array.lane_bits * 2,
                           "buffers.input.port_bits": chip.input_buffer.port_bits * 2,
                           "buffers.weight.port_bits": chip.weight_buffer.port_bits * 2})
    assert cycles(layer, wider) <= cycles(layer, chip)


@SETTINGS
@given(layer=st.one_of(conv_layers(), ppu_layers()), chip=chips(),
       which=st.sampled_from(["input", "weight", "output"]))
def test_bigger_buffers_never_add_cycles(layer, chip, which):
    spec = {"input": chip.input_buffer, "weight": chip.weight_buffer,
            "output": chip.output_buffer}[which]
    bigger = _more(chip, **{f"buffers.{which}.size_kib": spec.size_kib * 2})
    assert cycles(layer, bigger) <= cycles(layer, chip)


@SETTINGS
@given(layer=conv_layers(), chip=chips(), which=st.sampled_from(["input", "weight", "output"]))
def test_wider_ports_never_add_cycles(layer, chip, which):
    # pipelined folds: a wider port may feed more rows, which a mapping may leave idle
    chip = _more(chip, **{"pe_array.fold_timing": "pipelined"})
    spec = {"input": chip.input_buffer, "weight": chip.weight_buffer,
            "output": chip.output_buffer}[which]
    wider = _more(chip, **{f"buffers.{which}.port_bits": spec.port_bits * 2})
    assert cycles(layer, wider) <= cycles(layer, chip)


@SETTINGS
@given(layer=conv_layers(), chip=chips(), dim=st.sampled_from(["rows", "cols"]))
def test_more_pes_never_add_cycles(layer, chip, dim):
    # pipelined folds (the default): a mapping may leave PEs idle, so a bigger array can do all
    # a smaller one does. SCALE-Sim's per-fold convention pads folds to the whole array and
    # promises nothing of the kind, so it is not tested here.
    chip = _more(chip, **{"pe_array.fold_timing": "pipelined"})
    more = _more(chip, **{f"pe_array.{dim}": getattr(chip.pe_array, dim) * 2})
    assert cycles(layer, more) <= cycles(layer, chip)


@SETTINGS
@given(layer=conv_layers(), chip=chips())
def test_more_work_never_faster(layer, chip):
    import dataclasses

    bigger = dataclasses.replace(layer, out_channels=layer.out_channels * 2)
    assert cycles(bigger, chip) >= cycles(layer, chip)
