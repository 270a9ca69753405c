"""Precision costs, hand-derived: channel-packed words, masked ternary, AND-popcount for unsigned
activations, binary-base scales, pooling by width, the accumulator width (docs/simulator.md,
"Precision costs").

All on TINY (2×2 array, 8-bit lanes, 64-bit ports, 16-bit accumulators, 4 PPU lanes) with
SCALE-Sim's per-fold timing where cycles are counted: an output-stationary fold takes
R + C − 2 + T + (d − R) with d = max(R, ⌈R·C·16 / 64⌉) = 2, i.e. T + 2 cycles.
"""

from __future__ import annotations

import dataclasses

import pytest
from conftest import make_chip

from bnnsim.cli import main
from simulator import load_tech
from simulator.overlay.cost import tile_compute_cycles
from simulator.overlay.energy import area_breakdown_mm2, count_actions, energy_breakdown_pj
from simulator.overlay.mapping import price
from simulator.overlay.pe_types import INT8_UNIT
from simulator.overlay.problem import accumulator_bits_needed, problem_for
from workloads.errors import InfeasibleError
from workloads.formats import NumberFormat
from workloads.layers import Conv2d, Linear, Pool

B1, TERN, I2, I8 = (NumberFormat.parse(t) for t in ("1", "t", "2", "8"))
BASES2 = NumberFormat.parse("b2")
PER_FOLD = {"pe_array.fold_timing": "per_fold"}


def one_tile(layer, chip):
    p = problem_for(layer, chip)
    m, t = price(p, chip, tk=p.K, tc=p.C, toy=p.OY, tox=p.OX)
    return p, m, t, count_actions(p, chip, m, t)


@pytest.mark.parametrize(("packing", "words", "cycles"), [("channel", 9, 22), ("kernel", 4, 12)])
def test_channel_packed_words(packing, words, cycles):
    # conv 3 → 2 channels, 3×3, padding 1 on a 2×2 map (4 outputs), w1a1, 8-bit lanes.
    # channel-packed (channel-last): a word holds the 3 channels of one kernel position,
    # 9 · ⌈3 / 8⌉ = 9 words; packed across kernel positions: ⌈27 / 8⌉ = 4 words.
    # 4 pixels on 2 rows = 2 folds, 2 filters on 2 cols = 1: 2 × (T + 2).
    chip = make_chip(**PER_FOLD, **{"pe_array.packing": packing})
    layer = Conv2d("c", (3, 2, 2), 2, (3, 3), 1, 1, 1, B1, B1, B1)
    p, _, _, a = one_tile(layer, chip)
    assert int(p.words(3)) == words
    assert int(tile_compute_cycles(p, chip, 2, 3, 4)) == cycles
    # The ports move whole words: inputs 4 px × words × 8 bits (1 column fold), weights
    # 2 filters × words × 8 bits × 2 row folds, and the 8 accumulators drain once (16 bits).
    # The buffers deliver only the valid bits either way — 4 × 27 input bits, 2 × 27 × 2
    # weight bits — besides the DRAM fill (inputs 12 bits → 2 B; weights 54 bits → 7 B).
    assert a.port_bits == 4 * words * 8 + 2 * words * 8 * 2 + 8 * 16
    assert (a.input_buffer_bits, a.weight_buffer_bits) == (16 + 108, 56 + 108)


def test_masked_ternary_takes_one_pass():
    # FC 16 → 2, ternary weights × binary activations. Plain XNOR: sign and mask planes are two
    # full passes, 2 words × 2 passes = T 4: one fold of 4 + 2 = 6 cycles, 64 XNOR bit-ops.
    # xnor_mask: one pass gated by the mask, T = 2: 4 cycles, 32 XNOR + 32 AND bit-ops; the
    # weight word carries sign and mask (16 bits; the 64-bit weight port still feeds 2 cols).
    layer = Linear("fc", 16, 2, weights=TERN, activations=B1, output=B1)
    plain = make_chip(**PER_FOLD)
    masked = make_chip(**PER_FOLD, **{"pe_array.pe_type": "xnor_mask"})
    p0, _, t0, a0 = one_tile(layer, plain)
    p1, _, t1, a1 = one_tile(layer, masked)
    assert (p0.w_passes, p1.w_passes, p1.w_word_bits) == (2, 1, 16)
    assert (t0.compute_cycles, t1.compute_cycles) == (6, 4)
    assert (a0.compute.binary_ops, a0.compute.mask_ops) == (64, 0)
    assert (a1.compute.binary_ops, a1.compute.mask_ops) == (32, 32)
    # registers per accumulation: activation word 8 + weight word 16 + accumulator 16 bits;
    # accumulations: 2 outputs × 2 words × 1 pass = 4
    assert a1.compute.accumulations == 4 and a1.compute.register_bits == 4 * (8 + 16 + 16)
    tech = load_tech("45nm")
    e = energy_breakdown_pj(a1, masked, tech, cycles=4, area_mm2=0.0, acc_bits=16,
                            model=masked.pe_array.pe)
    assert e["compute"] == pytest.approx(32 * 0.00125 + 32 * 0.00375 + 4 * 0.05
                                         + 160 * 0.00375 + 32 * 0.00125)
    # each lane adds an AND gate and a mask register bit: 8 × (1.064 + 4.522) µm² per PE
    grow = (area_breakdown_mm2(masked, tech)["pe_array"]
            - area_breakdown_mm2(plain, tech)["pe_array"])
    assert grow == pytest.approx(4 * 8 * (1.064 + 4.522) / 1e6)


