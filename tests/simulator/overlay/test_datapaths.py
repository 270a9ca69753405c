"""Adder-tree PEs, latch memories and the window buffer, hand-derived (docs/simulator.md,
"Adder-tree PEs", "Memory kinds" and "Window buffer").

All on TINY (2×2 array, 8-bit lanes, 64-bit ports, 16-bit accumulators) with SCALE-Sim's
per-fold timing where cycles are counted: an output-stationary fold takes T + 2 cycles.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import TINY, make_chip
from hypothesis import given, settings
from hypothesis import strategies as st

import simulator
from bnnsim.cli import main
from simulator import load_tech
from simulator.overlay.energy import area_breakdown_mm2, count_actions, energy_breakdown_pj
from simulator.overlay.mapping import price
from simulator.overlay.problem import problem_for
from workloads.formats import NumberFormat
from workloads.layers import Conv2d, Linear
from workloads.weight_stats import weight_stats

B1, TERN, I4, I8 = (NumberFormat.parse(t) for t in ("1", "t", "4", "8"))
PER_FOLD = {"pe_array.fold_timing": "per_fold"}
TECH = load_tech("45nm")


def one_tile(layer, chip):
    p = problem_for(layer, chip)
    m, t = price(p, chip, tk=p.K, tc=p.C, toy=p.OY, tox=p.OX)
    return p, m, t, count_actions(p, chip, m, t)


# --------------------------------------------------------------------------- adder tree
def test_adder_tree_pe_takes_multi_bit_activations_in_one_pass():
    # FC 16 → 2, ±1 weights × unsigned 4-bit activations. XNOR lanes: 4 AND-popcount planes
    # of 2 words, T = 8: one fold of 10 cycles. adder4 (8 taps of 4 bits): the activation
    # word is 8 × 4 = 32 bits (the 64-bit port still feeds both rows), one pass: T = 2, 4
    # cycles; no correction term (the adder takes signed sums), so one PPU add per output.
    layer = Linear("fc", 16, 2, weights=B1, activations=I4, output=B1)
    xnor = make_chip(**PER_FOLD)
    adder = make_chip(**PER_FOLD, **{"pe_array.pe_type": "adder4"})
    p0, _, t0, _ = one_tile(layer, xnor)
    p1, _, t1, a1 = one_tile(layer, adder)
    assert (p0.a_passes, p1.a_passes, p1.a_word_bits, p1.w_word_bits) == (4, 1, 32, 8)
    assert (t0.compute_cycles, t1.compute_cycles) == (10, 4)
    c = a1.compute
    # 32 MACs = 32 taps; accumulations 2 outputs × 2 words × 1 pass; registers per
    # accumulation: activation word 32 + weight word 8 + accumulator 16 bits
    assert (c.tap_adds, c.tap_bits, c.binary_ops, c.popcount_bits) == (32, 4, 0, 0)
    assert (c.accumulations, c.register_bits, a1.ppu_ops) == (4, 4 * (32 + 8 + 16), 2)
    # a tap: a (4 + 2)-bit add — 0.03 − 2 × (0.05 − 0.03) / 8 = 0.025 pJ, extrapolated in
    # width — and 4 XNOR gates of conditional negation; 4 accumulator adds at 16 bits
    e = energy_breakdown_pj(a1, adder, TECH, cycles=4, area_mm2=0.0, acc_bits=16,
                            model=adder.pe_array.pe)
    assert e["compute"] == pytest.approx(32 * (0.025 + 4 * 0.00125) + 4 * 0.05
                                         + 224 * 0.00375)
    # a PE: 8 taps of (6-bit adder 36 − 2 × 31 / 8 µm², 4 XNOR2 and 4 AND2 gating, 4 + 1
    # operand DFFs and a mask bit) and the 16-bit accumulator adder and register
    tap = (36 - 2 * 31 / 8) + 4 * (1.596 + 1.064) + 6 * 4.522
    pe = 8 * tap + 67 + 16 * 4.522
    assert area_breakdown_mm2(adder, TECH)["pe_array"] == pytest.approx(4 * pe / 1e6)


def test_adder_tree_passes_for_wide_activations_ternary_and_int_weights():
    adder = make_chip(**PER_FOLD, **{"pe_array.pe_type": "adder4"})
    # 8-bit activations on 4-bit taps: two passes (shift-add)
    p, *_ = one_tile(Linear("fc", 16, 2, weights=B1, activations=I8, output=B1), adder)
    assert (p.a_passes, p.w_passes, p.a_word_bits) == (2, 1, 32)
    # ternary weights: one pass with the zero taps gated (4 AND gates a tap); the weight word
    # carries a mask bit
    p, _, _, a = one_tile(Linear("fc", 16, 2, weights=TERN, activations=I4, output=B1), adder)
    assert (p.w_passes, p.w_word_bits, a.compute.mask_ops) == (1, 16, 32 * 4)
    # 4-bit weights: one pass per weight plane
    p, *_ = one_tile(Linear("fc", 16, 2, weights=I4, activations=I4, output=B1), adder)
    assert p.passes == 4


def test_wide_activations_read_only_their_valid_bits():
    # 12-bit activations on 8-bit taps: two passes of 8-bit words through the port and the
    # registers, but the buffer delivers 12 valid bits per element: FC 16 → 2, one tile, one
    # column fold: 16 inputs × 12 bits (and the DRAM fill, 16 × 12 bits = 24 B)
    chip = make_chip(**PER_FOLD, **{"pe_array.pe_type": "adder8", "accumulator_bits": 24,
                                    "buffers.input.port_bits": 128})
    i12 = NumberFormat.parse("12")
    p, _, _, a = one_tile(Linear("fc", 16, 2, weights=B1, activations=i12, output=B1), chip)
    assert (p.a_passes, p.a_word_bits) == (2, 64)
    assert a.input_buffer_bits == 24 * 8 + 16 * 12
    # the ports move whole words: inputs 2 words × 64 bits × 2 passes, weights 2 filters ×
    # 2 words × 8 bits × 2 passes, and the 2 accumulators drain once at 24 bits
    assert a.port_bits == 2 * 64 * 2 + 2 * 2 * 8 * 2 + 2 * 24


def test_adder_tree_utilization_counts_taps():
    # utilization = taps issued / (cycles × PEs × taps per PE)
    out = _simulate_json(["--network", "lfc", "--quant", "w1a4", "--chip", "edge",
                          "--set", "pe_array.pe_type=adder4"])
    layer = out["layers"][1]
    taps = layer["details"]["actions"]["compute"]["tap_adds"]
    peak = out["details"]["peak_binary_macs_per_cycle"]
    assert taps == layer["macs"]
    assert layer["utilization"] == pytest.approx(taps / (layer["cycles"] * peak))


# --------------------------------------------------------------------------- memories
def test_latch_memory_energy_and_area_from_the_table():
    # per bit: 16.5 fJ at 0.5 KiB, 66 fJ at 2 KiB: 1 KiB lies halfway in log2(size)
    assert TECH.memory_energy_pj_per_bit("latch", 0.5) == pytest.approx(0.0165)
    assert TECH.memory_energy_pj_per_bit("latch", 1) == pytest.approx((0.0165 + 0.066) / 2)
    # beyond the last point the slope continues: 64 KiB = 1.056 + (1.056 − 0.264) / 2
    assert TECH.memory_energy_pj_per_bit("latch", 64) == pytest.approx(1.452)
    latch = make_chip(**{"buffers.weight.kind": "latch"})
    sram = make_chip()
    layer = Linear("fc", 16, 2, weights=B1, activations=B1, output=B1)
    _, _, _, a = one_tile(layer, latch)
    e_l = energy_breakdown_pj(a, latch, TECH, cycles=1, area_mm2=0.0, acc_bits=16, model=None)
    e_s = energy_breakdown_pj(a, sram, TECH, cycles=1, area_mm2=0.0, acc_bits=16, model=None)
    assert e_l["weight_buffer"] == pytest.approx(a.weight_buffer_bits * 1.452)
    assert e_s["weight_buffer"] == pytest.approx(
        a.weight_buffer_bits * TECH.sram_energy_pj_per_bit(64))
    assert e_l["input_buffer"] == e_s["input_buffer"]
    assert area_breakdown_mm2(latch, TECH)["weight_buffer"] == pytest.approx(64 * 37044 / 1e6)


def test_memories_below_the_smallest_size_cost_the_smallest():
    # the table's smallest SRAM read is an 8 KiB macro's (10 pJ a 64-bit word), its area per
    # KiB given at 1 KiB; the smallest latch array 0.5 KiB, in both
    assert TECH.memory_energy_pj_per_bit("sram", 1) == pytest.approx(10 / 64)
    assert TECH.memory_area_um2("sram", 0.25) == pytest.approx(4724)
    assert TECH.memory_energy_pj_per_bit("latch", 0.125) == pytest.approx(0.0165)
    assert TECH.memory_area_um2("latch", 0.125) == pytest.approx(0.5 * 37044)
    # so 64 KiB in 256 SRAM banks costs an 8 KiB macro's energy per bit and 4× the area
    banked = make_chip(**{"buffers.input.banks": 256})
    assert area_breakdown_mm2(banked, TECH)["input_buffer"] == pytest.approx(256 * 4724 / 1e6)
    layer = Linear("fc", 16, 2, weights=B1, activations=B1, output=B1)
    _, _, _, a = one_tile(layer, banked)
    e = energy_breakdown_pj(a, banked, TECH, cycles=1, area_mm2=0.0, acc_bits=16, model=None)
    assert e["input_buffer"] == pytest.approx(a.input_buffer_bits * 10 / 64)


def test_a_banked_buffer_costs_one_banks_access_and_all_banks_area():
    # 64 KiB in 8 banks: each access is an 8 KiB SRAM's, 10 pJ / 64 bits; the area is 8 banks
    # of 8 KiB (linear in size, so the same as one 64 KiB)
    banked = make_chip(**{"buffers.input.banks": 8})
    layer = Linear("fc", 16, 2, weights=B1, activations=B1, output=B1)
    _, _, _, a = one_tile(layer, banked)
    e = energy_breakdown_pj(a, banked, TECH, cycles=1, area_mm2=0.0, acc_bits=16, model=None)
    assert e["input_buffer"] == pytest.approx(a.input_buffer_bits * 10 / 64)
    assert area_breakdown_mm2(banked, TECH)["input_buffer"] == pytest.approx(64 * 4724 / 1e6)
    # latch banks of 0.5 KiB: 16.5 fJ per bit, 64 KiB × 37,044 µm² in all
    latch = make_chip(**{"buffers.input.kind": "latch", "buffers.input.banks": 128})
    e = energy_breakdown_pj(a, latch, TECH, cycles=1, area_mm2=0.0, acc_bits=16, model=None)
    assert e["input_buffer"] == pytest.approx(a.input_buffer_bits * 0.0165)
    assert area_breakdown_mm2(latch, TECH)["input_buffer"] == pytest.approx(64 * 37044 / 1e6)


@pytest.mark.parametrize(("setting", "words"), [
    ("buffers.weight.banks=0", "buffers.weight.banks"),
    ("buffers.input.banks=1.5", "buffers.input.banks"),
    ("pe_array.window_buffer_kib=-1", "pe_array.window_buffer_kib"),
    ("pe_array.window_buffer_kib=lots", "pe_array.window_buffer_kib"),
    ("pe_array.weight_sharing=maybe", "allowed: none, decompose, share, share_decompose"),
    ("pe_array.pe_type=adder3", "adder12"),
    ("buffers.output.kind=dram", "allowed: sram, latch"),
])
def test_bad_datapath_and_memory_settings_are_one_line(capsys, setting, words):
    rc = main(["simulate", "--network", "lfc", "--chip", "edge", "--set", setting])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.count("\n") == 0 and words in err


def test_a_table_without_latch_entries_is_one_line(tmp_path, capsys):
    table = Path(simulator.__file__).parent / "tech" / "45nm.yaml"
    kept = "\n".join(x for x in table.read_text().splitlines() if "component: latch" not in x)
    (tmp_path / "t.yaml").write_text(kept)
    rc = main(["simulate", "--network", "lfc", "--chip", "edge", "--set",
               f"tech={tmp_path / 't.yaml'}", "--set", "buffers.input.kind=latch"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.count("\n") == 0 and "latch/read" in err
    rc = main(["simulate", "--network", "lfc", "--chip", "edge",
               "--set", "buffers.input.kind=flipflop"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "allowed: sram, latch" in err


# --------------------------------------------------------------------------- window buffer
CONV = Conv2d("c", (8, 4, 4), 2, (3, 3), 1, 1, 1, B1, B1, B1)


def test_window_buffer_reads_each_footprint_word_once():
    # conv 8 → 2 channels, 3×3, padding 1, on 4×4 (16 outputs), w1a1, one tile. Channel-packed
    # words: 9 per pixel. Output-stationary, one column fold: per use the input buffer would
    # deliver 16 px × 72 bits = 1,152 bits (and the port 16 × 9 words × 8 bits). The tile's
    # footprint is the whole 4×4 map (padding clipped): 16 px × 8 channels = 128 bits.
    without = make_chip()
    chip = make_chip(**{"pe_array.window_buffer_kib": 1})
    _, _, _, a0 = one_tile(CONV, without)
    _, _, _, a1 = one_tile(CONV, chip)
    dram_fill = 128  # the map written into the input buffer from DRAM
    assert a0.input_buffer_bits == dram_fill + 1152 and a0.window_buffer_bits == 0
    # with the window: 128 bits read from the input buffer and written into the line buffer,
    # and streamed out of it once (one column fold) into the shift registers; the port moves
    # 16 px × 1 word × 8 bits. The 1,152 bits of uses are the PEs' operand-register writes,
    # as without the window.
    assert a1.input_buffer_bits == dram_fill + 128
    assert a1.window_buffer_bits == 128 + 128
    assert a1.compute.register_bits == a0.compute.register_bits
    assert a0.port_bits - a1.port_bits == 16 * 9 * 8 - 16 * 8
    e = energy_breakdown_pj(a1, chip, TECH, cycles=1, area_mm2=0.0, acc_bits=16, model=None)
    assert e["window_buffer"] == pytest.approx(256 * TECH.memory_energy_pj_per_bit("latch", 1))
    assert "window_buffer" not in energy_breakdown_pj(a0, without, TECH, cycles=1,
                                                      area_mm2=0.0, acc_bits=16, model=None)
    assert area_breakdown_mm2(chip, TECH)["window_buffer"] == pytest.approx(37044 / 1e6)


def test_the_line_buffer_streams_the_footprint_once_per_column_fold():
    # the same conv with 8 filters on 2 columns: 4 column folds under output-stationary each
    # stream the tile's inputs; per use 4 × 1,152 bits from the input buffer, with the
    # window 128 once from the input buffer, into the line buffer, and 4 × 128 out of it
    conv8 = Conv2d("c", (8, 4, 4), 8, (3, 3), 1, 1, 1, B1, B1, B1)
    _, _, _, a0 = one_tile(conv8, make_chip())
    _, _, _, a1 = one_tile(conv8, make_chip(**{"pe_array.window_buffer_kib": 1}))
    assert a0.input_buffer_bits == 128 + 4 * 1152
    assert a1.input_buffer_bits == 128 + 128 and a1.window_buffer_bits == 128 + 4 * 128
    # 2-bit activations: two planes, 256 valid bits of footprint, streamed per fold
    conv8a2 = Conv2d("c", (8, 4, 4), 8, (3, 3), 1, 1, 1, B1, NumberFormat.parse("2"), B1)
    _, _, _, b1 = one_tile(conv8a2, make_chip(**{"pe_array.window_buffer_kib": 1}))
    assert b1.input_buffer_bits == 256 + 256 and b1.window_buffer_bits == 256 + 4 * 256


def test_a_footprint_that_does_not_fit_the_window_reads_per_use():
    # 64 bits of window: the 128-bit footprint does not fit, so the tile reads per use
    chip = make_chip(**{"pe_array.window_buffer_kib": 64 / 8192})
    _, _, _, a = one_tile(CONV, chip)
    assert a.input_buffer_bits == 128 + 1152 and a.window_buffer_bits == 0


def test_window_buffer_changes_no_cycles_and_the_mapper_uses_it():
    base = _simulate_json(["--network", "bnn-cifar10", "--chip", "edge",
                           "--set", "mapping.objective=latency"])
    win = _simulate_json(["--network", "bnn-cifar10", "--chip", "edge",
                          "--set", "mapping.objective=latency",
                          "--set", "pe_array.window_buffer_kib=2"])
    assert [x["cycles"] for x in base["layers"]] == [x["cycles"] for x in win["layers"]]
    conv2 = next(x for x in win["layers"] if x["name"] == "conv2")
    before = next(x for x in base["layers"] if x["name"] == "conv2")
    assert conv2["details"]["actions"]["window_buffer_bits"] > 0
    # a 3×3 layer reads the input buffer (DRAM fills included) far less often
    assert (conv2["details"]["actions"]["input_buffer_bits"]
            < before["details"]["actions"]["input_buffer_bits"] / 2)


@settings(max_examples=40, deadline=None)
@given(c=st.integers(1, 20), k=st.integers(1, 5), hw=st.integers(1, 9),
       f=st.sampled_from([1, 2, 3, 5]), stride=st.integers(1, 2), pad=st.integers(0, 2),
       window=st.sampled_from([1 / 64, 1 / 8, 1.0]),
       df=st.sampled_from(["output_stationary", "weight_stationary", "input_stationary"]),
       packing=st.sampled_from(["channel", "kernel"]), a=st.sampled_from(["1", "2", "4"]))
def test_window_never_adds_input_buffer_reads_or_port_bits(c, k, hw, f, stride, pad, window,
                                                           df, packing, a):
    if hw + 2 * pad < f:
        return
    layer = Conv2d("c", (c, hw, hw), k, (f, f), stride, pad, 1, B1,
                   NumberFormat.parse(a), B1)
    over = {"dataflow": df, "pe_array.packing": packing}
    plain = make_chip(**over)
    chip = make_chip(**over, **{"pe_array.window_buffer_kib": window})
    p = problem_for(layer, chip)
    for tiles in ({}, {"toy": 1, "tox": p.OX}, {"tc": 1}):
        args = {"tk": p.K, "tc": p.C, "toy": p.OY, "tox": p.OX, **tiles}
        m0, t0 = price(problem_for(layer, plain), plain, **args)
        m1, t1 = price(p, chip, **args)
        a0 = count_actions(problem_for(layer, plain), plain, m0, t0)
        a1 = count_actions(p, chip, m1, t1)
        assert t1.compute_cycles == t0.compute_cycles and t1.lower_bound(10) == t0.lower_bound(10)
        assert a1.input_buffer_bits <= a0.input_buffer_bits
        assert a1.port_bits <= a0.port_bits
        # the line buffer streams at most what the input buffer would have delivered per use
        # (a tile whose footprint is all padding reads nothing: the zeros are made, not read)
        assert a1.window_buffer_bits <= a1.input_buffer_bits + a0.input_buffer_bits


def _simulate_json(args: list[str]) -> dict:
    import io
    import json
    from contextlib import redirect_stdout
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(["simulate", *args, "--json", "-"]) == 0
    return json.loads(buf.getvalue())


def test_tiny_chip_defaults_to_sram_without_a_window():
    chip = make_chip()
    assert chip.input_buffer.kind.value == "sram" and chip.pe_array.window_kib == 0
    assert "kind" not in TINY["buffers"]["input"]


# --------------------------------------------------------------------------- weight sharing
W3 = np.array([[[[1, -1], [1, 1]]], [[[-1, 1], [-1, -1]]], [[[1, 1], [1, 1]]]], np.int8)


def _shared_layer(weights=B1, codes=W3):
    # 3 filters of 1 × 2 × 2 over a 2×2 map: one output position, 4-bit inputs
    k = codes.shape[0]
    return Conv2d("c", (1, 2, 2), k, (2, 2), 1, 0, 1, weights, I4, B1,
                  weight_stats=weight_stats(codes))


@pytest.mark.parametrize(("form", "taps", "window", "combine", "ppu"), [
    # the hand counts of tests/simulator/test_sharing.py, the post-processing unit's one
    # threshold add per output aside: rarer signs 1 + 1 + 0, the window sum of 4 inputs, 2S − J
    # per output on the post-processing unit (decomposed 9 = 2 + 4 + 3); 2 distinct
    # sub-kernels × 4 inputs, and 3 outputs each combining its C = 1 sub-kernel result on the
    # post-processing unit (shared 11 = 8 + 3); both: 1 + the window 4 + 2 sub-kernels' 2S − J
    # + the 3 combinations (10)
    ("none", 12, 0, 0, 3), ("decompose", 2, 4, 0, 6), ("share", 8, 0, 0, 6),
    ("share_decompose", 1, 4, 2, 6)])
def test_weight_sharing_issues_the_forms_additions(form, taps, window, combine, ppu):
    chip = make_chip(**PER_FOLD, **{"pe_array.pe_type": "adder4",
                                    "pe_array.weight_sharing": form})
    _, _, t, a = one_tile(_shared_layer(), chip)
    c = a.compute
    assert (c.tap_adds, c.tap_slots, c.window_adds, c.combine_adds, a.ppu_ops) == \
        (taps, 12, window, combine, ppu)
    # the array's dense schedule is unchanged; the post-processing unit's extra adds take
    # its cycles: ⌈3 outputs × 2 ops / 4 lanes⌉ = 2 instead of 1
    plain = make_chip(**PER_FOLD, **{"pe_array.pe_type": "adder4"})
    base = one_tile(_shared_layer(), plain)[2]
    assert t.compute_cycles == base.compute_cycles
    assert (base.ppu_cycles, t.ppu_cycles) == (1, 1 if form == "none" else 2)
    # energy: issued taps (6-bit add + 4 XNOR), window adds (6-bit), accumulator adds with
    # the combinations (16-bit), registers, and a 4-bit gate per tap slot once gated
    gated = form != "none"
    e = energy_breakdown_pj(a, chip, TECH, cycles=1, area_mm2=0.0, acc_bits=16,
                            model=chip.pe_array.pe)
    assert e["compute"] == pytest.approx(
        taps * (0.025 + 4 * 0.00125) + window * 0.025
        + (c.accumulations + combine) * 0.05 + c.register_bits * 0.00375
        + (12 * 4 * 0.00125 if gated else 0.0))
    # a window-sum unit (a 6-bit adder per tap of each row) for the decomposed forms
    area = area_breakdown_mm2(chip, TECH)
    assert ("window_sum_unit" in area) == (form in ("decompose", "share_decompose"))
    if "window_sum_unit" in area:
        assert area["window_sum_unit"] == pytest.approx(2 * 8 * (36 - 2 * 31 / 8) / 1e6)


def test_ternary_zeros_are_gated_on_an_adder_pe():
    # 3 filters of 4 ternary weights, 6 of 12 zero: 6 taps added of 12 slots
    codes = np.array([[[[1, 0], [0, 1]]], [[[0, -1], [0, 0]]], [[[1, -1], [0, 1]]]], np.int8)
    chip = make_chip(**PER_FOLD, **{"pe_array.pe_type": "adder4"})
    _, _, _, a = one_tile(_shared_layer(TERN, codes), chip)
    assert (a.compute.tap_adds, a.compute.tap_slots) == (6, 12)
    # a binary-layer form changes nothing on a ternary layer (no 2S − J after it)
    dec = make_chip(**PER_FOLD, **{"pe_array.pe_type": "adder4",
                                   "pe_array.weight_sharing": "decompose"})
    _, _, _, d = one_tile(_shared_layer(TERN, codes), dec)
    assert (d.compute.tap_adds, d.compute.window_adds, d.ppu_ops) == (6, 0, 3)
    # without trained weights every slot is added
    bare = Conv2d("c", (1, 2, 2), 3, (2, 2), 1, 0, 1, TERN, I4, B1)
    _, _, _, b = one_tile(bare, chip)
    assert b.compute.tap_adds == b.compute.tap_slots == 12


def test_weight_sharing_needs_an_adder_pe_and_trained_weights(capsys):
    rc = main(["simulate", "--network", "lfc", "--chip", "edge",
               "--set", "pe_array.weight_sharing=decompose"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.count("\n") == 0 and "needs an adder-tree PE" in err
    rc = main(["simulate", "--network", "lfc", "--chip", "edge", "--set",
               "pe_array.pe_type=adder2", "--set", "pe_array.weight_sharing=decompose"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.count("\n") == 0 and "bnnsim lower" in err
