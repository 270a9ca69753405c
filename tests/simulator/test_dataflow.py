"""The dataflow family: FINN's folding formula by hand on CNV and LFC, the pipeline's steady
state and FIFO effects in the SimPy model, FINN folding files in and out, automatic folding
against FINN's SetFolding, and one-line errors for foldings that do not fit."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml

from bnnsim.cli import main
from simulator import apply_overrides, load_chip, simulate
from simulator.dataflow import DataflowChip, DataflowFamily
from simulator.dataflow.folding import auto_fold, export_finn, load_folding, resolve, set_folding
from simulator.testing.family import FamilyContract
from workloads import get_network
from workloads.errors import InfeasibleError

#: FINN's CNV-W1A1 folding from its end-to-end test: (PE, SIMD) of its nine matrix layers.
FINN_CNV = [(16, 3), (32, 32), (16, 32), (16, 32), (4, 32), (1, 32), (1, 4), (1, 8), (5, 1)]


def _big(**extra: Any) -> DataflowChip:
    """pynq-z1 with room for any folding (the formulas, not the device, under test)."""
    chip = apply_overrides(load_chip("pynq-z1"), {"device.luts": 10**7, "device.bram18": 10**5,
                                                  **extra})
    assert isinstance(chip, DataflowChip)
    return chip


def _folded(chip: DataflowChip, pairs: list[tuple[int, int]], **extra: Any) -> DataflowChip:
    layers = {f"#{i}": {"pe": pe, "simd": simd, **extra} for i, (pe, simd) in enumerate(pairs)}
    out = apply_overrides(chip, {f"folding.layers.{k}.{f}": v for k, e in layers.items()
                                 for f, v in e.items()})
    assert isinstance(out, DataflowChip)
    return out


class TestDataflowFamilyContract(FamilyContract):
    @pytest.fixture
    def family(self) -> DataflowFamily:
        return DataflowFamily()

    @pytest.fixture
    def chip_data(self) -> dict[str, Any]:
        from importlib.resources import files

        return yaml.safe_load((files("simulator.dataflow") / "chips" / "pynq-z1.yaml")
                              .read_text())

    @pytest.fixture
    def infeasible_overrides(self) -> list[str]:
        return ["device.luts=100"]


# ------------------------------------------------------------------------- the formula
def test_cnv_per_layer_cycles_follow_finns_formula() -> None:
    """(MH/PE)·(MW/SIMD)·V for each of CNV's matrix layers under FINN's own folding: conv1
    64 × 27 over 30² pixels at (16, 3): 4 · 9 · 900 = 32,400; conv2 64 × 576 over 28² at
    (32, 32): 2 · 18 · 784 = 28,224; … fc3 10 × 512 at (5, 1): 2 · 512 = 1,024."""
    net = get_network("cnv")
    res = simulate(net, _folded(_big(), FINN_CNV))
    by = {x.name: x.details for x in res.layers}
    shapes = {"conv1": (64, 27, 900), "conv2": (64, 576, 784), "conv3": (128, 576, 144),
              "conv4": (128, 1152, 100), "conv5": (256, 1152, 9), "conv6": (256, 2304, 1),
              "fc1": (512, 256, 1), "fc2": (512, 512, 1), "fc3": (10, 512, 1)}
    for (name, (mh, mw, v)), (pe, simd) in zip(shapes.items(), FINN_CNV, strict=True):
        d = by[name]
        assert (d.mh, d.mw, d.vectors, d.pe, d.simd) == (mh, mw, v, pe, simd)
        assert d.exp_cycles == (mh // pe) * (mw // simd) * v, name
        assert d.frame_cycles == max(d.exp_cycles, d.swg_cycles)
    assert by["conv1"].exp_cycles == 32_400 and by["conv2"].exp_cycles == 28_224
    # conv2's window generator (64 channels at SIMD 32, 30-pixel rows, 3×3, stride 1):
    # 30 · 3 · 2 + 28 · max(28 · 9 · 2, 30 · 2) = 180 + 14,112 = 14,292 cycles
    assert by["conv2"].swg_cycles == 14_292
    # FINN's throughput estimate: the clock over the slowest stage
    slowest = max(d.frame_cycles for d in by.values())
    assert res.interval_cycles == slowest
    assert res.details.latency_sum_cycles >= res.latency_cycles


def test_lfc_per_layer_cycles_follow_finns_formula() -> None:
    """LFC's four FC layers (1024 × 784, 1024 × 1024, 1024 × 1024, 10 × 1024) folded (32, 49),
    (64, 32), (32, 64), (5, 16): 32 · 16, 16 · 32, 32 · 16 and 2 · 64 cycles a frame."""
    pairs = [(32, 49), (64, 32), (32, 64), (5, 16)]
    res = simulate(get_network("lfc"), _folded(_big(), pairs))
    assert [x.details.exp_cycles for x in res.layers] == [512, 512, 512, 128]
    assert [x.details.swg_cycles for x in res.layers] == [0, 0, 0, 0]


# ------------------------------------------------------------------------ the pipeline
def test_a_batch_reaches_the_slowest_stages_rate() -> None:
    net = get_network("cnv")
    chip = _folded(_big(), FINN_CNV)
    one = simulate(net, chip, engine="event")
    many = simulate(net, chip, engine="event", batch=16)
    slowest = max(x.details.frame_cycles for x in many.layers)
    assert many.interval_cycles == slowest
    assert many.details.run_cycles == many.latency_cycles + 15 * slowest
    assert one.latency_cycles == many.latency_cycles
    # the closed form's latency is a lower bound of the event model's, FINN's sum an upper
    ana = simulate(net, chip, engine="analytical", batch=16)
    assert ana.interval_cycles == many.interval_cycles
    assert ana.latency_cycles <= many.latency_cycles <= many.details.latency_sum_cycles


def _lfc(pairs: list[tuple[int, int]], batch: int, **depths: int) -> Any:
    """LFC folded by ``pairs``, event engine, with the given input FIFO depths per layer."""
    chip = _folded(_big(), pairs)
    chip = apply_overrides(chip, {f"folding.layers.{k}.fifo_depth": v for k, v in depths.items()})
    return simulate(get_network("lfc"), chip, engine="event", batch=batch)


def _chain(tmp_path, layers: int = 3) -> Any:
    """``layers`` identical 3×3 convolutions (8 → 8 channels on 16 × 16) and an FC: with one
    folding, every convolution's stage takes the same cycles — a balanced pipeline."""
    from workloads import load_network

    path = tmp_path / "chain.yaml"
    path.write_text(yaml.safe_dump({"name": "chain", "input": [8, 16, 16], "quant": "w1a1",
                                    "layers": [
        *({"name": f"conv{i}", "type": "conv", "out_channels": 8, "kernel": 3, "padding": 1}
          for i in range(layers)),
        {"name": "fc", "type": "fc", "out_features": 10}]}))
    return load_network(str(path))


