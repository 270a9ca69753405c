"""Residency and batching, hand-derived on TINY (1 B/cycle DRAM, 1-byte bursts, latency 10;
64 KiB double-buffered buffers: 32 KiB slots).

The network: an 8×4×4 input, two 1×1 binary convs of 8 filters. Each layer's weights are
8·8 bits = 8 B; the input and c1's map are 8·16 bits = 16 B; c2, the last layer, writes
16-bit scores: 128 × 16 bits = 256 B.
"""

from __future__ import annotations

import pytest
from conftest import make_chip

from simulator import simulate
from simulator.overlay.mapping import price
from simulator.overlay.problem import problem_for
from simulator.overlay.residency import Placement, plan_residency
from workloads import network_from_yaml
from workloads.formats import NumberFormat
from workloads.layers import Linear

B1 = NumberFormat("binary", 1)

CHAIN = """name: chain
input: [8, 4, 4]
quant: w1a1
layers:
  - {name: c1, type: conv, out_channels: 8, kernel: 1}
  - {name: c2, type: conv, out_channels: 8, kernel: 1}
"""

SHORTCUT = """name: shortcut
input: [8, 4, 4]
quant: w1a1
layers:
  - {name: c1, type: conv, out_channels: 8, kernel: 1}
  - {name: c2, type: conv, out_channels: 8, kernel: 1}
  - {name: res, type: add, inputs: [c2, c1]}
  - {name: c3, type: conv, out_channels: 8, kernel: 1}
"""


def net(tmp_path, text):
    path = tmp_path / "net.yaml"
    path.write_text(text)
    return network_from_yaml(path)


def test_the_map_between_two_layers_stays_on_chip(tmp_path):
    chain = net(tmp_path, CHAIN)
    chip = make_chip(**{"residency.weights": False})
    where, preload = plan_residency(chain, chip)
    assert where == [Placement(True, False, True), Placement(False, True, True)]
    assert preload == 0
    # c1 moves its weights and inputs (8 + 16 B), c2 its weights and scores (8 + 256 B); with
    # nothing kept on chip the 16-byte map would also go out and come back: 320 B
    kept = simulate(chain, chip)
    assert [x.dram_bytes for x in kept.layers] == [24, 264]
    off = simulate(chain, make_chip(**{"residency.weights": False,
                                       "residency.activations": False}))
    assert off.dram_bytes == 24 + 16 + 16 + 264
    # c2 as one tile: its first load is the weights alone, 8 B + L = 18 cycles (34 with its
    # 16-byte input tile), and it takes no input slot
    p = problem_for(chain.layers[1], chip, in_dram=False)
    _, t = price(p, chip, tk=8, tc=8, toy=4, tox=4)
    assert (t.first_load, t.input_bytes) == (18, 0)
    _, t_dram = price(problem_for(chain.layers[1], chip), chip, tk=8, tc=8, toy=4, tox=4)
    assert t_dram.first_load == 34


def test_weights_that_fit_are_loaded_once(tmp_path):
    # both layers' weights, 16 B, fit the 64 KiB weight buffer: loaded once before the first
    # frame, and no frame moves a weight
    chain = net(tmp_path, CHAIN)
    where, preload = plan_residency(chain, make_chip())
    assert preload == 16 and not any(x.w_dram for x in where)
    result = simulate(chain, make_chip())
    assert [x.dram_bytes for x in result.layers] == [16, 256]
    assert result.details.weight_preload_bytes == 16 and result.details.resident_maps == 1


def test_a_map_that_does_not_fit_or_has_other_readers_goes_to_dram(tmp_path):
    chain = net(tmp_path, CHAIN)
    # the smallest output buffer, 1/16 KiB double-buffered: 256-bit slots hold the 128-bit
    # map of 1 or 2 frames, not of 3
    small = make_chip(**{"buffers.output.size_kib": 0.0625, "buffers.output.double_buffered":
                         True})
    assert small.output_buffer.tile_bits == 256
    assert plan_residency(chain, small, frames=2)[0][0].out_dram is False  # 256 bits: fits
    assert plan_residency(chain, small, frames=3)[0][0].out_dram is True  # 384 bits: no
    single = make_chip(**{"buffers.output.double_buffered": False})  # no spare half
    assert plan_residency(chain, single)[0][0].out_dram is True
    # c1's map is also the shortcut of the residual add, and the add reads two maps; the
    # add's own map goes on to c3 alone and stays
    where, _ = plan_residency(net(tmp_path, SHORTCUT), make_chip())
    assert [(x.in_dram, x.out_dram) for x in where] == [(True, True), (True, True),
                                                        (True, False), (False, True)]


def test_a_batch_reuses_fully_connected_weights():
    # FC 16 → 2, w1a1, 4 frames, one tile per frame, pixel loop innermost: the 4-byte weight
    # tile is fetched once for the batch; each frame's 2-byte input and 1-byte output move
    # once. Compute (per-fold timing): each frame is one output-stationary fold of T = 2
    # words, T + 2 = 4 cycles.
    chip = make_chip(**{"pe_array.fold_timing": "per_fold"})
    layer = Linear("fc", 16, 2, weights=B1, activations=B1, output=B1)
    one = problem_for(layer, chip)
    four = problem_for(layer, chip, frames=4)
    assert four.macs == 4 * one.macs and four.outputs == 8
    m1, t1 = price(one, chip, tk=2, tc=16, toy=1, tox=1)
    m4, t4 = price(four, chip, tk=2, tc=16, toy=1, tox=1)
    assert m4.tiles == 4 * m1.tiles == 4
    assert (t4.weight_bytes, t4.input_bytes, t4.output_bytes) == (4, 8, 4)
    assert (t1.weight_bytes, t1.input_bytes, t1.output_bytes) == (4, 2, 1)
    assert t4.compute_cycles == 4 * t1.compute_cycles == 4 * (2 + 2)  # per fold: T + 2


