"""Hand-derived cycle counts for tiny layers, matched exactly by both engines.

Each layer runs as a single tile on the TINY chip (see conftest): nothing contends, so the
event engine must equal the analytical closed form, and both must equal the derivation.
Notation: occ(B) = B cycles at 1 byte/cycle; L = 10 cycles of DRAM latency; an OS fold on
r rows × c cols for T steps takes 2r + c + T − 2 cycles (SCALE-Sim).
"""

from __future__ import annotations

import pytest
from conftest import make_chip

from simulator.overlay.engines import AnalyticalEngine, EventEngine
from simulator.overlay.mapping import choose_mapping, price
from simulator.overlay.problem import problem_for
from workloads.formats import NumberFormat
from workloads.layers import Conv2d, Linear

B1 = NumberFormat("binary", 1)
I2 = NumberFormat("int", 2)
I8 = NumberFormat("int", 8)
ENGINES = [AnalyticalEngine(), EventEngine()]


def single_tile(layer, chip):
    p = problem_for(layer, chip)
    return p, *price(p, chip, tk=p.K, tc=p.C, toy=p.OY, tox=p.OX)


@pytest.mark.parametrize("engine", ENGINES, ids=lambda e: e.name)
def test_fc_binary_output_stationary(engine):
    # FC 16 → 2, w1a1, binary outputs, OS.
    # reduction 16 elements = 2 words of 8 lanes → T = 2 steps; 1 pixel on 1 row, 2 filters on
    # 2 cols: one fold, 2·1 + 2 + 2 − 2 = 4 compute cycles.
    # weights 2·16 bits = 4 B, inputs 16 bits = 2 B: first load = 4 + 2 + L = 16.
    # post: 2 outputs / 4 lanes = 1 cycle; store 2 bits → 1 B = 1 cycle + L: last store = 12.
    # total = 16 + 4 + 12 = 32 (DRAM busy 4 + 2 + 1 = 7 < 32).
    chip = make_chip()
    p, m, t = single_tile(Linear("fc", 16, 2, weights=B1, activations=B1, output=B1), chip)
    assert (t.compute_cycles, t.first_load, t.last_store) == (4, 16, 12)
    assert engine.time_layer(p, chip, m, t).cycles == 32


@pytest.mark.parametrize("engine", ENGINES, ids=lambda e: e.name)
def test_conv3x3_binary_output_stationary(engine):
    # conv 8 → 4 channels, 3×3, pad 1, on a 4×4 map, w1a1, binary outputs, OS.
    # reduction 8·9 = 72 elements = 9 words → T = 9; 16 output pixels on 2 rows = 8 row folds,
    # 4 filters on 2 cols = 2 col folds; ports deliver 2·8 bits·9 / 64 → 3 ≤ 9 steps, so each
    # of the 16 folds takes 2·2 + 2 + 9 − 2 = 13 cycles: compute = 208.
    # weights 4·8·9 bits = 36 B; inputs 8 ch × 4×4 px (the padding is made on chip) = 16 B:
    # first load = 36 + 16 + L = 62. post = 64 outputs / 4 lanes = 16; outputs 64 bits = 8 B:
    # last store = 16 + 8 + L = 34. total = 62 + 208 + 34 = 304.
    chip = make_chip()
    layer = Conv2d("conv", (8, 4, 4), 4, (3, 3), 1, 1, 1, B1, B1, B1)
    p, m, t = single_tile(layer, chip)
    assert (t.compute_cycles, t.first_load, t.last_store) == (208, 62, 34)
    assert engine.time_layer(p, chip, m, t).cycles == 304


@pytest.mark.parametrize("engine", ENGINES, ids=lambda e: e.name)
def test_fc_two_bit_activations_weight_stationary(engine):
    # FC 32 → 4, binary weights × 2-bit activations, 2-bit outputs, WS.
    # reduction 32 = 4 words on 2 rows = 2 row folds; 4 filters on 2 cols = 2 col folds;
    # T = 1 pixel × 2 activation planes = 2 steps (the output port takes 2·16 bits·2 / 64 = 1
    # step, no slow-down): each of the 4 folds takes 2·2 + 2 + 2 − 2 = 6 → compute = 24.
    # weights 4·32 bits = 16 B; inputs 32·2 bits = 8 B: first load = 16 + 8 + L = 34.
    # post = 4 / 4 = 1; outputs 4·2 bits = 1 B: last store = 1 + 1 + L = 12. total = 70.
    chip = make_chip(dataflow="weight_stationary")
    p, m, t = single_tile(Linear("fc", 32, 4, weights=B1, activations=I2, output=I2), chip)
    assert (t.compute_cycles, t.first_load, t.last_store) == (24, 34, 12)
    assert engine.time_layer(p, chip, m, t).cycles == 70


@pytest.mark.parametrize("engine", ENGINES, ids=lambda e: e.name)
def test_fc_int8_on_the_int8_unit(engine):
    # FC 8 → 2 with 8-bit weights and activations goes to the int8 unit (4 MACs/cycle):
    # 16 MACs / 4 = 4 cycles + 2 pipeline = 6. weights 16 B, inputs 8 B: first load = 34.
    # post = 1; outputs 2 bits → 1 B: last store = 12. total = 34 + 6 + 12 = 52.
    chip = make_chip()
    p, m, t = single_tile(Linear("fc", 8, 2, weights=I8, activations=I8, output=B1), chip)
    assert m.unit == "int8_unit"
    assert (t.compute_cycles, t.first_load, t.last_store) == (6, 34, 12)
    assert engine.time_layer(p, chip, m, t).cycles == 52