def test_fifo_depth_changes_latency_not_throughput_when_balanced(tmp_path) -> None:
    """Three identical convolutions folded alike (8 × 72 · 256 / (2 · 8) = 9,216 cycles
    each): one row or sixteen between them, the same rate — the slowest stage's."""
    net = _chain(tmp_path)
    base = _big(**{"folding.pe": 2, "folding.simd": 8})
    convs = [f"conv{i}" for i in range(3)]
    runs = {d: simulate(net, apply_overrides(base, {f"folding.layers.{c}.fifo_depth": d
                                                    for c in convs}),
                        engine="event", batch=8) for d in (1, 16)}
    stage = max(x.details.frame_cycles for x in runs[16].layers)
    assert stage == 9216
    assert runs[1].interval_cycles == runs[16].interval_cycles == stage
    assert runs[1].latency_cycles >= runs[16].latency_cycles
    # CNV folded for 1,000 frames/s is near balance, not at it: one row between its
    # convolutions already costs some rate (back-pressure the closed form cannot see)
    cnv = get_network("cnv")
    chip = apply_overrides(_big(), {"folding.target_fps": 1000})
    shallow = simulate(cnv, apply_overrides(chip, {f"folding.layers.conv{i}.fifo_depth": 1
                                                   for i in range(1, 7)}),
                       engine="event", batch=8)
    assert shallow.interval_cycles > simulate(cnv, chip, engine="event", batch=8).interval_cycles


def test_unbalanced_stages_show_stalls_and_a_deep_fifo_absorbs_them() -> None:
    """A fast producer (fc1 at PE 1,024: one neuron fold, its vector one row a frame, 16
    cycles) ahead of a slow consumer (fc2, 8,192): with one row between them fc1 is blocked,
    waiting for room, for most of the run; with a deep FIFO it runs ahead — several frames
    wait in the FIFO — and is never blocked. The rate is the slow stage's either way."""
    pairs = [(1024, 49), (8, 16), (32, 64), (5, 16)]
    shallow, deep = _lfc(pairs, 8, fc2=1), _lfc(pairs, 8, fc2=256)
    fc1_shallow = next(x for x in shallow.layers if x.name == "fc1").details
    fc1_deep = next(x for x in deep.layers if x.name == "fc1").details
    fc2_deep = next(x for x in deep.layers if x.name == "fc2").details
    assert fc2_deep.frame_cycles == 8 * 64 * 16
    assert shallow.interval_cycles == deep.interval_cycles == fc2_deep.frame_cycles
    assert fc1_shallow.blocked_cycles > 0 and fc1_deep.blocked_cycles == 0
    assert fc2_deep.fifo_peak > 1 and next(
        x for x in shallow.layers if x.name == "fc2").details.fifo_peak == 1


