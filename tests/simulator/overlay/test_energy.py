"""Energy and area: a hand-derived layer, conservation in results, tech-table lookups."""

from __future__ import annotations

import pytest
from conftest import make_chip

from simulator import load_tech, simulate
from simulator.overlay.energy import count_actions, energy_breakdown_pj
from simulator.overlay.mapping import price
from simulator.overlay.problem import problem_for
from workloads import get_network
from workloads.formats import NumberFormat
from workloads.layers import Linear

B1 = NumberFormat("binary", 1)


def test_hand_derived_actions_and_compute_energy():
    # FC 16 → 2, w1a1, one tile on TINY (8-bit lanes, 16-bit accumulators, OS):
    # 32 binary MACs → 32 XNOR bit-ops and 32 popcount bits; 2 outputs × 2 words = 4
    # accumulations; registers: 4 PE-steps × 2 operand words × 8 bits + 4 × 16 = 128 bits.
    chip = make_chip()
    p = problem_for(Linear("fc", 16, 2, weights=B1, activations=B1, output=B1), chip)
    m, t = price(p, chip, tk=2, tc=16, toy=1, tox=1)
    a = count_actions(p, chip, m, t)
    c = a.compute
    assert (c.binary_ops, c.popcount_bits, c.accumulations, c.register_bits) == (32, 32, 4, 128)
    assert a.ppu_ops == 2 and a.dram_bytes == 4 + 2 + 1
    # buffers: inputs 16 bits written + 1 row × 2 words × 8 bits read; weights 32 written +
    # 2 cols × 2 words × 8 read; outputs 2 × 16 drained + 8 bits read out to DRAM
    assert (a.input_buffer_bits, a.weight_buffer_bits, a.output_buffer_bits) == (32, 64, 40)
    tech = load_tech("45nm")
    e = energy_breakdown_pj(a, chip, tech, cycles=32, area_mm2=1.0, acc_bits=16,
                            model=chip.pe_array.pe)
    expect = 32 * 0.00125 + 32 * 0.00375 + 4 * 0.05 + 128 * 0.00375
    assert e["compute"] == pytest.approx(expect)
    assert e["dram"] == pytest.approx(7 * 8 * 30.47)  # TINY's DRAM is DDR3 [H14]
    for kind, pj in (("lpddr4", 8.0), ("hbm2", 3.9)):  # the DRAM type prices the bits
        other = make_chip(**{"dram.type": kind})
        e = energy_breakdown_pj(a, other, tech, cycles=32, area_mm2=1.0, acc_bits=16,
                                model=chip.pe_array.pe)
        assert e["dram"] == pytest.approx(7 * 8 * pj)
    assert e["leakage"] == pytest.approx(1.0 * 1.0 * 32e-9 * 1e9)  # 1 mW/mm² × 1 mm² × 32 ns


def test_output_buffer_counted_once_per_dataflow():
    # one fold (per_fold timing: the whole 2×2 array), one reduction tile: every dataflow
    # drains each accumulator exactly once
    layer = Linear("fc", 16, 2, weights=B1, activations=B1, output=B1)
    bits = set()
    for df in ("output_stationary", "weight_stationary", "input_stationary"):
        chip = make_chip(dataflow=df, **{"pe_array.fold_timing": "per_fold"})
        p = problem_for(layer, chip)
        m, t = price(p, chip, tk=2, tc=16, toy=1, tox=1)
        bits.add(count_actions(p, chip, m, t).output_buffer_bits)
    assert bits == {40}


def test_result_energy_is_the_sum_of_its_parts():
    r = simulate(get_network("cnv"), "edge", engine="event")
    for layer in r.layers:
        assert layer.energy_pj == pytest.approx(sum(layer.energy_breakdown_pj.values()))
        assert all(v >= 0 for v in layer.energy_breakdown_pj.values())
    assert r.energy_pj == pytest.approx(sum(r.energy_breakdown_pj.values()))
    assert r.area_mm2 == pytest.approx(sum(r.area_breakdown_mm2.values()))


def test_tech_lookups_interpolate():
    tech = load_tech("45nm")
    assert tech.energy_pj("int_adder", "add", 8) == 0.03
    assert tech.energy_pj("int_adder", "add", 24) == pytest.approx(0.075)
    assert tech.sram_energy_pj_per_bit(8) == pytest.approx(10 / 64)
    assert tech.sram_energy_pj_per_bit(16) == pytest.approx(15 / 64)  # halfway in log2(size)
    assert tech.sram_area_um2(64) == pytest.approx(64 * 4724)


def test_xnor_mac_much_cheaper_than_int8_mac():
    # same network, same area: the XNOR chip spends far less compute energy
    net = get_network("bnn-cifar10")
    xnor = simulate(net, "edge").energy_breakdown_pj["compute"]
    int8 = simulate(net, "int8-baseline").energy_breakdown_pj["compute"]
    assert int8 > 10 * xnor