def test_per_frame_and_per_batch_figures(tmp_path):
    chain = net(tmp_path, CHAIN)
    chip = make_chip(**{"residency.weights": False})
    one = simulate(chain, chip)
    four = simulate(chain, chip, batch=4)
    assert four.batch == 4 and four.batch_cycles == four.latency_cycles
    assert four.interval_cycles == -(-four.batch_cycles // 4)
    assert four.energy_pj == pytest.approx(four.batch_energy_pj / 4)
    assert four.macs == one.macs and four.batch_dram_bytes == sum(
        x.dram_bytes for x in four.layers)
    # the 4 frames' 16-byte maps (512 bits) still fit a 32 KiB slot; weights move once per
    # layer for the batch: 2 × 8 B + 4 × (16 + 256) B
    assert four.batch_dram_bytes == 16 + 4 * (16 + 256)
    # a frame costs less in a batch (weights shared), and the batch takes longer than a frame
    assert four.dram_bytes < one.dram_bytes and four.latency_cycles > one.latency_cycles
    assert four.frames_per_s > one.frames_per_s


def test_batch_is_checked(capsys):
    from bnnsim.cli import main

    for bad in ("0", "x", "5000"):
        assert main(["simulate", "--network", "sfc", "--batch", bad]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "--batch" in err
    assert main(["simulate", "--network", "sfc", "--batch", "3"]) == 0
    assert "batch             3 frames" in capsys.readouterr().out


POOLED = """name: pooled
input: [8, 4, 4]
quant: w1a1
layers:
  - {name: c1, type: conv, out_channels: 8, kernel: 1}
  - {name: p1, type: maxpool, kernel: 2}
  - {name: c2, type: conv, out_channels: 8, kernel: 1}
"""

NOTHING_ON_CHIP = {"residency.weights": False, "residency.activations": False}


def test_a_fused_pooling_stores_one_value_per_window(tmp_path):
    from simulator.overlay.cost import k_tile_unit
    from simulator.overlay.mapping.candidates import enumerate_candidates
    from simulator.overlay.residency import plan_network

    pooled = net(tmp_path, POOLED)
    plain = make_chip(**NOTHING_ON_CHIP)
    fused = make_chip(**NOTHING_ON_CHIP, **{"ppu.fuse_pool": True})
    steps, _ = plan_network(pooled, fused)
    assert [s.name for s in steps] == ["c1+p1", "c2"]
    # unfused: c1 moves 8 + 16 + 16 B, the pool reads the 16-byte map and writes the 2×2 one
    # (4 B); fused, c1 stores the pooled 4 B itself: 8 + 16 + 4 B, and the pool is gone
    a, b = simulate(pooled, plain), simulate(pooled, fused)
    assert [x.dram_bytes for x in a.layers[:2]] == [40, 20]
    assert [x.name for x in b.layers] == ["c1+p1", "c2"] and b.layers[0].dram_bytes == 28
    # the post-processing joins each of c1's 128 outputs to its window besides thresholding
    # it: 256 operations on 4 lanes; as one tile, post = 64 cycles (32 unfused)
    p = problem_for(pooled.layers[0], fused, pool=pooled.layers[1])
    _, t = price(p, fused, tk=8, tc=8, toy=4, tox=4)
    _, t0 = price(problem_for(pooled.layers[0], plain), plain, tk=8, tc=8, toy=4, tox=4)
    assert (t.ppu_cycles, t0.ppu_cycles, t.output_bytes, t0.output_bytes) == (64, 32, 4, 16)
    # a tile holds whole windows: rows and columns in multiples of 2 (or the whole map)
    c = enumerate_candidates(p, k_tile_unit(p, fused))
    assert all((y % 2 == 0 or y == 4) and (x % 2 == 0 or x == 4)
               for y, x in zip(c.toy.ravel().tolist(), c.tox.ravel().tolist(), strict=True))


def test_a_fused_residual_add_reads_the_shortcut_before_the_store(tmp_path):
    from simulator.overlay.residency import plan_network

    shortcut = net(tmp_path, SHORTCUT)
    fused = make_chip(**NOTHING_ON_CHIP, **{"ppu.fuse_add": True})
    steps, _ = plan_network(shortcut, fused)
    # c1 has two readers (c2 and the add): it stays a step of its own; c2 and the add fuse
    assert [s.name for s in steps] == ["c1", "c2+res", "c3"]
    a = simulate(shortcut, make_chip(**NOTHING_ON_CHIP))
    b = simulate(shortcut, fused)
    # The convs ahead of an add keep their 8-bit pre-activations (Bi-Real): fused, c2's
    # 128-byte map is never stored nor read back by the add: 256 B saved
    assert a.dram_bytes - b.dram_bytes == 2 * 128
    # c2 as one tile: its inputs (16 B) and c1's 8-bit shortcut (128 B) come in; the last
    # store first reads the shortcut (128 + L), post-processes 128 outputs × 2 ops (threshold,
    # add) on 4 lanes (64 cycles) and stores the add's binary map (16 B + L)
    p = problem_for(shortcut.layers[1], fused, add=shortcut.layers[2])
    _, t = price(p, fused, tk=8, tc=8, toy=4, tox=4)
    assert (t.input_bytes, t.output_bytes, t.ppu_cycles) == (16 + 128, 16, 64)
    assert t.last_store == 64 + (128 + 10) + (16 + 10)