def test_fully_connected_layers_overlap_and_the_closed_form_is_a_lower_bound() -> None:
    """LFC folded (32, 49), (64, 32), (32, 64), (5, 16): each FC layer streams its output in
    neuron-fold rows, so the next starts before it ends — the latency is below FINN's
    critical path — and the closed form's latency never exceeds the event model's."""
    pairs = [(32, 49), (64, 32), (32, 64), (5, 16)]
    chip = _folded(_big(), pairs)
    for name in ("lfc", "sfc", "cnv", "mnist-cnv", "bnn-cifar10"):
        net = get_network(name)
        for c in (chip if name == "lfc" else _big(), _big(**{"folding.pe": 4, "folding.simd": 8})):
            ana = simulate(net, c)
            ev = simulate(net, c, engine="event", batch=4)
            assert ana.latency_cycles <= ev.latency_cycles, name
            assert ev.interval_cycles >= max(x.details.frame_cycles for x in ev.layers), name
            assert ev.latency_cycles <= ev.details.latency_sum_cycles, name
    lfc = simulate(get_network("lfc"), chip, engine="event")
    assert lfc.latency_cycles < lfc.details.latency_sum_cycles


def test_a_residual_add_with_shallow_fifos_is_a_one_line_infeasibility(tmp_path) -> None:
    """A shortcut around two 3×3 convolutions: the add's first row needs the second conv's
    first row, which needs three rows of the block's input — so the shortcut's FIFO must
    hold three rows while the add waits. One row stalls the pipeline for good (a one-line
    error naming the add); the default (the whole map) runs; so do resnet18's adds."""
    from workloads import load_network

    path = tmp_path / "res.yaml"
    path.write_text(yaml.safe_dump({"name": "res", "input": [8, 8, 8], "quant": "w1a1",
                                    "layers": [
        {"name": "conv0", "type": "conv", "out_channels": 8, "kernel": 3, "padding": 1},
        {"name": "conv1", "type": "conv", "out_channels": 8, "kernel": 3, "padding": 1},
        {"name": "conv2", "type": "conv", "out_channels": 8, "kernel": 3, "padding": 1},
        {"name": "res", "type": "add", "inputs": ["conv2", "conv0"]},
        {"name": "fc", "type": "fc", "out_features": 10}]}))
    net = load_network(str(path))
    shallow = apply_overrides(_big(), {"folding.layers.res.fifo_depth": 1})
    with pytest.raises(InfeasibleError) as err:
        simulate(net, shallow, engine="event")
    assert "'res'" in str(err.value) and "\n" not in str(err.value)
    assert err.value.resource == "folding.layers.res.fifo_depth"
    ok = apply_overrides(_big(), {"folding.layers.res.fifo_depth": 3})
    assert simulate(net, ok, engine="event").latency_cycles > 0
    simulate(net, _big(), engine="event")  # the default: the add's inputs hold the whole map
    big = _big(**{"folding.pe": 64, "folding.simd": 64, "device.luts": 10**9})
    assert simulate(get_network("resnet18"), big, engine="event").frames_per_s > 0


# ------------------------------------------------------------------------ folding files
def test_finn_folding_files_read_and_round_trip(tmp_path) -> None:
    net = get_network("cnv")
    finn = {"Defaults": {"ram_style": ["block", ["all"]]},
            **{f"MVAU_hls_{i}": {"PE": pe, "SIMD": simd, "ram_style": "block",
                                 "mem_mode": "internal_decoupled"}
               for i, (pe, simd) in enumerate(FINN_CNV)},
            "ConvolutionInputGenerator_0": {"SIMD": 3},
            "StreamingFIFO_rtl_3": {"depth": 32}}
    path = tmp_path / "folding.json"
    path.write_text(json.dumps(finn))
    family = DataflowFamily()
    chip = family.with_folding(_big(), str(path))
    got = resolve(net, chip)
    assert [got[x.name][:2] for x in net.mac_layers] == FINN_CNV
    exported = export_finn(net, got)
    assert exported["MVAU_hls_1"] == {"PE": 32, "SIMD": 32, "ram_style": "block"}
    assert exported["StreamingMaxPool_hls_0"] == {"PE": 64}
    again = tmp_path / "again.json"
    again.write_text(json.dumps(exported))
    assert resolve(net, family.with_folding(_big(), str(again))) == got
    assert dict(load_folding(again))["MVAU_hls_8"].pe == 5