def test_mapper_never_worse_than_a_single_tile():
    chip = make_chip()
    layer = Conv2d("conv", (8, 4, 4), 4, (3, 3), 1, 1, 1, B1, B1, B1)
    p = problem_for(layer, chip)
    _, best = choose_mapping(p, chip)
    assert best.lower_bound(chip.dram_latency_cycles) <= 304


def test_bit_serial_passes_multiply_compute():
    # The same FC with 2-bit weights and 2-bit activations: OS time T = words × 2 × 2 passes.
    chip = make_chip()
    one = single_tile(Linear("fc", 16, 2, weights=B1, activations=B1, output=B1), chip)[2]
    four = single_tile(Linear("fc", 16, 2, weights=I2, activations=I2, output=B1), chip)[2]
    # T goes from 2 to 8 steps: 2·1 + 2 + 8 − 2 = 10 cycles.
    assert (one.compute_cycles, four.compute_cycles) == (4, 10)


@pytest.mark.parametrize("engine", ENGINES, ids=lambda e: e.name)
def test_two_tiles_reuse_the_input(engine):
    # FC 16 → 4, w1a1, two tiles of 2 filters (order k, c, p): the input tile is loaded once.
    # loads: W0 4 B at 0–4 (arrives 14), I 2 B at 4–6 (arrives 16), W1 4 B at 6–10 (arrives 20,
    # second weight slot). tile 0 computes 16–20 (2·1 + 2 + 2 − 2 = 4); its output: post 20–21,
    # store 1 B at 21–22 (+L). tile 1 computes 20–24, post 24–25, store 25–26, +L → 36.
    # analytical: first load 16 + compute 8 + last store (1 + 1 + L) = 36.
    chip = make_chip()
    p = problem_for(Linear("fc", 16, 4, weights=B1, activations=B1, output=B1), chip)
    m, t = price(p, chip, tk=2, tc=16, toy=1, tox=1, order=("k", "c", "p"))
    assert (m.tiles, t.weight_bytes, t.input_bytes, t.output_bytes) == (2, 8, 2, 2)
    assert engine.time_layer(p, chip, m, t).cycles == 36


def test_spilled_partial_sums():
    # FC 16 → 2 as 2 filter tiles × 2 reduction tiles, order c, k, p: each output tile is left
    # between its reduction tiles, so its 16-bit partial sum goes to DRAM and back once.
    # weights 4 tiles × 1 B, inputs 2 tiles × 1 B (reused across filters), outputs 2 × 1 B,
    # partial sums 2 tiles × (2 B out + 2 B back) = 8 B.
    chip = make_chip()
    p = problem_for(Linear("fc", 16, 2, weights=B1, activations=B1, output=B1), chip)
    m, t = price(p, chip, tk=1, tc=8, toy=1, tox=1, order=("c", "k", "p"))
    assert m.spills_psums and m.tiles == 4
    assert (t.weight_bytes, t.input_bytes, t.output_bytes, t.psum_bytes) == (4, 2, 2, 8)
    # with the reduction innermost nothing spills
    m2, t2 = price(p, chip, tk=1, tc=8, toy=1, tox=1, order=("k", "p", "c"))
    assert not m2.spills_psums and t2.psum_bytes == 0
    for engine in ENGINES:
        cyc = engine.time_layer(p, chip, m, t).cycles
        assert cyc >= engine.time_layer(p, chip, m2, t2).cycles - 20  # same work, spills extra


def test_burst_rounding_and_channels():
    # 2 B of inputs on 64-byte bursts move 64 B; at 1 B/cycle over 2 channels one burst still
    # takes 64 / 0.5 = 128 cycles on its channel.
    from simulator.overlay.dram import transfer

    chip = make_chip(**{"dram.burst_bytes": 64})
    assert [int(x) for x in transfer(chip, 2)] == [64, 64]
    assert [int(x) for x in transfer(chip, 130)] == [192, 192]
    two = make_chip(**{"dram.burst_bytes": 64, "dram.channels": 2})
    assert [int(x) for x in transfer(two, 2)] == [128, 64]  # one burst on one channel
    assert [int(x) for x in transfer(two, 128)] == [128, 128]  # one burst per channel


@pytest.mark.parametrize("engine", ENGINES, ids=lambda e: e.name)
def test_padding_wider_than_the_kernel(engine):
    # a 1×1 conv with padding 1 on a 2×2 map gives a 4×4 output; output rows 0 and 3 read only
    # padding (0 bytes), rows 1 and 2 read 2 pixels × 8 channels = 2 B each. All 4 tiles of
    # one output row must still run.
    chip = make_chip()
    layer = Conv2d("c", (8, 2, 2), 2, (1, 1), 1, 1, 1, B1, B1, B1)
    p = problem_for(layer, chip)
    m, t = price(p, chip, tk=2, tc=8, toy=1, tox=4)
    timing = engine.time_layer(p, chip, m, t)
    assert m.tiles == 4 and t.input_bytes == 4
    assert timing.cycles >= t.compute_cycles
