"""Real-to-Binary's gating, end to end: the spec (``w1a1g8``, ``gate: 8``), the workload's
gate layers (hand-derived shapes, MACs and formats), the reference's Gate module, training,
checkpoints, and the one-line refusal to lower it. (The post-processing multiply it adds is
derived by hand in tests/simulator/overlay/test_precision.py.)"""

from __future__ import annotations

import pytest
import torch

from bnnsim.cli import main
from reference.layers import Gate
from reference.models import build_model
from workloads import load_network
from workloads.errors import ConfigError
from workloads.quant import parse_quant


def test_compact_and_mapping_specs_round_trip() -> None:
    q = parse_quant("w1a1g8")
    assert (q.default.gate, q.name) == (8, "w1a1g8")
    assert parse_quant(q.to_dict()) == q
    m = parse_quant({"default": {"weights": {"kind": "binary"},
                                 "activations": {"kind": "binary"}, "gate": 4}})
    assert m.default.gate == 4 and m.default.compact() == "w1a1g4"
    assert parse_quant("w1a2").default.gate == 0 and "gate" not in parse_quant("w1a2").to_dict()


@pytest.mark.parametrize("spec", ["w1a1g2000", {"default": {"weights": {"kind": "binary"},
                                                            "activations": {"kind": "binary"},
                                                            "gate": -1}},
                                  {"default": {"weights": {"kind": "binary"},
                                               "activations": {"kind": "binary"},
                                               "gate": True}}])
def test_bad_gates_are_one_line(spec) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="reduction ratio") as err:
        parse_quant(spec)
    assert "\n" not in str(err.value)


def test_lfc_gate_layers_by_hand() -> None:
    """LFC's body (fc2–fc4) gated with r = 8: each gets an 8-bit FC 1024 → 128 (131,072
    MACs) and one 128 → its outputs; the gated layer reads the map and the gates; the map
    feeding a gate is stored at 8 bits (the gate reads it real-valued), the gates at 16."""
    net = load_network("lfc", "w1a1g8")
    plain = load_network("lfc", "w1a1")
    names = [x.name for x in net]
    assert names == ["fc1", "fc2.gate_fc1", "fc2.gate_fc2", "fc2", "fc3.gate_fc1",
                     "fc3.gate_fc2", "fc3", "fc4.gate_fc1", "fc4.gate_fc2", "fc4"]
    fc1_, g1, g2, fc2 = (net.layer(n) for n in ("fc1", "fc2.gate_fc1", "fc2.gate_fc2", "fc2"))
    assert (g1.in_shape, g1.out_channels, g1.macs) == ((1024, 1, 1), 128, 1024 * 128)
    assert (g2.in_shape, g2.out_channels, g2.macs) == ((128, 1, 1), 1024, 128 * 1024)
    assert (g1.weights.label, g1.activations.label, g2.output.label) == ("8", "8", "16")
    assert net.inputs_of("fc2") == ("fc1", "fc2.gate_fc2")
    assert net.inputs_of("fc2.gate_fc1") == ("fc1",)
    assert (fc2.gate, fc1_.gate, fc1_.output.label) == (8, 0, "8")
    assert plain.layer("fc1").output.label == "1"
    assert net.gate_branches == {f"{n}.gate_fc{i}" for n in ("fc2", "fc3", "fc4")
                                 for i in (1, 2)}
    assert net.macs == plain.macs + 2 * 2 * 131072 + 128 * 10 + 1024 * 128


def test_conv_gates_average_the_map_first() -> None:
    net = load_network("cnv", "w1a1g8")
    pool = net.layer("conv2.gate_pool")
    assert (pool.mode, pool.in_shape, pool.out_shape) == ("global_avg", (64, 30, 30),
                                                          (64, 1, 1))
    assert net.layer("conv2.gate_fc1").out_channels == 8
    assert net.inputs_of("conv2") == ("conv1", "conv2.gate_fc2")