@pytest.mark.parametrize(("entry", "words"), [
    ({"MVAU_hls_1": {"PE": 5, "SIMD": 32}}, "pe 5 does not divide layer 'conv2''s 64; valid: "
                                            "1, 2, 4, 8, 16, 32, 64"),
    ({"MVAU_hls_0": {"PE": 16, "SIMD": 4}}, "simd 4 does not divide"),
    ({"MVAU_hls_9": {"PE": 1, "SIMD": 1}}, "has no layer 'MVAU_hls_9'"),
    ({"conv9": {"PE": 1}}, "has no layer 'conv9'"),
    ({"StreamingMaxPool_hls_0": {"PE": 3}}, "pe 3 does not divide layer 'pool1''s 64 "
                                             "channels"),
    ({"pool1": {"SIMD": 2}}, "takes a pe (channels a cycle), not a simd"),
    ({"conv1": {"PE": 1, "inFIFODepths": ["a"]}}, "a list of positive integer depths"),
    ({"conv1": {"Banana": 1}}, "unknown setting"),
    ({"conv1": 3}, "expected a mapping"),
])
def test_bad_foldings_are_one_line(tmp_path, capsys, entry, words) -> None:
    path = tmp_path / "f.json"
    path.write_text(json.dumps(entry))
    code = main(["simulate", "--network", "cnv", "--chip", "pynq-z1", "--folding", str(path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and words in err and len(err.splitlines()) == 1, err


def test_errors_name_the_folding_file_and_entries_merge(tmp_path, capsys) -> None:
    path = tmp_path / "lfc_fold.json"
    path.write_text(json.dumps({"MVAU_hls_0": {"PE": 3}}))
    assert main(["simulate", "--network", "lfc", "--chip", "pynq-z1", "--folding",
                 str(path)]) == 2
    assert "lfc_fold.json" in capsys.readouterr().err
    # the chip names conv1's FIFO, --set its PE by index, the file its SIMD by FINN's name:
    # one layer, merged (a later source wins key by key)
    path.write_text(json.dumps({"MVAU_hls_0": {"SIMD": 9, "PE": 4}}))
    chip = apply_overrides(_big(), {"folding.layers.conv1.fifo_depth": 5,
                                    "folding.layers.#0.pe": 2})
    chip = DataflowFamily().with_folding(chip, str(path))
    assert resolve(get_network("cnv"), chip)["conv1"][:3] == (4, 9, 5)
    path.write_text('{"MVAU_hls_0": {"PE": 2}, "MVAU_hls_0": {"PE": 4}}')
    assert main(["simulate", "--network", "cnv", "--chip", "pynq-z1", "--folding",
                 str(path)]) == 2
    assert "given twice" in capsys.readouterr().err


def test_a_layer_named_like_a_pipeline_stage_runs(tmp_path) -> None:
    from workloads import load_network

    path = tmp_path / "n.yaml"
    path.write_text(yaml.safe_dump({"name": "n", "input": [1, 8, 8], "quant": "w1a1",
                                    "layers": [{"name": "output", "type": "conv",
                                                "out_channels": 4, "kernel": 3},
                                               {"name": "fc", "type": "fc",
                                                "out_features": 10}]}))
    net = load_network(str(path))
    for engine in ("analytical", "event"):
        assert simulate(net, _big(), engine=engine).latency_cycles > 0


def test_depthwise_window_generator_follows_the_units_pe(tmp_path) -> None:
    """A depthwise 3×3 over 64 channels at PE 64: its window generator feeds 64 channels a
    cycle (FINN sets its SIMD to the VVAU's PE), so it is not the stage's bottleneck."""
    from workloads import load_network

    path = tmp_path / "dw.yaml"
    path.write_text(yaml.safe_dump({"name": "dw", "input": [64, 16, 16], "quant": "w1a1",
                                    "layers": [{"name": "dw", "type": "conv",
                                                "out_channels": 64, "kernel": 3,
                                                "padding": 1, "groups": 64},
                                               {"name": "fc", "type": "fc",
                                                "out_features": 10}]}))
    chip = apply_overrides(_big(), {"folding.layers.dw.pe": 64, "folding.layers.dw.simd": 1})
    d = simulate(load_network(str(path)), chip).layers[0].details
    assert d.exp_cycles == (64 // 64) * (9 // 1) * 256
    # 18 · 3 · 1 + 16 · max(16 · 9 · 1, 18 · 1) = 54 + 2,304
    assert d.swg_cycles == 2_358 and d.frame_cycles == 2_358


def test_folding_flag_on_an_overlay_chip_is_one_line(tmp_path, capsys) -> None:
    path = tmp_path / "f.json"
    path.write_text("{}")
    assert main(["simulate", "--network", "lfc", "--folding", str(path)]) == 2
    assert "applies to dataflow chips" in capsys.readouterr().err


# ------------------------------------------------------------------------ automatic folding
@pytest.mark.parametrize(("network", "fps"), [
    ("lfc", 1e3), ("lfc", 1e4), ("lfc", 1e5),
    ("cnv", 100), ("cnv", 1e3), ("cnv", 3e3),
    ("bnn-cifar10", 10), ("bnn-cifar10", 100), ("bnn-cifar10", 1e3),
])
def test_auto_folding_meets_the_target_balanced_and_no_dearer_than_setfolding(network, fps):
    """Each layer meets the target with the cheapest folding that does (so none is faster
    than it needs to be unless that costs nothing), and the whole costs no more LUTs +
    memories (as fractions of the device) than FINN's SetFolding for the same target."""
    from bnnsim.fold import fold_report
    from simulator.dataflow.folding import _cost, _options

    net, chip = get_network(network), _big()
    target = int(chip.clock_mhz * 1e6 // fps)
    ours = auto_fold(net, chip, target)
    last = net.mac_layers[-1].name
    for layer in net.mac_layers:
        c = ours[layer.name]
        assert c.cycles <= target, layer.name
        # none is faster than it must be unless being faster costs nothing (a wider weight
        # memory can take fewer BRAMs): no folding that meets the target is cheaper
        feasible = [o for o in _options(layer, chip, chip.ram_style, layer.name == last)
                    if o.cycles <= target]
        assert all(_cost(c.resources, chip) <= _cost(o.resources, chip) for o in feasible)
        if c.cycles * 2 < target:
            slower = [o for o in feasible if o.cycles * 2 >= target]
            assert all(_cost(o.resources, chip) >= _cost(c.resources, chip) for o in slower)
    report = fold_report(net, chip, target_fps=fps)
    device = load_chip("pynq-z1")

    def cost(r: dict[str, Any]) -> float:
        return r["luts"] / device.luts + r["bram18"] / device.bram18

    assert report["bnnsim"]["meets_target"]
    assert cost(report["bnnsim"]) <= cost(report["setfolding"]) + 1e-9
    assert set_folding(net, chip, target)  # the baseline runs on every network


def test_fold_command_writes_a_finn_folding_that_simulate_reads(tmp_path, capsys) -> None:
    out = tmp_path / "cnv.json"
    assert main(["fold", "--network", "cnv", "--target-fps", "1000", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "SetFolding" in text and "frames/s" in text
    assert main(["simulate", "--network", "cnv", "--chip", "pynq-z1", "--folding", str(out),
                 "--json", "-"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["total"]["frames_per_s"] >= 1000
    assert main(["fold", "--network", "cnv", "--budget-luts", "30000", "--json", "-"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["bnnsim"]["luts"] <= 30000
    assert main(["fold", "--network", "cnv", "--chip", "edge", "--target-fps", "10"]) == 2
    assert "dataflow chip" in capsys.readouterr().err
    for bad in (["--budget-luts", "100"], ["--target-fps", "0"], ["--target-fps", "x"],
                ["--target-fps", "10", "--budget-luts", "100"]):
        assert main(["fold", "--network", "cnv", *bad]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "error" in err, bad


def test_target_fps_setting_folds_on_its_own() -> None:
    res = simulate(get_network("cnv"), apply_overrides(load_chip("pynq-z1"),
                                                       {"folding.target_fps": 1000}))
    assert res.frames_per_s >= 1000
    assert res.details.luts <= 53200


def test_chip_dict_round_trips_with_layer_foldings() -> None:
    chip = _folded(_big(), FINN_CNV[:2])
    family = DataflowFamily()
    again = family.spec_from_dict(copy.deepcopy(chip.to_dict()), file="x.yaml")
    assert again.layers == chip.layers and again.digest() == chip.digest()