def test_unsigned_activations_use_and_popcount_with_a_correction():
    # FC 16 → 2, binary (±1) weights × unsigned 2-bit activations: each activation plane is
    # {0, 1}, so Σ w·a = 2·popcount(w⁺ ∧ a) − popcount(a). 32 MACs × 2 planes = 64 bit-ops in
    # the PEs; the 16 activation bits of each plane entering the row are popcounted once at the
    # row's edge (32 bits, ⌈32 / 8⌉ = 4 more accumulations beside the PEs' 2 × 2 words × 2
    # planes = 8); the post-processing unit subtracts the sum once per output besides the
    # threshold: 2 × 2 adds.
    layer = Linear("fc", 16, 2, weights=B1, activations=I2, output=B1)
    p, _, _, a = one_tile(layer, make_chip(**PER_FOLD))
    assert p.words_model.correction and p.post_ops == 2
    c = a.compute
    assert (c.binary_ops, c.popcount_bits, c.accumulations) == (64, 96, 12)
    assert a.ppu_ops == 4
    # binary activations need no correction (a ±1 · ±1 product is an XNOR)
    q, _, _, b = one_tile(Linear("fc", 16, 2, weights=B1, activations=B1, output=B1),
                          make_chip(**PER_FOLD))
    assert not q.words_model.correction and b.compute.popcount_bits == 32 and b.ppu_ops == 2


def test_binary_base_scales_run_on_the_post_processing_unit():
    # ABC-Net, 2 weight bases × 1 activation: each output sums 2 scaled base results:
    # 2 multiplies and 2 adds, plus the threshold: 3 adds. 2 outputs on 4 lanes:
    # ⌈2 × 5 / 4⌉ = 3 cycles.
    layer = Linear("fc", 16, 2, weights=BASES2, activations=B1, output=B1)
    p, _, t, a = one_tile(layer, make_chip(**PER_FOLD))
    assert (p.post_adds, p.post_mults, a.ppu_ops, a.ppu_mults) == (3, 2, 6, 4)
    assert t.ppu_cycles == 3
    e = energy_breakdown_pj(a, make_chip(), load_tech("45nm"), cycles=1, area_mm2=0.0,
                            acc_bits=16, model=None)
    mult16 = 0.2 + (3.1 - 0.2) * (16 - 8) / (32 - 8)  # 16-bit multiply, interpolated
    assert e["ppu"] == pytest.approx(6 * 0.05 + 4 * mult16)


