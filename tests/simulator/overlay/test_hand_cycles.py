"""Hand-derived cycle counts for tiny layers, matched exactly by both engines.

Each layer runs as a single tile on the TINY chip (see conftest): nothing contends, so the
event engine must equal the analytical closed form, and both must equal the derivation.
Notation: occ(B) = B cycles at 1 byte/cycle; L = 10 cycles of DRAM latency. A fold of r rows
× c cols for T steps has r + c − 2 cycles of skew and d = max(r, ⌈r·c·held bits / port⌉) to
move its stationary side. Pipelined folds (the default) each issue in max(T, d) and the last
adds r + c − 2 + T + d − max(T, d); alone, a fold takes r + c − 2 + T + d = 2r + c + T − 2.
SCALE-Sim's convention (per_fold) charges every fold padded to the array: 2R + C + T − 2, or
R + C + T − 2 under output-stationary (docs/scalesim.md).
"""

from __future__ import annotations

import pytest
from conftest import make_chip

from simulator.overlay.engines import AnalyticalEngine, EventEngine, LayerJob
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
@pytest.mark.parametrize(("timing", "compute", "total"), [("pipelined", 148, 244),
                                                          ("per_fold", 176, 272)])
def test_conv3x3_binary_output_stationary(engine, timing, compute, total):
    # conv 8 → 4 channels, 3×3, pad 1, on a 4×4 map, w1a1, binary outputs, OS.
    # reduction 8·9 = 72 elements = 9 words → T = 9; 16 output pixels on 2 rows = 8 row folds,
    # 4 filters on 2 cols = 2 col folds; the ports feed every row and column.
    # The 2·2 16-bit accumulators drain in d = max(2, ⌈64 / 64⌉) = 2 cycles.
    # pipelined: 16 folds issue in max(9, 2) = 9; the last adds 2 + 2 − 2 + 9 + 2 − 9 = 4:
    #   compute = 144 + 4 = 148.
    # per_fold: 16 × (2 + 2 + 9 − 2) = 176 (SCALE-Sim's OS fold, its drain in the skew).
    # weights 4·8·9 bits = 36 B; inputs 8 ch × 4×4 px (the padding is made on chip) = 16 B:
    # first load = 36 + 16 + L = 62. post = 64 outputs / 4 lanes = 16; outputs 64 bits = 8 B:
    # last store = 16 + 8 + L = 34. total = 62 + compute + 34.
    chip = make_chip(**{"pe_array.fold_timing": timing})
    layer = Conv2d("conv", (8, 4, 4), 4, (3, 3), 1, 1, 1, B1, B1, B1)
    p, m, t = single_tile(layer, chip)
    assert (t.compute_cycles, t.first_load, t.last_store) == (compute, 62, 34)
    assert engine.time_layer(p, chip, m, t).cycles == total


@pytest.mark.parametrize("engine", ENGINES, ids=lambda e: e.name)
@pytest.mark.parametrize(("timing", "compute", "total"), [("pipelined", 12, 59),
                                                          ("per_fold", 24, 71)])
def test_fc_two_bit_activations_weight_stationary(engine, timing, compute, total):
    # FC 32 → 4, binary weights × 2-bit activations, 2-bit outputs, WS.
    # reduction 32 = 4 words on 2 rows = 2 row folds; 4 filters on 2 cols = 2 col folds;
    # T = 1 pixel × 2 activation planes = 2 steps (the output port takes 2·16 bits·2 / 64 = 1
    # step, no slow-down). Each fold preloads 2·2 8-bit weight words: d = max(2, ⌈32 / 64⌉) = 2.
    # pipelined: 4 × max(2, 2) = 8, the last fold adds 2 + 2 − 2 + 2 + 2 − 2 = 4: 12.
    # per_fold: 4 × (2·2 + 2 + 2 − 2) = 24.
    # weights 4·32 bits = 16 B; inputs 32·2 bits = 8 B: first load = 16 + 8 + L = 34.
    # Unsigned 2-bit activations against ±1 weights: each plane is an AND-popcount, so the
    # post-processing unit subtracts the correction once per output besides the threshold:
    # post = 4 outputs × 2 ops / 4 lanes = 2; outputs 4·2 bits = 1 B: last store = 2 + 1 + L
    # = 13.
    chip = make_chip(dataflow="weight_stationary", **{"pe_array.fold_timing": timing})
    p, m, t = single_tile(Linear("fc", 32, 4, weights=B1, activations=I2, output=I2), chip)
    assert (t.compute_cycles, t.first_load, t.last_store) == (compute, 34, 13)
    assert engine.time_layer(p, chip, m, t).cycles == total


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


