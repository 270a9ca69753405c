"""The zoo: MACs and weight bits against hand-computed figures; paper precisions."""

from __future__ import annotations

import pytest

from workloads import get_network, zoo_names
from workloads.errors import ConfigError
from workloads.layers import Conv2d, LayerKind, Pool

# Hand-computed MACs (Σ K·OY·OX·C/g·FY·FX) and weight bits (paper precisions).
# sfc: 784·256 + 2·256·256 + 256·10 = 334,336 (FINN). lfc: 784·1024 + 2·1024² + 1024·10.
# cnv: 30²·64·27 + 28²·64·576 + 12²·128·576 + 10²·128·1152 + 3²·256·1152 + 256·2304
#      + 256·512 + 512·512 + 512·10 = 59,461,376 (FINN).
# bnn-cifar10: 616,966,144 MACs, 14,022,016 weight bits (Courbariaux et al.; Zhao et al.).
# vgg-small: bnn-cifar10's convs + 8192·10; first conv and fc at 8 bits (HWGQ).
# alexnet: 105,415,200 + 223,948,800 + 149,520,384 + 112,140,288 + 74,760,192
#          + 37,748,736 + 16,777,216 + 4,096,000 = 724,406,816.
# resnet18: conv1 118,013,952; layer1 4 × 115,605,504; layers 2-4 each 57,802,752
#           + 3 × 115,605,504 + 6,422,528 (1×1 downsample); fc 512,000 = 1,814,073,344.
# mnist-cnv: 28·28·32·9 + 28·28·32·32·9 + 14·14·64·32·9 + 14·14·64·64·9 + 3136·256 + 256·10
#            = 225,792 + 7,225,344 + 3,612,672 + 7,225,344 + 802,816 + 2,560 = 19,094,528 MACs;
#            all weights binary: 288 + 9,216 + 18,432 + 36,864 + 802,816 + 2,560 = 870,176 bits.
EXPECTED = {
    "sfc": (334_336, 334_336),
    "mnist-cnv": (19_094_528, 870_176),
    "lfc": (2_910_208, 2_910_208),
    "cnv": (59_461_376, 1_542_848),
    "bnn-cifar10": (616_966_144, 14_022_016),
    "vgg-small": (607_600_640, 3456 * 8 + 4_571_136 + 81_920 * 8),
    "alexnet": (724_406_816, 89_870_592),
    "resnet18": (1_814_073_344, None),
}


@pytest.mark.parametrize("name", zoo_names())
def test_macs_and_weight_bits(name):
    net = get_network(name)
    macs, bits = EXPECTED[name]
    assert net.macs == macs
    if bits is not None:
        assert net.weight_bits == bits


def test_alexnet_weight_bits_by_hand():
    # conv1 96·363 at 8 bits; binary: conv2 256·1200, conv3 384·2304, conv4 384·1728,
    # conv5 256·1728, fc6 9216·4096, fc7 4096²; fc8 4096·1000 at 8 bits
    binary = 256 * 1200 + 384 * 2304 + 384 * 1728 + 256 * 1728 + 9216 * 4096 + 4096 * 4096
    assert binary == 2_297_856 + 37_748_736 + 16_777_216
    assert get_network("alexnet").weight_bits == 96 * 363 * 8 + binary + 4096 * 1000 * 8


def test_resnet18_weight_bits_by_hand():
    net = get_network("resnet18")
    eight = {"conv1", "fc", "layer2.0.downsample.conv", "layer3.0.downsample.conv",
             "layer4.0.downsample.conv"}
    expect = sum(x.weight_count * (8 if x.name in eight else 1) for x in net.mac_layers)
    assert net.weight_bits == expect
    assert sum(x.weight_count for x in net.mac_layers) == 11_678_912  # 11.69 M parameters


def test_paper_precisions():
    lfc = get_network("lfc")
    assert [(x.weights.label, x.activations.label) for x in lfc.mac_layers] == [
        ("1", "8"), ("1", "1"), ("1", "1"), ("1", "1")]
    alex = get_network("alexnet")
    assert (alex.layer("conv1").weights.label, alex.layer("fc8").weights.label) == ("8", "8")
    assert alex.layer("conv2").weights.label == "1"
    vgg = get_network("vgg-small")
    assert vgg.layer("conv2").activations.label == "2"
    res = get_network("resnet18")
    assert res.layer("layer3.0.downsample.conv").weights.label == "8"
    assert res.layer("layer3.0.conv1").weights.label == "1"


def test_quant_override_and_first_layer_pixels():
    net = get_network("lfc", "w1a2")
    assert net.layer("fc1").activations.label == "8"  # input pixels stay 8-bit
    assert net.layer("fc2").activations.label == "2"
    assert net.layer("fc1").output.label == "2"  # stored as the next layer reads it
    tern = get_network("cnv", "wta2")
    assert tern.layer("conv2").weights.kind == "ternary"
    assert tern.layer("conv2").weight_bits == 64 * 576 * 2


def test_output_precision_follows_the_widest_consumer():
    net = get_network("resnet18")
    # pool1 feeds a binary conv and a real-valued shortcut add: stored at 8 bits
    assert net.layer("pool1").output.label == "8"
    assert net.layer("layer1.0.conv1").output.label == "8"  # into the add
    assert net.layer("fc").output.storage_bits == 16  # logits
    cnv = get_network("cnv")
    assert cnv.layer("pool1").activations.label == "1"  # max-pool on a binary map: OR


def test_layer_kinds_and_edges():
    net = get_network("resnet18")
    kinds = {x.kind for x in net}
    assert kinds == {LayerKind.CONV, LayerKind.FC, LayerKind.POOL, LayerKind.ADD}
    assert net.inputs_of("layer1.0.add1") == ("layer1.0.conv1", "pool1")
    assert net.inputs_of("layer2.0.conv1") == ("layer1.1.add2",)
    ds = net.layer("layer2.0.downsample.pool")
    assert isinstance(ds, Pool) and ds.mode == "avg" and ds.out_shape == (64, 28, 28)
    assert isinstance(net.layer("conv1"), Conv2d)


def test_unknown_network_and_bad_quant():
    with pytest.raises(ConfigError, match="zoo networks: sfc, lfc"):
        get_network("vgg16")
    with pytest.raises(ConfigError, match="has no layer of that name"):
        get_network("lfc", {"default": "w1a1", "layers": {"fc9": "w2a2"}})


def test_groups():
    alex = get_network("alexnet")
    conv2 = alex.layer("conv2")
    assert conv2.groups == 2 and conv2.reduction == 48 * 25
    with pytest.raises(ConfigError, match="groups must divide"):
        Conv2d("x", (3, 8, 8), 4, (3, 3), groups=2)


def test_digest_changes_with_precision():
    assert get_network("lfc").digest() != get_network("lfc", "w1a2").digest()
    assert get_network("lfc").digest() == get_network("lfc").digest()
