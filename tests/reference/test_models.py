"""The zoo: layer names, MACs and weight counts equal the published figures.

MACs are computed here from the module shapes (kernel, groups, channels) and the output sizes
of one forward pass, independently of ``summary``; the expected totals are the figures in
FIGURES.md / the issue (FINN SFC/LFC/CNV, Courbariaux's BNN, AlexNet, ResNet-18).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from reference.layers import QConv2d, QLinear
from reference.models import build_model, mac_layers, summary
from reference.quantizers import REGISTRY
from workloads.errors import ConfigError
from workloads.quant import (
    ACTIVATION_QUANTIZERS,
    WEIGHT_QUANTIZERS,
    NetworkQuantDefaults,
    parse_quant,
)
from workloads.zoo import ZOO

_CNV = ["conv1", "conv2", "conv3", "conv4", "conv5", "conv6", "fc1", "fc2", "fc3"]
_VGG = ["conv1", "conv2", "conv3", "conv4", "conv5", "conv6"]
_RESNET = ["conv1"] + [
    f"layer{li}.{b}.{c}"
    for li in range(1, 5) for b in range(2)
    for c in (("downsample.conv", "conv1", "conv2") if li > 1 and b == 0 else ("conv1", "conv2"))
] + ["fc"]

#: name → (MAC layer names, MACs per image, weights). Weight derivations:
#: sfc 784·256 + 2·256² + 256·10; lfc 784·1024 + 2·1024² + 1024·10 (an MLP has MACs = weights);
#: cnv 27·64 + 576·64 + 576·128 + 1152·128 + 1152·256 + 2304·256 + 256·512 + 512² + 5120;
#: bnn-cifar10 the 14,022,016 weight bits of Courbariaux's all-binary net;
#: vgg-small its six convs (4,574,592) + 8192·10;
#: alexnet 34,848 + 307,200 + 884,736 + 663,552 + 442,368 + 9216·4096 + 4096² + 4096·1000;
#: resnet18 conv1 9408 + 3×3 convs 10,985,472 + 1×1 downsamples 172,032 + fc 512,000.
EXPECTED: dict[str, tuple[list[str], int, int]] = {
    "sfc": (["fc1", "fc2", "fc3", "fc4"], 334_336, 334_336),
    "lfc": (["fc1", "fc2", "fc3", "fc4"], 2_910_208, 2_910_208),
    "mnist-cnv": (["conv1", "conv2", "conv3", "conv4", "fc1", "fc2"], 19_094_528, 870_176),
    "cnv": (_CNV, 59_461_376, 1_542_848),
    "bnn-cifar10": ([*_VGG, "fc1", "fc2", "fc3"], 616_966_144, 14_022_016),
    "vgg-small": ([*_VGG, "fc"], 607_600_640, 4_656_512),
    "alexnet": (["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"],
                724_406_816, 60_954_656),
    "resnet18": (_RESNET, 1_814_073_344, 11_678_912),
}


def _macs_from_shapes(model: nn.Module) -> int:
    """Σ over conv layers of H_out·W_out·C_out·(C_in/groups)·k_h·k_w, plus in·out per FC."""
    out_hw: dict[str, tuple[int, int]] = {}
    hooks = [m.register_forward_hook(lambda _m, _i, o, n=n: out_hw.__setitem__(n, o.shape[2:]))
             for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, *model.input_shape))
    for h in hooks:
        h.remove()
    total = 0
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            kh, kw = m.kernel_size
            h, w = out_hw[name]
            total += h * w * m.out_channels * (m.in_channels // m.groups) * kh * kw
        elif isinstance(m, nn.Linear):
            total += m.in_features * m.out_features
    return total


def test_zoo_is_complete() -> None:
    assert set(ZOO) == set(EXPECTED)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_layer_names_macs_and_weights(name: str) -> None:
    names, macs, weights = EXPECTED[name]
    model = build_model(name)
    assert list(mac_layers(model)) == names
    assert _macs_from_shapes(model) == macs
    assert sum(layer.weight.numel() for layer in mac_layers(model).values()) == weights
    keys = model.state_dict().keys()
    for layer in names:
        assert f"{layer}.weight" in keys
        assert f"{layer}_bn.running_mean" in keys  # each MAC layer is followed by its BN
    info = summary(model)
    assert info.total_macs == macs and info.total_params == weights
    assert list(info.table["layer"]) == names


def test_bnn_cifar10_weight_bits_match_courbariaux() -> None:
    # All 14,022,016 weights binary (first layer too: 8-bit pixels, binary weights).
    info = summary(build_model("bnn-cifar10"))
    assert info.total_weight_bits == 14_022_016
    assert info.packed_weight_bytes == 14_022_016 // 8
    first = info.table.iloc[0]
    assert (first["weights"], first["activations"]) == ("binary", "int8")


def test_paper_edge_defaults() -> None:
    table = summary(build_model("vgg-small")).table.set_index("layer")
    assert table.loc["conv1", "weights"] == "int8" and table.loc["fc", "weights"] == "int8"
    assert table.loc["conv2", "weights"] == "binary"
    assert table.loc["conv2", "activations"] == "int2"  # HWGQ: binary weights, 2-bit acts
    res = summary(build_model("resnet18")).table.set_index("layer")
    assert res.loc["layer3.0.downsample.conv", "weights"] == "int8"  # Bi-Real: real-valued
    assert res.loc["layer3.0.conv1", "weights"] == "binary"


def test_bireal_structure() -> None:
    model = build_model("resnet18")
    block = model.get_submodule("layer2.0")
    assert isinstance(block.downsample.pool, nn.AvgPool2d)
    assert block.downsample.conv.kernel_size == (1, 1)
    assert not hasattr(model.get_submodule("layer1.0"), "downsample")
    assert not hasattr(model.get_submodule("layer2.1"), "downsample")
    assert isinstance(model.get_submodule("pool1"), nn.MaxPool2d)


@pytest.mark.parametrize("name", ["sfc", "cnv", "vgg-small"])
def test_forward_shapes_and_quantisers_in_place(name: str) -> None:
    model = build_model(name, "w1a2")
    x = torch.rand(2, *model.input_shape)
    assert model(x).shape == (2, 10)
    kinds = {(layer.weight_kind, layer.input_kind) for layer in mac_layers(model).values()}
    assert ("binary", "int") in kinds


def test_quant_accepts_string_config_and_yaml(tmp_path) -> None:
    spec = tmp_path / "q.yaml"
    spec.write_text("default: w1a1\nfirst: w1a1\nlayers:\n  fc4: w32a32\n")
    model = build_model("lfc", spec)
    layers = mac_layers(model)
    assert layers["fc1"].input_kind == "binary"
    assert model.input_transform == "centered"  # binary first input: pixels mapped to ±1
    assert layers["fc4"].weight_kind == "float"
    assert build_model("lfc").input_transform == "unit"
    assert build_model("lfc", parse_quant("w2a2")).quant.name == "w2a2"


def test_overrides_and_errors() -> None:
    model = build_model("cnv", num_classes=7, in_channels=1)
    assert model.input_shape == (1, 32, 32) and model.num_classes == 7
    assert model.eval()(torch.rand(1, 1, 32, 32)).shape == (1, 7)
    with pytest.raises(ConfigError, match="zoo networks: sfc, lfc"):
        build_model("vgg16")
    with pytest.raises(ConfigError, match="no layer of that name"):
        build_model("lfc", {"default": "w1a1", "layers": {"conv9": "w2a2"}})


def test_mac_layers_are_quantised_layers() -> None:
    for layer in mac_layers(build_model("alexnet")).values():
        assert isinstance(layer, QConv2d | QLinear)


def test_summary_renders() -> None:
    info = summary(build_model("lfc", "w1a1"))
    text = info.to_string()
    assert "fc1" in text and "2,910,208 MACs" in text
    data = info.to_dict()
    assert data["totals"]["weight_bits"] == 2_910_208
    assert data["layers"][0]["output_shape"] == "1024"


def _operand(kind: str, quantizer: str) -> dict[str, object]:
    extra: dict[str, object] = {"int": {"bits": 2}, "pow2": {"bits": 3},
                               "bases": {"bases": 2, "bits": 2}}.get(kind, {})
    return {"kind": kind, "quantizer": quantizer, **extra}


@pytest.mark.parametrize(
    ("role", "kind", "quantizer"),
    [("weights", k, q) for k, qs in WEIGHT_QUANTIZERS.items() for q in qs]
    + [("activations", k, q) for k, qs in ACTIVATION_QUANTIZERS.items() for q in qs],
)
def test_every_registered_quantiser_builds_and_backpropagates(role: str, kind: str,
                                                              quantizer: str) -> None:
    other = "activations" if role == "weights" else "weights"
    spec = {"default": {role: _operand(kind, quantizer), other: _operand("binary", "sign")}}
    model = build_model("cnv", spec)
    model(torch.rand(2, 3, 32, 32)).sum().backward()
    layer = mac_layers(model)["conv3"]
    assert (layer.weight_kind if role == "weights" else layer.input_kind) == kind
    assert layer.weight.grad is not None
    if quantizer == "xnor_act":
        assert layer.input_quantizer.kernel_size == 3  # the conv's window, for XNOR-Net's K


def test_linear_input_quantisers_get_a_relu() -> None:
    # Full precision: without a ReLU the MLP would be one linear map (≈ 92 % on MNIST).
    layers = mac_layers(build_model("lfc", "w32a32"))
    assert [layer.input_relu for layer in layers.values()] == [False, True, True, True]
    assert not any(layer.input_relu for layer in mac_layers(build_model("lfc", "w1a2")).values())
    x = -torch.rand(3, 1024)  # all negative: the ReLU zeroes them before the identity quantiser
    assert torch.equal(layers["fc2"](x), torch.zeros(3, 1024))


def test_resnet_edges_keep_the_residual_stream_signed() -> None:
    """Bi-Real's downsampling convs and fc read the signed stream: signed 8-bit, no ReLU."""
    model = build_model("resnet18")
    edges = ["layer2.0.downsample.conv", "layer3.0.downsample.conv",
             "layer4.0.downsample.conv", "fc"]
    layers = mac_layers(model)
    for name in edges:
        layer = layers[name]
        assert layer.quant is not None and layer.quant.activations.quantizer == "uniform"
        assert (layer.input_kind, layer.input_bits) == ("int", 8)
        assert not layer.input_relu
    # A negative stream value survives quantisation (DoReFa would clip it to 0).
    x = -torch.rand(2, 512)
    q = layers["fc"].input_quantizer(x)
    assert torch.all(q <= 0) and float(q.min()) < -0.5
    assert torch.allclose(q, x, atol=float(x.abs().max()) / 254 + 1e-7)
    # ... also when the body is full precision (a linear input quantiser elsewhere gets a ReLU)
    fp = mac_layers(build_model("resnet18", "w32a32"))
    assert not any(fp[name].input_relu for name in edges)
    assert fp["layer1.0.conv1"].input_relu