def test_two_tiles_reuse_the_input():
    # FC 16 → 4, w1a1, two tiles of 2 filters (order k, c, p): the input tile is loaded once.
    # Each tile is one fold of 1 row × 2 cols, T = 2 words, d = max(1, ⌈1·2·16 / 64⌉) = 1: it
    # issues in max(2, 1) = 2; the layer's last fold adds 1 + 2 − 2 + 2 + 1 − 2 = 2.
    # event: loads W0 4 B at 0–4 (arrives 14), I 2 B at 4–6 (arrives 16), W1 4 B at 6–10
    # (arrives 20, second weight slot). tile 0 issues 16–18; its output: post 18–19, store 1 B
    # at 19–20 (+L). tile 1 waits for W1 and computes 20–24 (issue and the final drain), post
    # 24–25, store 25–26, +L → 36.
    # analytical (no waiting for W1): first load 16 + compute 6 + last store (1 + 1 + L) = 34.
    chip = make_chip()
    p = problem_for(Linear("fc", 16, 4, weights=B1, activations=B1, output=B1), chip)
    m, t = price(p, chip, tk=2, tc=16, toy=1, tox=1, order=("k", "c", "p"))
    assert (m.tiles, t.weight_bytes, t.input_bytes, t.output_bytes) == (2, 8, 2, 2)
    assert t.compute_cycles == 6
    assert AnalyticalEngine().time_layer(p, chip, m, t).cycles == 34
    assert EventEngine().time_layer(p, chip, m, t).cycles == 36


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
    # Each channel moves 1 B/cycle (8 bits at 1000 MT/s, 1 GHz clock); bursts of 64 B. A
    # transfer is rounded up to whole bursts once: 2 B move one burst (64 cycles), 130 B three
    # (192). Over 2 channels the three bursts interleave 2 + 1: alone the transfer takes its
    # busiest channel's 2 bursts = 128 cycles; over 4 channels one burst each = 64 cycles.
    # The DRAM's busy time for 192 B is 192 / (channels · 1 B/cycle).
    from simulator.overlay.dram import busy_cycles, split_bursts, transfer

    def chip(n):
        return make_chip(**{"dram.burst_bytes": 64, "dram.channels": n})

    assert [int(x) for x in transfer(chip(1), 2)] == [64, 64]
    assert [int(x) for x in transfer(chip(1), 130)] == [192, 192]
    assert [int(x) for x in transfer(chip(2), 2)] == [64, 64]  # one burst on one channel
    assert [int(x) for x in transfer(chip(2), 130)] == [128, 192]
    assert [int(x) for x in transfer(chip(4), 130)] == [64, 192]
    assert [int(busy_cycles(chip(n), 192)) for n in (1, 2, 4)] == [192, 96, 48]
    # interleaving: 5 bursts from channel 3 of 4 go to channels 3, 0, 1, 2, 3
    assert split_bursts(5, 3, 4) == [(3, 2), (0, 1), (1, 1), (2, 1)]