@pytest.mark.parametrize(("w_bases", "a_bases"), [(4, 1), (2, 2), (3, 2)])
def test_k_branches_and_k_planes_are_k_passes_and_k_scales(w_bases, a_bases):
    # Group-Net's K binary branches (weights: K bases against binary inputs) and LQ-Nets'
    # K-plane bases (weights and activations): every (weight base, input base) pair is one
    # binary pass. FC 16 → 2 on 8-bit lanes: 2 words per pass, so T = 2·M·N and one fold of
    # T + 2 cycles; 32 XNOR bit-ops per pass; 2 outputs × 2 words × M·N accumulations. Each
    # output sums its M·N scaled pass results — M·N multiplies and M·N adds — plus the
    # threshold: on 4 lanes ⌈2 × (2·M·N + 1) / 4⌉ cycles.
    passes = w_bases * a_bases
    w, a = NumberFormat.parse(f"b{w_bases}"), NumberFormat.parse(f"b{a_bases}")
    if a_bases == 1:
        a = B1
        passes = w_bases
    layer = Linear("fc", 16, 2, weights=w, activations=a, output=B1)
    p, _, t, acts = one_tile(layer, make_chip(**PER_FOLD))
    assert p.passes == passes
    assert t.compute_cycles == 2 * passes + 2
    assert acts.compute.binary_ops == 32 * passes
    assert acts.compute.accumulations == 2 * 2 * passes
    assert (acts.ppu_mults, acts.ppu_ops) == (2 * passes, 2 * (passes + 1))
    assert t.ppu_cycles == -(-2 * (2 * passes + 1) // 4)


@pytest.mark.parametrize(("token", "levels", "stages"), [("p5", 8, 3), ("p3", 2, 1),
                                                         ("p2", 1, 0)])
def test_power_of_two_weights_are_shift_adds_on_the_int_unit(token, levels, stages):
    # INQ's b-bit powers of two (L = 2^(b−2) exponents: codes 0 or ±2^e, e < L) on FC 16 → 2
    # with 8-bit inputs go to the int unit, one pass: 32 products, each a shift of the 8-bit
    # input through ⌈log2 L⌉ stages of (8 + L − 1) 2:1 muxes and an add at the int unit's
    # 32 bits — no multiply. 4 MACs a cycle: 32 / 4 + 2 (pipeline) = 10 cycles, as w8a8.
    # The accumulator must hold 16 · 2^(L−1) · 255.
    tech = load_tech("45nm")
    pow2 = Linear("fc", 16, 2, weights=NumberFormat.parse(token), activations=I8, output=B1)
    int8 = Linear("fc", 16, 2, weights=I8, activations=I8, output=B1)
    p, _, t, a = one_tile(pow2, make_chip())
    q, _, t8, a8 = one_tile(int8, make_chip())
    assert p.unit.value == q.unit.value == "int8_unit" and p.passes == 1
    assert t.compute_cycles == t8.compute_cycles == 10
    c = a.compute
    assert (c.int8_macs, c.shift_macs, c.mux_bits) == (0, 32, 32 * stages * (8 + levels - 1))
    add, mux = tech.energy_pj("int_adder", "add", 32), tech.energy_pj("mux", "select", 1)
    model = INT8_UNIT
    registers = c.register_bits * tech.energy_pj("register", "write", 1)
    assert model.compute_energy_pj(c, tech, 32) == pytest.approx(
        32 * add + c.mux_bits * mux + registers)
    assert model.compute_energy_pj(a8.compute, tech, 32) == pytest.approx(
        32 * (tech.energy_pj("int_multiplier", "multiply", 8) + add) + registers)
    assert accumulator_bits_needed(16, NumberFormat.parse(token), I8) == (
        16 * 2 ** (levels - 1) * 255).bit_length() + 1


def test_power_of_two_weights_run_bit_serially_as_integers_where_no_int_unit_takes_them():
    # On a chip whose full-precision layers run bit-serially, p5 weights (codes up to ±128)
    # are L + 1 = 9 two's-complement planes on the array, against 2 input planes: 18 passes.
    chip = make_chip(**PER_FOLD, full_precision="bit_serial")
    layer = Linear("fc", 16, 2, weights=NumberFormat.parse("p5"), activations=I2, output=B1)
    p, _, _, a = one_tile(layer, chip)
    assert p.unit.value == "array" and (p.w_passes, p.a_passes) == (9, 2)
    assert a.compute.binary_ops == 32 * 18 and a.compute.shift_macs == 0


@pytest.mark.parametrize(("objective", "units"), [
    ("latency", {"conv2": "array", "conv6": "array"}),
    ("energy", {"conv2": "int8_unit", "conv6": "array"}),
])
def test_power_of_two_layers_take_the_unit_the_objective_prefers(objective, units):
    # cnv with 3-bit powers of two on edge: shift-adds on its 64-MAC int8 unit take about
    # twenty times the cycles of the array's 3 bit-serial planes on the compute-bound conv2
    # but less energy, so a latency-first chip keeps it on the array and an energy-first one
    # moves it; the DRAM-bound conv6 stays on the array either way (fewer cycles, less leakage).
    from simulator import apply_overrides, load_chip, simulate
    from workloads import load_network

    chip = apply_overrides(load_chip("edge"), {"mapping.objective": objective})
    res = {x.name: x for x in simulate(load_network("cnv", "wp3a2"), chip).layers}
    assert {name: res[name].unit for name in units} == units
    if objective == "latency":
        assert all(x.unit == "array" for x in res.values() if x.precision == "wp3a2")


def test_a_gate_is_one_multiply_per_output_in_post_processing():
    # Real-to-Binary's gate scales each output by its channel's gate: FC 16 → 2 gains one
    # 16-bit multiply per output (2) beside the threshold's add; ⌈2 × 2 / 4⌉ = 1 PPU cycle.
    # Its gate layers (an average and two 8-bit FCs) are layers of their own.
    plain = Linear("fc", 16, 2, weights=B1, activations=B1, output=B1)
    gated = dataclasses.replace(plain, gate=4)
    p0, _, t0, a0 = one_tile(plain, make_chip(**PER_FOLD))
    p1, _, t1, a1 = one_tile(gated, make_chip(**PER_FOLD))
    assert (p0.post_mults, p1.post_mults) == (0, 1)
    assert (a0.ppu_mults, a1.ppu_mults, a1.ppu_ops) == (0, 2, 2)
    assert (t0.ppu_cycles, t1.ppu_cycles) == (1, 1)
    assert t1.compute_cycles == t0.compute_cycles
    e0, e1 = (energy_breakdown_pj(a, make_chip(), load_tech("45nm"), cycles=1, area_mm2=0.0,
                                  acc_bits=16, model=None)["ppu"] for a in (a0, a1))
    assert e1 - e0 == pytest.approx(2 * load_tech("45nm").energy_pj("int_multiplier",
                                                                     "multiply", 16))


@pytest.mark.parametrize(("mode", "fmt", "bits", "mults"), [
    ("max", B1, 0, 0),  # a binary max is an OR
    ("max", I8, 8, 0),  # an 8-bit max is an 8-bit compare
    ("avg", I8, 10, 1),  # a 2×2 average: a 10-bit sum, then × 1/4
])
def test_pooling_is_priced_by_width(mode, fmt, bits, mults):
    chip = make_chip()
    layer = Pool("p", (4, 4, 4), 2, 2, 0, mode, fmt, fmt)
    _, _, _, a = one_tile(layer, chip)
    outputs = 4 * 2 * 2
    assert (a.pool_ops, a.pool_bits, a.ppu_mults) == (outputs * 4, bits, outputs * mults)
    e = energy_breakdown_pj(a, chip, load_tech("45nm"), cycles=1, area_mm2=0.0, acc_bits=16,
                            model=None)
    tech = load_tech("45nm")
    combine = (tech.energy_pj("or_gate", "or", 1) if bits == 0
               else tech.energy_pj("int_adder", "add", bits))
    mult16 = tech.energy_pj("int_multiplier", "multiply", 16)
    assert e["ppu"] == pytest.approx(outputs * 4 * combine + outputs * mults * mult16)


def test_accumulator_width_is_checked_against_the_longest_reduction():
    # |Σ| ≤ N · max|w| · max|a|, plus a sign bit: binary 8192 → 8192 = 2^13: 15 bits;
    # w1a8 (unsigned 8-bit) × 27 → 27 · 255 = 6885: 14 bits; w8a8 × 8192 → 8192 · 128 · 255:
    # 29 bits
    assert accumulator_bits_needed(8192, B1, B1) == 15
    assert accumulator_bits_needed(27, B1, I8) == 14
    assert accumulator_bits_needed(8192, I8, I8) == 29
    chip = make_chip(**{"accumulator_bits": 14, "full_precision": "bit_serial"})
    with pytest.raises(InfeasibleError) as err:
        problem_for(Linear("fc", 8192, 10, weights=B1, activations=B1, output=B1), chip)
    e = err.value
    assert (e.layer, e.resource, e.needed, e.available) == ("fc", "accumulator_bits", 15, 14)
    # the int8 unit has its own accumulators (32 bits unless the chip says otherwise)
    on_unit = problem_for(Linear("fc", 8192, 10, weights=I8, activations=I8, output=I8),
                          make_chip())
    assert on_unit.acc_bits == 32


def test_cli_names_the_layer_and_the_bits_needed(capsys):
    rc = main(["simulate", "--network", "bnn-cifar10", "--set", "accumulator_bits=12"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.count("\n") == 0
    assert "layer 'conv1'" in err and "14-bit accumulator" in err
    assert "accumulator_bits ≥ 14" in err


def test_a_power_of_two_layer_the_array_cannot_accumulate_stays_on_the_int_unit():
    # LFC's fc1 with 5-bit powers of two against 8-bit pixels: 784 · 2^7 · 255 needs a
    # 26-bit accumulator, edge's array has 24 — the int8 unit (32 bits) runs it alone
    from simulator import simulate
    from workloads import get_network

    res = simulate(get_network("lfc", "wp5a2"), "edge")
    assert next(x for x in res.layers if x.name == "fc1").unit == "int8_unit"