def test_gate_module_by_hand() -> None:
    torch.manual_seed(0)
    g = Gate(4, 3, 2).double()
    x = torch.randn(5, 4, 6, 6, dtype=torch.float64)
    s = x.mean(dim=(2, 3))
    want = torch.sigmoid(g.fc2(torch.relu(g.fc1(s))))
    assert g.fc1.out_features == 2
    assert torch.equal(g(x), want[:, :, None, None])
    assert torch.equal(g(s), want)
    with pytest.raises(ValueError, match="reduction"):
        Gate(4, 3, 0)


def test_gated_layer_multiplies_its_output_channel_by_channel() -> None:
    torch.manual_seed(1)
    net = build_model("lfc", "w1a1g8").eval()  # (no dropout)
    plain = build_model("lfc", "w1a1").eval()
    plain.load_state_dict({k: v for k, v in net.state_dict().items() if ".gate." not in k})
    layer, base = net.fc2, plain.fc2
    x = torch.randn(3, 1024)
    assert torch.allclose(layer(x), base(x) * layer.gate(x))


def test_a_gated_network_trains_checkpoints_and_refuses_to_lower(tmp_path, capsys) -> None:
    from reference.checkpoint import build_from_checkpoint
    from reference.data import synthetic_dataset
    from reference.train import train

    data = (synthetic_dataset(split="train", shape=(1, 28, 28), size=512),
            synthetic_dataset(split="test", shape=(1, 28, 28), size=128))
    result = train("sfc", "w1a1g8", data, 3, batch_size=64, lr=5e-3, seed=0, progress=False,
                   out=tmp_path / "g.pt")
    losses = [h.loss for h in result.history]
    assert losses[-1] < losses[0]
    back = build_from_checkpoint(tmp_path / "g.pt")
    x = torch.rand(4, 1, 28, 28)
    assert torch.equal(back(x), result.model.eval()(x))
    assert main(["lower", "--checkpoint", str(tmp_path / "g.pt"),
                 "--out", str(tmp_path / "g.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert "Real-to-Binary gating" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "g.npz").exists()


def test_a_gated_conv_network_refuses_to_lower_in_one_line(tmp_path, capsys) -> None:
    """Its gate layers include global-average pools the torch model does not have as
    modules: the refusal comes before anything looks for them."""
    from reference.checkpoint import save_checkpoint

    net = build_model("mnist-cnv", "w1a1g4")
    save_checkpoint(net, tmp_path / "g.pt", dataset="mnist", accuracy=None, epochs=0, seed=0)
    for cmd in (["lower", "--checkpoint", str(tmp_path / "g.pt"), "--out",
                 str(tmp_path / "g.npz")],
                ["verify", "--checkpoint", str(tmp_path / "g.pt"), "--dataset", "synthetic"]):
        assert main(cmd) == 2
        err = capsys.readouterr().err.strip()
        assert "Real-to-Binary gating" in err and len(err.splitlines()) == 1


def test_a_gated_fc_layer_averages_the_map_it_reads_per_channel() -> None:
    """mnist-cnv's fc1 reads the 64 × 7 × 7 map flattened: its gate averages each channel
    (64 values, not 3,136) before an FC to 64 // 4 = 16."""
    net = load_network("mnist-cnv", "w1a1g4")
    pool = net.layer("fc1.gate_pool")
    assert (pool.in_shape, pool.out_shape) == ((64, 7, 7), (64, 1, 1))
    assert net.layer("fc1.gate_fc1").macs == 64 * 16
    model = build_model("mnist-cnv", "w1a1g4").eval()
    g = model.fc1.gate
    x = torch.randn(2, 64, 7, 7)
    assert torch.allclose(g(x.flatten(1)), g(x)[:, :, 0, 0])


def test_gates_stay_on_chip() -> None:
    """The gates go from their last FC into the post-processing unit's scale registers: that
    FC writes nothing to DRAM but its weights' reads."""
    from simulator import simulate

    res = simulate(load_network("lfc", "w1a1g8"), "edge")
    fc2 = next(x for x in res.layers if x.name == "fc2.gate_fc2")
    assert fc2.details.dram_bytes_by_stream["outputs"] == 0