def test_dram_channels_serve_in_parallel():
    # Event model, 2 channels of 1 B/cycle, 64-byte bursts, 10-cycle latency. At t = 0 the
    # weight stream asks for 64 B (its burst 0: channel 0) and the input stream for 128 B (its
    # bursts 0, 1: channels 0, 1). Channel 0 serves the weights first (0–64) and then the
    # inputs' first burst (64–128); channel 1 serves the inputs' second burst at once (0–64).
    # The weights arrive at 64 + 10, the inputs at 128 + 10. The weight stream's next 64 B
    # continue at its burst 1 — channel 1, free at 64 — and arrive at 64 + 64 + 10 = 138 if
    # asked for at 64.
    import simpy

    from simulator.overlay.dram import Dram

    chip = make_chip(**{"dram.burst_bytes": 64, "dram.channels": 2})
    env = simpy.Environment()
    dram = Dram(env, chip, None)
    assert dram.latency == 10
    done = {}

    def run(name, nbytes, stream, at=0):
        yield env.timeout(at)
        yield env.process(dram.transfer(nbytes, stream))
        done[name] = env.now

    env.process(run("w1", 64, "weights"))
    env.process(run("i1", 128, "inputs"))
    env.process(run("w2", 64, "weights", at=64))
    env.run()
    assert done == {"w1": 74, "i1": 138, "w2": 138}
    assert dram.busy == [128, 128] and dram.busy_cycles == 128


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


@pytest.mark.parametrize("timing", ["per_fold", "pipelined"])
def test_a_narrow_output_port_slows_the_drain(timing):
    # Output-stationary accumulators leave through the output port: 2·2 accumulators of 16
    # bits through a 16-bit port take d = max(2, ⌈64 / 16⌉) = 4 cycles per fold.
    # per_fold: the drain beyond the 2 cycles hidden in the skew adds 2 to each of the 16 folds
    # of 11: 16 × 13 = 208; pipelined: 15·max(9, 4) + (2 + 2 − 2 + 9 + 4) = 150.
    chip = make_chip(**{"pe_array.fold_timing": timing, "buffers.output.port_bits": 16})
    layer = Conv2d("conv", (8, 4, 4), 4, (3, 3), 1, 1, 1, B1, B1, B1)
    _, _, t = single_tile(layer, chip)
    assert t.compute_cycles == {"per_fold": 208, "pipelined": 150}[timing]


@pytest.mark.parametrize(("port", "expect"), [(64, 5), (8, 7)])
def test_weight_stationary_preloads_through_the_weight_port(port, expect):
    # FC 16 → 2, w1a1, weight-stationary: rows ← 2 reduction words, columns ← 2 filters,
    # T = 1 pixel. One fold (per_fold timing uses the whole 2×2 array): skew 2 + 2 − 2, 1 step,
    # and the preload of its 2·2 8-bit weight words, d = max(2 rows, ⌈32 / port⌉): a 64-bit
    # port gives 2 (2r + c + T − 2 = 5), an 8-bit one 4 (7).
    chip = make_chip(**{"dataflow": "weight_stationary", "buffers.weight.port_bits": port,
                        "pe_array.fold_timing": "per_fold"})
    _, _, t = single_tile(Linear("fc", 16, 2, weights=B1, activations=B1, output=B1), chip)
    assert t.compute_cycles == expect