def test_default_quant_names_the_papers_quantisers() -> None:
    expected = {  # network: (weight quantiser, activation quantiser, compact)
        "alexnet": ("xnor_weight", "xnor_act", "w1a1"),   # XNOR-Net
        "resnet18": ("sign", "approx_sign", "w1a1"),      # Bi-Real
        "vgg-small": ("xnor_weight", "hwgq", "w1a2"),     # HWGQ
        "lfc": ("sign", "sign", "w1a1"),                  # FINN / BNN
    }
    for name, (wq, aq, compact) in expected.items():
        config = ZOO[name].quant.config()
        assert (config.default.weights.quantizer, config.default.activations.quantizer,
                config.name) == (wq, aq, compact)
        model = build_model(name)
        body = mac_layers(model)[list(mac_layers(model))[1]]
        assert type(body.weight_quantizer) is REGISTRY[wq]
        assert type(body.input_quantizer) is REGISTRY[aq]
    # A compact --quant still means the generic quantisers.
    assert mac_layers(build_model("alexnet", "w1a1"))["conv2"].quant == parse_quant("w1a1").default


def test_network_defaults_take_compact_specs_or_mappings() -> None:
    spec = {"weights": {"kind": "binary", "quantizer": "xnor_weight"},
            "activations": {"kind": "int", "bits": 4, "quantizer": "uniform"}}
    d = NetworkQuantDefaults(spec, first="w*a8", last=spec, layers=(("conv2", "w2a2"),))
    body = d.body_quant()
    assert body.activations.quantizer == "uniform" and body.compact() == "w1a4" == d.name
    assert ZOO["alexnet"].quant.name == "w1a1"
    with pytest.raises(ConfigError, match=r"activations\.quantizer"):
        NetworkQuantDefaults({**spec, "activations": {"kind": "int", "bits": 2,
                                                      "quantizer": "xnor_act"}})
    with pytest.raises(ConfigError, match="'\\*'"):
        NetworkQuantDefaults("w*a8")
