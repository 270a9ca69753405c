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
    # c1's map is also the shortcut of the residual add, and the add reads two maps
    where, _ = plan_residency(net(tmp_path, SHORTCUT), make_chip())
    assert [(x.in_dram, x.out_dram) for x in where] == [(True, True), (True, True),
                                                        (True, True)]


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
