"""Network YAML files: a good file simulates; bad files name file, key and value."""

from __future__ import annotations

import pytest

from simulator import simulate
from workloads import is_checkpoint_path, load_network, network_from_yaml
from workloads.errors import ConfigError

GOOD = """
name: tiny
input: [3, 16, 16]
quant: w1a1
layers:
  - {name: conv1, type: conv, out_channels: 32, kernel: 3, padding: 1, quant: w1a8}
  - {name: pool1, type: maxpool, kernel: 2}
  - {name: conv2, type: conv, out_channels: 32, kernel: 3, padding: 1}
  - {name: res, type: add, inputs: [conv2, pool1]}
  - {name: gap, type: global_avgpool}
  - {name: fc, type: fc, out_features: 10}
"""


def test_good_file(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(GOOD)
    net = network_from_yaml(path)
    assert [x.name for x in net] == ["conv1", "pool1", "conv2", "res", "gap", "fc"]
    assert net.macs == 16 * 16 * 32 * 27 + 8 * 8 * 32 * 288 + 32 * 10
    assert net.layer("conv1").activations.label == "8"
    assert net.inputs_of("res") == ("conv2", "pool1")
    result = simulate(net, "edge", engine="event")
    assert result.latency_cycles > 0 and len(result.layers) == 6
    assert load_network(str(path), "w2a2").layer("conv2").weights.label == "2"


@pytest.mark.parametrize(("edit", "message"), [
    (("type: conv, out_channels: 32, kernel: 3, padding: 1, quant", "type: convolution, x"),
     "unknown layer type"),
    (("out_channels: 32, kernel: 3, padding: 1}", "out_channels: 0, kernel: 3, padding: 1}"),
     "layers.conv2.out_channels"),
    (("inputs: [conv2, pool1]", "inputs: [conv2, nope]"), "inputs must name earlier layers"),
    (("input: [3, 16, 16]", "input: [3, 16]"), "key 'input'"),
    (("quant: w1a8", "quant: w1a9x"), "not a quantisation spec"),
    (("{name: gap, type: global_avgpool}", "{name: gap, type: global_avgpool, kernel: 3}"),
     "unknown key"),
    (("name: pool1", "name: conv1"), "duplicate layer name"),
])
def test_bad_files(tmp_path, edit, message):
    path = tmp_path / "bad.yaml"
    path.write_text(GOOD.replace(*edit, 1))
    with pytest.raises(ConfigError, match=message) as info:
        network_from_yaml(path)
    assert str(path) in str(info.value)


def test_checkpoints_are_lowered_by_the_reference(tmp_path):
    assert is_checkpoint_path("a/b.pt") and not is_checkpoint_path("net.yaml")
    with pytest.raises(ValueError, match=r"reference\.lowering"):  # API misuse, not bad input
        load_network(str(tmp_path / "x.pt"))
