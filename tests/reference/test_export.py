"""Packed export: the archive re-expresses the quantised weights exactly and is small."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from reference.export import pack_weights, save_packed
from reference.models import build_model, mac_layers


def _unpack_rows(packed: np.ndarray, fan_in: int) -> np.ndarray:
    return np.unpackbits(packed, axis=-1)[..., :fan_in].astype(bool)


def _rebuild(p: dict[str, np.ndarray], name: str) -> np.ndarray:
    """Quantised weights (out × fan_in) from the packed entries of layer ``name``."""
    shape = tuple(p[f"{name}.weight.shape"])
    fan_in = int(np.prod(shape[1:]))
    kind = str(p[f"{name}.weight.kind"])
    if kind == "binary":
        signs = np.where(_unpack_rows(p[f"{name}.weight.bits"], fan_in), 1.0, -1.0)
        return signs * p[f"{name}.weight.scale"][:, None]
    if kind == "ternary":
        pos = _unpack_rows(p[f"{name}.weight.sign"], fan_in)
        nonzero = _unpack_rows(p[f"{name}.weight.mask"], fan_in)
        return (np.where(pos & nonzero, p[f"{name}.weight.scale_pos"][:, None], 0.0)
                - np.where(~pos & nonzero, p[f"{name}.weight.scale_neg"][:, None], 0.0))
    if kind == "int":
        if f"{name}.weight.planes" in p:
            planes = _unpack_rows(p[f"{name}.weight.planes"], fan_in)
            codes = sum(planes[b].astype(np.int64) << b for b in range(planes.shape[0]))
        else:
            codes = p[f"{name}.weight.codes"].reshape(shape[0], -1).astype(np.int64)
        # step/offset: one entry, or one per output channel (a per-channel scale)
        return p[f"{name}.weight.offset"][:, None] + p[f"{name}.weight.step"][:, None] * codes
    if kind == "bases":
        bases = np.where(_unpack_rows(p[f"{name}.weight.bases"], fan_in), 1.0, -1.0)
        return np.einsum("m,mof->of", p[f"{name}.weight.scales"].astype(np.float64), bases)
    return p[f"{name}.weight.values"].reshape(shape[0], -1)


@pytest.mark.parametrize("spec", ["w1a1", "wta2", "w2a2", "w4a4", "wb3ab2", "w32a32"])
def test_packed_weights_rebuild_the_quantised_weights(spec: str) -> None:
    torch.manual_seed(0)
    model = build_model("sfc", spec)
    packed = pack_weights(model)
    for name, layer in mac_layers(model).items():
        expected = layer.quantized_weight().detach().double().reshape(layer.out_features, -1)
        got = _rebuild(packed, name)
        assert str(packed[f"{name}.weight.kind"]) == (
            layer.weight_kind if spec != "w32a32" else "float")
        np.testing.assert_allclose(got, expected.numpy(), rtol=0, atol=1e-6)
    assert list(packed["meta.layers"]) == ["fc1", "fc2", "fc3", "fc4"]
    assert str(packed["meta.network"]) == "sfc"


def test_per_channel_uniform_weights_pack_as_codes() -> None:
    torch.manual_seed(0)
    spec = {"default": {"weights": {"kind": "int", "bits": 4, "quantizer": "uniform"},
                        "activations": {"kind": "binary", "quantizer": "sign"}}}
    model = build_model("sfc", spec)
    packed = pack_weights(model)
    layer = mac_layers(model)["fc2"]
    assert str(packed["fc2.weight.kind"]) == "int" and packed["fc2.weight.step"].shape == (256,)
    expected = layer.quantized_weight().detach().double().numpy()
    np.testing.assert_allclose(_rebuild(packed, "fc2"), expected, rtol=0, atol=1e-6)


def test_eight_bit_weights_are_one_byte_codes() -> None:
    packed = pack_weights(build_model("vgg-small"))
    assert packed["conv1.weight.codes"].dtype == np.uint8
    assert packed["conv2.weight.bits"].shape == (128, 128 * 9 // 8)


def test_packed_lfc_is_at_least_25x_smaller(tmp_path: Path) -> None:
    model = build_model("lfc", "w1a1")
    state = tmp_path / "state.pt"
    torch.save(model.state_dict(), state)
    npz = save_packed(model, tmp_path / "lfc")
    assert npz.suffix == ".npz"
    ratio = state.stat().st_size / npz.stat().st_size
    # 2,910,208 binary weights pack into 363,776 bytes; BN and scales add about 60 KB.
    assert ratio >= 25, ratio


def test_folded_thresholds_equal_bn_then_sign() -> None:
    torch.manual_seed(0)
    model = build_model("sfc", "w1a1").eval()
    bn = model.get_submodule("fc1_bn")
    with torch.no_grad():  # trained-looking statistics, some negative gammas
        bn.running_mean.normal_(0, 20)
        bn.running_var.uniform_(10, 100)
        bn.weight.normal_(0, 1)
        bn.bias.normal_(0, 1)
    packed = pack_weights(model)
    x = torch.rand(32, 1, 28, 28)
    with torch.no_grad():
        y = model.fc1(model.prepare_input(x).flatten(1))
        expected = bn(y) >= 0  # sign's +1 at zero
    thr = torch.from_numpy(packed["fc1.threshold"]).double()
    direction = torch.from_numpy(packed["fc1.threshold_dir"])
    y = y.double()
    bit = torch.where(direction > 0, y >= thr, torch.where(direction < 0, y <= thr, thr <= 0))
    assert torch.equal(bit, expected)
    assert "fc4.threshold" not in packed  # the last layer feeds no sign


def test_folded_thresholds_commute_with_max_pool() -> None:
    """cnv conv2 → pool1 → conv3: max-pooling the thresholded bits (an OR) equals the sign of
    the max-pooled batch-norm output, negative gammas included."""
    torch.manual_seed(0)
    model = build_model("cnv", "w1a1").eval()
    bn = model.get_submodule("conv2_bn")
    with torch.no_grad():
        bn.running_mean.normal_(0, 20)
        bn.running_var.uniform_(10, 100)
        bn.weight.normal_(0, 1)
        bn.bias.normal_(0, 1)
    packed = pack_weights(model)
    assert mac_layers(model)["conv3"].input_kind == "binary"
    x = torch.rand(4, 3, 32, 32)
    with torch.no_grad():
        y = model.conv2(model.conv1_bn(model.conv1(model.prepare_input(x))))
        expected = model.pool1(bn(y)) >= 0  # what conv3's sign sees
    thr = torch.from_numpy(packed["conv2.threshold"]).double()[None, :, None, None]
    direction = torch.from_numpy(packed["conv2.threshold_dir"])[None, :, None, None]
    y = y.double()
    bit = torch.where(direction > 0, y >= thr, torch.where(direction < 0, y <= thr, thr <= 0))
    pooled = torch.nn.functional.max_pool2d(bit.double(), 2, 2) > 0  # OR over each window
    assert expected.shape == pooled.shape == (4, 64, 14, 14)
    assert torch.equal(pooled, expected)
    assert bool((direction < 0).any())  # the negative-gamma branch is exercised