def test_partial_sums_are_prefetched_and_stalls_have_causes():
    # FC 16 → 4, w1a1, tiles of 2 filters × 8 inputs, reduction loop outermost (c, k, p): the
    # tiles run (c0 k0), (c0 k1), (c1 k0), (c1 k1), so both output tiles spill their 4-byte
    # partial sums (2 × 16 bits) and read them back. DRAM 1 B/cycle, latency L = 10, two
    # output slots.
    #  - tile0 spills at 14–18 and frees its slot at 18 + L = 28; tile1's spill waits behind
    #    the loads queued for tiles 2 and 3 (18–23), 23–27, and frees its slot at 37.
    #  - Output slots are taken in order by their own process, so each read-back starts the
    #    moment its slot is free: tile2's at 28–32 (computes at 32 + L = 42), tile3's at 37–41
    #    — before tile2 has run; without the prefetch it waited for tile2 (43–47) and the layer
    #    took 72 cycles.
    #  - tile3 (the last: 1 + its 2-cycle tail) 51–54, post 54–55, store 55–56: 56 + L = 66.
    from simulator.trace import Trace

    chip = make_chip()
    p = problem_for(Linear("fc", 16, 4, weights=B1, activations=B1, output=B1), chip)
    m, t = price(p, chip, tk=2, tc=8, toy=1, tox=1, order=("c", "k", "p"))
    trace = Trace()
    timing = EventEngine().time_layer(p, chip, m, t, trace=trace)
    assert timing.cycles == 66
    reads = [(x.start, x.end) for x in trace.intervals if x.label == ":psums"]
    assert reads == [(14, 18), (23, 27), (28, 32), (37, 41)]
    tiles = {x.label: x.start for x in trace.intervals if x.component == "array"}
    assert tiles[":tile2"] == 42 and tiles[":tile3"] == 51
    # every cycle is the array's (6) or a stall with its cause; waiting for partial sums in
    # flight is dram, for an output slot still being written back ppu
    assert timing.stalls == {"dram": 47, "buffers": 0, "ppu": 13}
    assert t.compute_cycles + sum(timing.stalls.values()) == timing.cycles
    assert timing.bound == "dram"


def _job(layer, chip, after):
    p = problem_for(layer, chip)
    return LayerJob(layer.name, p, *price(p, chip, tk=p.K, tc=p.C, toy=p.OY, tox=p.OX),
                    after_layer=after)


@pytest.mark.parametrize(("overrides", "analytical", "event"), [
    ({}, [32, 28], [32, 28]),
    ({"overlap_layers": False}, [32, 32], [32, 32]),
    ({"buffers.weight.double_buffered": False}, [32, 28], [35, 28]),
])
def test_next_layer_weights_load_during_the_previous_layer(overrides, analytical, event):
    # Two FC 16 → 2 layers (the first test's layer twice), one tile each, one DRAM channel.
    # Alone each takes 32 (first load 4 + 2 + L = 16, compute 4, last store 12).
    # Overlapped, double-buffered: b's loader starts once a's has issued its only load (t = 0)
    # and takes the second weight slot; its 4 B queue behind a's 6 B on the channel (6 – 10)
    # and arrive at 20. a computes 16 – 20, post 20 – 21, store 21 – 22 + L: a ends at 32.
    # b's inputs (a's outputs) load 32 – 34 + L = 44, compute 44 – 48, post, store 49 – 50
    # + L = 60: b's span 28 = inputs 2 + L, compute 4, last store 12.
    # The analytical engine hides min(w + L = 14, a's DRAM idle 32 − 7 − L = 15, a's slot
    # time last store 12 + last tile 4 = 16) = 14 of b's first load: 16 → max(2 + L, 2) = 12.
    # Single-buffered: b's weights wait for a's only slot (a's compute ends at 20), move
    # 20 – 24 and push a's store to 24 – 25 + L: a ends at 35, b's inputs then 35 – 37 + L,
    # and b's span is again 28. The analytical estimate (a's slot time 12 + 0) misses a's
    # delay: 32 + 28.
    chip = make_chip(**overrides)
    layers = [Linear(n, 16, 2, weights=B1, activations=B1, output=B1) for n in "ab"]
    jobs = [_job(layer, chip, after=i > 0) for i, layer in enumerate(layers)]
    assert [t.cycles for t in AnalyticalEngine().time_network(jobs, chip)] == analytical
    timings = EventEngine().time_network(jobs, chip)
    assert [t.cycles for t in timings] == event
    for job, timing in zip(jobs, timings, strict=True):  # the bound: all of the load hidden
        assert job.lower_bound(chip) <= timing.cycles
