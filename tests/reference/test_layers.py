"""Quantised layers: shapes, that both quantisers are applied, and the XNOR-popcount identity."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from reference.layers import QConv2d, QLinear, make_qlayer
from reference.quantizers import get
from workloads.quant import parse_quant


def _sign(x: torch.Tensor) -> torch.Tensor:
    return torch.where(x >= 0, 1.0, -1.0)


def test_qconv2d_applies_both_quantisers() -> None:
    torch.manual_seed(0)
    conv = QConv2d(4, 8, 3, stride=1, padding=1, weight_quantizer=get("sign"),
                   input_quantizer=get("sign"))
    x = torch.randn(2, 4, 6, 6)
    expected = F.conv2d(_sign(x), _sign(conv.weight), padding=1)
    assert torch.equal(conv(x), expected)
    assert conv(x).shape == (2, 8, 6, 6)
    assert (conv.weight_kind, conv.weight_bits, conv.input_kind, conv.input_bits) == (
        "binary", 1, "binary", 1)


def test_qconv2d_groups_and_stride_shapes() -> None:
    conv = QConv2d(96, 256, 5, stride=1, padding=2, groups=2)
    assert conv.weight.shape == (256, 48, 5, 5)
    assert conv(torch.randn(1, 96, 27, 27)).shape == (1, 256, 27, 27)
    assert conv.macs_per_sample((27, 27)) == 27 * 27 * 256 * 48 * 25
    assert conv.bias is None


def test_qlinear_default_is_full_precision() -> None:
    fc = QLinear(5, 3)
    x = torch.randn(4, 5)
    assert torch.allclose(fc(x), x @ fc.weight.T)
    assert (fc.weight_kind, fc.weight_bits) == ("float", 32)
    assert fc.macs_per_sample() == 15


def test_straight_through_gradient_reaches_latent_weights() -> None:
    fc = QLinear(6, 2, weight_quantizer=get("sign"), input_quantizer=get("sign"))
    with torch.no_grad():
        fc.weight.uniform_(-0.5, 0.5)
    fc(torch.randn(3, 6)).sum().backward()
    assert fc.weight.grad is not None and fc.weight.grad.abs().sum() > 0


def test_input_dropout_only_while_training() -> None:
    torch.manual_seed(0)
    fc = QLinear(100, 4, input_dropout=0.5)
    x = torch.randn(8, 100)
    fc.eval()
    assert torch.equal(fc(x), fc(x))
    fc.train()
    assert not torch.equal(fc(x), fc(x))
    with pytest.raises(ValueError, match="input_dropout"):
        QLinear(3, 3, input_dropout=1.0)


@pytest.mark.parametrize(
    ("spec", "weight", "act"),
    [("w1a1", ("binary", 1), ("binary", 1)), ("w2a2", ("int", 2), ("int", 2)),
     ("wta2", ("ternary", 2), ("int", 2)), ("wb3ab2", ("bases", 3), ("bases", 2)),
     ("w32a32", ("float", 32), ("float", 32))],
)
def test_make_qlayer_builds_the_configured_quantisers(spec: str, weight: tuple[str, int],
                                                       act: tuple[str, int]) -> None:
    lq = parse_quant(spec).default
    conv = make_qlayer(lq, in_features=4, out_features=6, kernel_size=3, padding=1)
    fc = make_qlayer(lq, in_features=4, out_features=6)
    assert isinstance(conv, QConv2d) and isinstance(fc, QLinear)
    for layer in (conv, fc):
        assert (layer.weight_kind, layer.weight_bits) == weight
        assert (layer.input_kind, layer.input_bits) == act
        assert layer.quant == lq
    assert conv(torch.rand(2, 4, 5, 5)).shape == (2, 6, 5, 5)
    assert fc(torch.rand(2, 4)).shape == (2, 6)


def test_make_qlayer_rejects_conv_options_for_fc() -> None:
    with pytest.raises(ValueError, match="convolutions only"):
        make_qlayer(parse_quant("w1a1").default, in_features=4, out_features=4, stride=2)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 200), seed=st.integers(0, 2**16))
def test_binary_dot_product_is_xnor_popcount(n: int, seed: int) -> None:
    """A ±1 dot product equals 2·popcount(XNOR(a, w)) − n on the bit encodings (1 ↔ +1)."""
    gen = torch.Generator().manual_seed(seed)
    fc = QLinear(n, 1, weight_quantizer=get("sign"), input_quantizer=get("sign"))
    with torch.no_grad():
        fc.weight.copy_(torch.randn(1, n, generator=gen))
    x = torch.randn(1, n, generator=gen)
    a_bits, w_bits = x[0] >= 0, fc.weight[0] >= 0
    popcount = int((~(a_bits ^ w_bits)).sum())
    assert int(fc(x).item()) == 2 * popcount - n


def test_xnor_act_conv_convolves_signs_and_scales_the_output_by_k() -> None:
    """XNOR-Net: conv(sign(x), Wq) · K, with K at the conv's output positions (not K·sign(x))."""
    torch.manual_seed(0)
    lq = parse_quant({"default": {
        "weights": {"kind": "binary", "quantizer": "xnor_weight"},
        "activations": {"kind": "binary", "quantizer": "xnor_act"}}}).default
    conv = make_qlayer(lq, in_features=3, out_features=5, kernel_size=3, stride=2, padding=1)
    assert isinstance(conv, QConv2d)
    seen: list[torch.Tensor] = []
    conv_forward = conv._conv_forward

    def spy(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        seen.append(x.detach().clone())
        return conv_forward(x, w, b)

    conv._conv_forward = spy  # type: ignore[method-assign]
    x = torch.randn(2, 3, 7, 6, requires_grad=True)
    y = conv(x)
    assert set(seen[0].unique().tolist()) == {-1.0, 1.0}  # the MAC sees ±1 codes only
    wq = _sign(conv.weight) * conv.weight.abs().mean(dim=(1, 2, 3), keepdim=True)
    k = F.avg_pool2d(x.detach().abs().mean(1, keepdim=True), 3, stride=2, padding=1,
                     count_include_pad=True)  # the paper's K: A ⊛ ones(3, 3)/9, stride 2
    expected = F.conv2d(_sign(x.detach()), wq.detach(), stride=2, padding=1) * k
    torch.testing.assert_close(y, expected)
    y.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert conv.weight.grad is not None and conv.weight.grad.abs().sum() > 0


def test_xnor_act_linear_scales_the_output_by_per_sample_beta() -> None:
    torch.manual_seed(0)
    fc = QLinear(8, 3, weight_quantizer=get("sign"), input_quantizer=get("xnor_act"))
    x = torch.randn(4, 8, requires_grad=True)
    beta = x.detach().abs().mean(1, keepdim=True)
    torch.testing.assert_close(fc(x), F.linear(_sign(x.detach()), _sign(fc.weight.detach()))
                               * beta)
    fc(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
