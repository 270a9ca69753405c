"""Tests of ``reference.quantizers``: one contract every registered quantiser meets, then each
paper's forward values and backward rule checked against its formula (float64 where exact
agreement matters)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from reference.quantizers import (
    HWGQ,
    REGISTRY,
    BNNPlusRegularizer,
    bnnplus_regularizer,
    get,
    half_gaussian_levels,
    names,
)
from reference.testing import SHAPE, QuantizerContract, randn
from workloads.quant import ACTIVATION_QUANTIZERS, WEIGHT_QUANTIZERS

ALL_NAMES = (
    "abc_act", "abc_weight", "approx_sign", "bireal_weight", "dorefa_act", "dorefa_weight",
    "groupnet_weight", "hwgq", "identity", "inq", "lq_act", "lq_weight", "pact", "sign",
    "signswish", "ttq", "twn", "uniform", "xnor_act", "xnor_weight",
)


def grad_of(q: torch.nn.Module, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """∂(Σ g·q(x))/∂x."""
    x = x.detach().clone().requires_grad_(True)
    (dx,) = torch.autograd.grad(q(x), x, grad_outputs=g)
    return dx


# --------------------------------------------------------------------------------------------
# Contract: every registered quantiser (reference.testing), then the registry itself
# --------------------------------------------------------------------------------------------


@pytest.fixture(params=ALL_NAMES)
def name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class TestEveryQuantizer(QuantizerContract):
    pass


class TestContract:
    def test_registry_names(self) -> None:
        assert names() == tuple(sorted(ALL_NAMES)) == tuple(sorted(REGISTRY))

    def test_unknown_name_lists_valid_names(self) -> None:
        with pytest.raises(ValueError, match="unknown quantizer 'nmae'") as err:
            get("nmae")
        for valid in ALL_NAMES:
            assert valid in str(err.value)
        with pytest.raises(ValueError, match="did you mean 'signswish'"):
            get("sign_swish")

    def test_unknown_keyword_is_a_type_error(self) -> None:
        with pytest.raises(TypeError, match="bitz"):
            get("sign", bitz=1)

    @pytest.mark.parametrize(("qname", "kwargs"), [
        ("sign", {"bits": 2}),
        ("twn", {"bits": 1}),
        ("identity", {"bits": 8}),
        ("dorefa_act", {"bits": 0}),
        ("uniform", {"bits": 1}),
        ("hwgq", {"bits": 9}),
        ("hwgq", {"bits": 5, "variant": "nonuniform"}),
        ("hwgq", {"variant": "log"}),
        ("abc_weight", {"bases": 2, "bits": 3}),
        ("abc_act", {"bases": 2, "shifts": [0.5]}),
        ("xnor_act", {"kernel_size": 2}),
        ("xnor_act", {"mode": "global"}),
        ("signswish", {"beta": 0.0}),
        ("ttq", {"threshold": 1.5}),
        ("inq", {"bits": 6}),  # codes up to 2^15: more than the integer path's 8 bits
        ("pact", {"alpha": -1.0}),
    ])
    def test_bad_arguments_raise_value_error(self, qname: str, kwargs: dict) -> None:
        with pytest.raises(ValueError, match=qname):
            get(qname, **kwargs)

    def test_qconfig_names_are_registered_with_matching_kind(self) -> None:
        listed = set()
        for table in (WEIGHT_QUANTIZERS, ACTIVATION_QUANTIZERS):
            for kind, qnames in table.items():
                for qname in qnames:
                    listed.add(qname)
                    assert qname in REGISTRY, qname
                    bits = {"int": {"bits": 2}, "pow2": {"bits": 3},
                            "bases": {"bases": 2}}.get(kind, {})
                    assert get(qname, **bits).kind == kind, (qname, kind)
        assert listed == set(REGISTRY)  # and every registered quantiser is reachable

    def test_layers_style_kwargs(self) -> None:
        """``reference.layers`` passes ``bits`` for int operands and ``bases`` for bases."""
        for qname in WEIGHT_QUANTIZERS["int"] + ACTIVATION_QUANTIZERS["int"]:
            assert get(qname, bits=4).bits == 4
        assert get("abc_weight", bases=5).bits == 5
        assert get("abc_act", bases=3).bits == 3


finite = st.floats(-4, 4, allow_nan=False, allow_infinity=False, width=32)


@settings(max_examples=15, deadline=None)
@given(arrays(np.float32, (2, 2, 3, 3), elements=finite),
       st.sampled_from([n for n in ALL_NAMES if n != "identity"]))
def test_int_repr_is_exact_hypothesis(values: np.ndarray, qname: str) -> None:
    q = get(qname)
    x = torch.from_numpy(values.copy())
    assert torch.equal(q.dequantize(q.int_repr(x)), q(x))


# --------------------------------------------------------------------------------------------
# Sign family: sign, approx_sign, signswish
# --------------------------------------------------------------------------------------------

X_GRID = torch.tensor([-3.0, -1.0, -0.999, -0.5, -1e-9, 0.0, 1e-9, 0.25, 0.999, 1.0, 1.001,
                       2.0], dtype=torch.float64)


@settings(max_examples=30, deadline=None)
@given(arrays(np.float32, (17,), elements=st.floats(-3, 3, width=32) | st.just(-0.0)))
def test_sign_never_outputs_zero(values: np.ndarray) -> None:
    x = torch.from_numpy(values.copy())
    for qname in ("sign", "approx_sign", "signswish"):
        y = get(qname)(x)
        assert set(y.tolist()) <= {-1.0, 1.0}
        assert torch.equal(y > 0, x >= 0)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 64), st.integers(0, 2**31 - 1))
def test_pm1_dot_product_is_xnor_popcount(n: int, seed: int) -> None:
    """a·b = 2·popcount(XNOR(a, b)) − n for the ±1 codes a binary datapath multiplies."""
    q = get("sign")
    a, _ = q.int_repr(randn(n, seed=seed))
    b, _ = q.int_repr(randn(n, seed=seed + 1))
    xnor = ~((a > 0) ^ (b > 0))
    assert int((a * b).sum()) == 2 * int(xnor.sum()) - n


def test_sign_backward_is_clipped_ste() -> None:
    g = randn(len(X_GRID), seed=3)
    assert torch.equal(grad_of(get("sign"), X_GRID, g), g * (X_GRID.abs() <= 1))


def test_approx_sign_backward() -> None:
    x, g = X_GRID, randn(len(X_GRID), seed=3)
    expected = torch.where((x >= -1) & (x < 0), 2 + 2 * x,
                           torch.where((x >= 0) & (x < 1), 2 - 2 * x, torch.zeros_like(x)))
    torch.testing.assert_close(grad_of(get("approx_sign"), x, g), g * expected)


@pytest.mark.parametrize("beta", [1.0, 5.0, 10.0])
def test_signswish_backward(beta: float) -> None:
    x = torch.linspace(-3, 3, 101, dtype=torch.float64)
    g = randn(101, seed=4)
    bx = beta * x
    expected = beta * (2 - bx * torch.tanh(bx / 2)) / (1 + torch.cosh(bx))
    q = get("signswish", beta=beta).double()
    torch.testing.assert_close(grad_of(q, x, g), g * expected)


def test_signswish_trainable_beta_gets_the_surrogate_gradient() -> None:
    q = get("signswish", beta=3.0, trainable=True).double()
    assert isinstance(q.beta, torch.nn.Parameter)
    x, g = randn(50, seed=5), randn(50, seed=6)
    (dbeta,) = torch.autograd.grad(q(x), q.beta, grad_outputs=g)

    def ss(beta: float) -> torch.Tensor:
        s = torch.sigmoid(beta * x)
        return 2 * s * (1 + beta * x * (1 - s)) - 1

    eps = 1e-6
    numeric = (g * (ss(3.0 + eps) - ss(3.0 - eps)) / (2 * eps)).sum()
    torch.testing.assert_close(dbeta, numeric, rtol=1e-6, atol=1e-8)
    assert "beta" not in dict(get("signswish").named_parameters())


# --------------------------------------------------------------------------------------------
# XNOR-Net
# --------------------------------------------------------------------------------------------


def test_xnor_weight_forward_and_paper_gradient() -> None:
    w, g = randn(4, 3, 3, 3, scale=0.8), randn(4, 3, 3, 3, seed=1)
    q = get("xnor_weight")
    alpha = w.abs().mean(dim=(1, 2, 3), keepdim=True)
    torch.testing.assert_close(q(w), torch.where(w >= 0, 1.0, -1.0).double() * alpha)
    n = 3 * 3 * 3
    expected = g * (1.0 / n + alpha * (w.abs() <= 1))
    torch.testing.assert_close(grad_of(q, w, g), expected)
    codes, scale = q.int_repr(w)
    assert scale.shape == (4, 1, 1, 1) and set(codes.unique().tolist()) == {-1, 1}
    with pytest.raises(ValueError, match="out_channels"):
        q(randn(5))


def test_bireal_weight_is_xnor_forward_with_the_magnitude_aware_gradient() -> None:
    w = torch.tensor([[0.5, -1.5, 0.25], [-0.1, 0.3, 0.2]], dtype=torch.float64)
    bi, xn = get("bireal_weight").double(), get("xnor_weight").double()
    assert torch.equal(bi(w), xn(w))  # sign(W) · mean|W| per output channel
    g = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=torch.float64)
    alpha = w.abs().mean(dim=1, keepdim=True)  # 0.75, 0.2
    # ∂L/∂W = ∂L/∂W_b · α · 1{|W| ≤ 1}: the second weight of row 0 is clipped
    torch.testing.assert_close(grad_of(bi, w, g), g * alpha * (w.abs() <= 1).double())


def test_xnor_act_per_sample() -> None:
    x, g = randn(*SHAPE), randn(*SHAPE, seed=1)
    q = get("xnor_act", mode="per_sample")
    beta = x.abs().mean(dim=(1, 2, 3), keepdim=True)
    s = torch.where(x >= 0, 1.0, -1.0).double()
    torch.testing.assert_close(q(x), s * beta)
    m = x[0].numel()
    through_beta = torch.sign(x) / m * (g * s).sum(dim=(1, 2, 3), keepdim=True)
    torch.testing.assert_close(grad_of(q, x, g), g * beta * (x.abs() <= 1) + through_beta)


def test_xnor_act_k_map() -> None:
    x, g = randn(2, 4, 6, 7), randn(2, 4, 6, 7, seed=1)
    q = get("xnor_act", kernel_size=3, stride=2)
    # K = A ⊛ k with A = mean_c |x| and k = ones(3, 3)/9, zero padding 1 (the paper's K).
    a = x.abs().mean(dim=1, keepdim=True)
    k = torch.full((1, 1, 3, 3), 1 / 9, dtype=torch.float64)
    k_same = F.conv2d(a, k, padding=1)
    s = torch.where(x >= 0, 1.0, -1.0).double()
    torch.testing.assert_close(q(x), s * k_same)
    # the conv-output K (stride 2) is the stride-1 K subsampled
    k_out = q.k_map(x)
    assert k_out.shape == (2, 1, 3, 4)  # a 3×3 conv, stride 2, padding 1 on 6×7
    torch.testing.assert_close(k_out, k_same[..., ::2, ::2])
    # backward: clipped STE through the sign plus the exact gradient through K
    big_g = (g * s).sum(dim=1, keepdim=True)
    through_k = torch.sign(x) / 4 * F.conv2d(big_g, k, padding=1)
    torch.testing.assert_close(grad_of(q, x, g), g * k_same * (x.abs() <= 1) + through_k)


def test_xnor_act_on_flat_input_uses_per_sample_beta() -> None:
    x = randn(3, 10)
    torch.testing.assert_close(get("xnor_act")(x),
                               torch.where(x >= 0, 1.0, -1.0).double()
                               * x.abs().mean(1, keepdim=True))


# --------------------------------------------------------------------------------------------
# DoReFa-Net
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bits", [2, 3, 4])
def test_dorefa_weight_forward_on_grid(bits: int) -> None:
    w = randn(4, 3, 3, 3, scale=0.7)
    n = 2**bits - 1
    t = torch.tanh(w)
    expected = 2 * torch.round((t / (2 * t.abs().max()) + 0.5) * n) / n - 1
    y = get("dorefa_weight", bits=bits)(w)
    torch.testing.assert_close(y, expected)
    grid = (y + 1) * n / 2
    torch.testing.assert_close(grid, torch.round(grid))
    assert y.min() == -1 and y.max() == 1


def test_dorefa_weight_gradient() -> None:
    w, g = randn(3, 4, 2, 2, scale=0.7), randn(3, 4, 2, 2, seed=1)
    t = torch.tanh(w)
    peak = t.abs().max()
    is_max = (t.abs() == peak).double()
    assert is_max.sum() == 1
    dt = 1 - t * t
    expected = g * dt / peak - is_max * torch.sign(t) * dt / peak**2 * (g * t).sum()
    torch.testing.assert_close(grad_of(get("dorefa_weight", bits=2), w, g), expected)


def test_dorefa_weight_one_bit() -> None:
    w, g = randn(4, 3, 3, 3), randn(4, 3, 3, 3, seed=1)
    q = get("dorefa_weight", bits=1)
    assert (q.kind, q.bits) == ("binary", 1)
    torch.testing.assert_close(q(w), torch.where(w >= 0, 1.0, -1.0).double() * w.abs().mean())
    torch.testing.assert_close(grad_of(q, w, g), g)


@pytest.mark.parametrize("bits", [1, 2, 4])
def test_dorefa_act(bits: int) -> None:
    x, g = X_GRID, randn(len(X_GRID), seed=2)
    n = 2**bits - 1
    y = get("dorefa_act", bits=bits)(x)
    torch.testing.assert_close(y, torch.round(x.clamp(0, 1) * n) / n)
    torch.testing.assert_close(y * n, torch.round(y * n))
    codes, scale = get("dorefa_act", bits=bits).int_repr(x)
    assert codes.min() >= 0 and codes.max() <= n and float(scale) == 1 / n
    expected = g * ((x >= 0) & (x <= 1))
    assert torch.equal(grad_of(get("dorefa_act", bits=bits), x, g), expected)


# --------------------------------------------------------------------------------------------
# HWGQ
# --------------------------------------------------------------------------------------------


def _half_normal_mse(levels: np.ndarray) -> float:
    """E[(x − Q(x))²] for x ~ N(0, 1) restricted to x > 0 (trapezoid rule on [0, 12])."""
    x = np.linspace(0.0, 12.0, 400_001)
    pdf = 2 * np.exp(-x * x / 2) / math.sqrt(2 * math.pi)
    edges = np.concatenate(([0.0], (levels[:-1] + levels[1:]) / 2))
    q = levels[np.clip(np.searchsorted(edges, x, side="left") - 1, 0, len(levels) - 1)]
    err = (x - q) ** 2 * pdf
    return float(np.sum((err[1:] + err[:-1]) / 2) * (x[1] - x[0]))


def test_hwgq_two_bit_uniform_matches_published_levels() -> None:
    # HWGQ (Cai et al. 2017) 2-bit uniform: step 0.538, levels {0.538, 1.076, 1.614} (the
    # authors' Caffe models list exactly these centres, clip_thr 1.614).
    q = get("hwgq", bits=2)
    assert len(q.levels) == 3
    assert q.levels[0] == pytest.approx(0.538, abs=1e-3)
    np.testing.assert_allclose(q.levels, [0.538, 1.076, 1.614], atol=3e-3)
    np.testing.assert_allclose(np.diff(q.levels), q.levels[0], rtol=1e-12)


def test_hwgq_uniform_step_is_mse_optimal() -> None:
    levels = np.asarray(half_gaussian_levels(3, uniform=True))
    delta = levels[0]
    best = _half_normal_mse(levels)
    for d in (delta - 2e-3, delta + 2e-3):
        assert best < _half_normal_mse(d * np.arange(1, 4))


def test_hwgq_one_level_is_half_normal_mean() -> None:
    # one level: the centroid of the whole half-normal, E[x | x > 0] = √(2/π)
    assert half_gaussian_levels(1, uniform=True)[0] == pytest.approx(math.sqrt(2 / math.pi))


def test_hwgq_nonuniform_matches_published_and_is_lloyd_fixed_point() -> None:
    # The authors' AlexNet model uses two non-uniform centres {0.453, 1.51}.
    np.testing.assert_allclose(half_gaussian_levels(2, uniform=False), [0.453, 1.51], atol=1e-3)
    levels = np.asarray(get("hwgq", bits=2, variant="nonuniform").levels)
    # every level is the centroid E[x | bin] of its bin (numerical integration)
    x = np.linspace(0.0, 12.0, 400_001)
    pdf = np.exp(-x * x / 2)
    edges = np.concatenate(([0.0], (levels[:-1] + levels[1:]) / 2, [np.inf]))
    for i, level in enumerate(levels):
        inside = (x > edges[i]) & (x <= edges[i + 1])
        assert level == pytest.approx(np.sum(x * pdf * inside) / np.sum(pdf * inside), abs=1e-5)
    uniform = np.asarray(half_gaussian_levels(3, uniform=True))
    assert _half_normal_mse(levels) < _half_normal_mse(uniform)


def test_hwgq_forward() -> None:
    q = get("hwgq", bits=2)
    d = q.levels[0]
    x = torch.tensor([-1.0, 0.0, 1e-6, 0.5 * d, 1.4 * d, 1.5 * d, 1.6 * d, 2.4 * d, 2.6 * d,
                      10.0], dtype=torch.float64)
    expected = torch.tensor([0, 0, 1, 1, 1, 1, 2, 2, 3, 3], dtype=torch.float64) * d
    torch.testing.assert_close(q(x), expected)
    codes, scale = q.int_repr(x)
    assert codes.tolist() == [0, 0, 1, 1, 1, 1, 2, 2, 3, 3] and float(scale) == pytest.approx(d)
    qn = get("hwgq", bits=2, variant="nonuniform")
    codes, table = qn.int_repr(x)
    assert table.shape == (4,) and float(table[0]) == 0
    torch.testing.assert_close(qn(x), table[codes.long()])


@pytest.mark.parametrize("variant", ["uniform", "nonuniform"])
def test_hwgq_backward(variant: str) -> None:
    x = torch.tensor([-1.0, 0.0, 0.3, 1.0, 1.6, 1.9, 2.5, 4.0], dtype=torch.float64)
    g = randn(len(x), seed=7)
    clipped: HWGQ = get("hwgq", variant=variant)  # type: ignore[assignment]
    qm = clipped.q_max
    inside = (x > 0) & (x <= qm)
    torch.testing.assert_close(grad_of(clipped, x, g), g * inside)
    tailed = get("hwgq", variant=variant, backward="log_tailed")
    tau = qm - 1
    expected = torch.where(x > qm, g / (x - tau), g * inside)
    torch.testing.assert_close(grad_of(tailed, x, g), expected)


# --------------------------------------------------------------------------------------------
# INQ
# --------------------------------------------------------------------------------------------


def test_inq_levels_by_hand() -> None:
    # largest |W| 0.3: n1 = ⌊log2(0.4)⌋ = −2 (0.25); 5 bits: 8 magnitudes, n2 = −2 + 1 − 8 = −9
    from reference.quantizers.inq import _to_levels, pow2_levels

    assert pow2_levels(0.3, 5) == (-2, -9) and pow2_levels(0.3, 2) == (-2, -2)
    w = torch.tensor([0.3, -0.2, 0.1, 0.0935, 0.0007, 0.001, -0.0, 0.375], dtype=torch.float64)
    # eq. 4: β for (α + β)/2 ≤ |w| < 3β/2 — 0.2 ∈ [0.1875, 0.375) → 0.25; 0.1 → 0.125;
    # 0.0935 < 0.09375 → 0.0625; below 2^−9/2 = 0.00098 → 0; 0.375 clamps to 2^n1
    expected = [0.25, -0.25, 0.125, 0.0625, 0.0, 2.0**-9, 0.0, 0.25]
    assert _to_levels(w, -2, -9).tolist() == expected


def test_inq_freezes_the_largest_in_stages_and_masks_their_gradient() -> None:
    q = get("inq", bits=5).double()
    w = randn(6, 4, 3, 3, seed=3) * 0.1
    q.advance(w, 0.5)
    frozen = q.frozen.clone()
    assert int(frozen.sum()) == w.numel() // 2
    # the frozen half is the larger half
    assert w.abs()[frozen].min() >= w.abs()[~frozen].max()
    x = w.clone().requires_grad_(True)
    y = q(x)
    (g,) = torch.autograd.grad(y, x, grad_outputs=torch.ones_like(w))
    assert torch.equal(g, (~frozen).double())  # only the free weights learn
    assert torch.equal(y[~frozen], w[~frozen])  # and stay full precision
    for portion in (0.75, 0.875):
        q.advance(w * 1.5, portion)  # later stages quantise what the free weights became
        assert (q.frozen & frozen).equal(frozen)  # frozen stays frozen
    with pytest.raises(ValueError, match="last stage"):
        q.int_repr(w)
    q.advance(w, 1.0)
    codes, scale = q.int_repr(w)
    nonzero = codes[codes != 0].abs().double()
    assert torch.equal(torch.exp2(torch.round(torch.log2(nonzero))), nonzero)  # powers of two
    assert float(scale) == 2.0 ** int(q.exponents[1])
    with pytest.raises(ValueError, match="portion"):
        q.advance(w, 1.5)


# --------------------------------------------------------------------------------------------
# PACT
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bits", [1, 2, 4])
def test_pact_forward_on_the_clipped_grid(bits: int) -> None:
    # y = clip(x, 0, α) on the grid α/n: α = 2, n = 2^k − 1
    q = get("pact", bits=bits, alpha=2.0).double()
    n = 2**bits - 1
    x = torch.tensor([-3.0, -0.1, 0.0, 0.4, 1.0, 1.3, 1.99, 2.0, 7.5], dtype=torch.float64)
    expected = torch.round(x.clamp(0, 2.0) * n / 2.0) * 2.0 / n
    torch.testing.assert_close(q(x), expected, rtol=0, atol=0)
    codes, scale = q.int_repr(x)
    assert codes.min() >= 0 and codes.max() == n and float(scale) == pytest.approx(2.0 / n)
    # the paper's closed form of the clip: ½(|x| − |x − α| + α)
    clip = 0.5 * (x.abs() - (x - 2.0).abs() + 2.0)
    torch.testing.assert_close(torch.round(clip * n / 2.0) * 2.0 / n, expected)


def test_pact_backward_is_the_papers():
    # ∂y_q/∂x = 1{0 ≤ x ≤ α} (the STE through the rounding), ∂y_q/∂α = 1{x ≥ α}
    q = get("pact", bits=2, alpha=1.5).double()
    x = torch.tensor([-1.0, 0.2, 0.7, 1.4, 1.6, 3.0], dtype=torch.float64, requires_grad=True)
    g = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], dtype=torch.float64)
    y = q(x)
    dx, da = torch.autograd.grad(y, (x, q.alpha), grad_outputs=g)
    torch.testing.assert_close(dx, g * ((x > 0) & (x < 1.5)).double())
    assert float(da) == pytest.approx(5.0 + 6.0)  # the inputs at or above α


def test_pact_alpha_learns_and_stays_positive():
    q = get("pact", bits=2, alpha=10.0)
    opt = torch.optim.SGD(q.parameters(), lr=0.5)
    x = torch.rand(256) * 2  # all below α: a loss that wants a smaller clipping level
    for _ in range(30):
        opt.zero_grad()
        loss = ((q(x) - x.clamp(max=1.0)) ** 2).mean() + 0.05 * q.alpha ** 2  # L2 on α
        loss.backward()
        opt.step()
    assert 0 < float(q.alpha.detach()) < 10.0
    with pytest.raises(ValueError, match="alpha > 0"):
        get("pact", alpha=0.0)


# --------------------------------------------------------------------------------------------
# Ternary: TWN, TTQ
# --------------------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(arrays(np.float32, (3, 2, 2, 2), elements=finite), st.booleans())
def test_twn_outputs_are_ternary(values: np.ndarray, per_channel: bool) -> None:
    w = torch.from_numpy(values.copy())
    q = get("twn", per_channel=per_channel)
    y = q(w)
    codes, alpha = q.int_repr(w)
    assert set(codes.unique().tolist()) <= {-1, 0, 1}
    s = alpha.expand_as(w)
    assert bool(((y == 0) | (y == s) | (y == -s)).all())


@pytest.mark.parametrize("per_channel", [False, True])
def test_twn_threshold_and_scale(per_channel: bool) -> None:
    w, g = randn(4, 3, 3, 3), randn(4, 3, 3, 3, seed=1)
    q = get("twn", per_channel=per_channel)
    dims = (1, 2, 3) if per_channel else (0, 1, 2, 3)
    delta = 0.7 * w.abs().mean(dim=dims, keepdim=True)
    kept = w.abs() > delta
    alpha = (w.abs() * kept).sum(dim=dims, keepdim=True) / kept.sum(dim=dims, keepdim=True)
    torch.testing.assert_close(q(w), torch.sign(w) * kept * alpha)
    torch.testing.assert_close(grad_of(q, w, g), g)


def test_ttq_forward_and_paper_gradients() -> None:
    w, g = randn(4, 3, 3, 3, scale=0.5), randn(4, 3, 3, 3, seed=1)
    q = get("ttq").double()
    with torch.no_grad():
        q.w_p.fill_(0.8)
        q.w_n.fill_(1.3)
    delta = 0.05 * w.abs().max()
    pos, neg = w > delta, w < -delta
    wl = w.clone().requires_grad_(True)
    y = q(wl)
    torch.testing.assert_close(y, 0.8 * pos - 1.3 * neg.double())
    assert set(y.unique().tolist()) <= {-1.3, 0.0, 0.8}
    dw, dwp, dwn = torch.autograd.grad(y, (wl, q.w_p, q.w_n), grad_outputs=g)
    # Zhu et al. 2017: ∂L/∂w̃ = W_p·g on I_p, 1·g in the dead zone, W_n·g on I_n;
    # ∂L/∂W_p = Σ_{I_p} g; ∂L/∂W_n = −Σ_{I_n} g (the output there is −W_n).
    torch.testing.assert_close(dw, torch.where(pos, 0.8 * g, torch.where(neg, 1.3 * g, g)))
    torch.testing.assert_close(dwp, (g * pos).sum())
    torch.testing.assert_close(dwn, -(g * neg).sum())
    # the analytic W_n gradient agrees with a finite difference of the forward pass
    with torch.no_grad():
        q.w_n.add_(1e-6)
        up = (g * q(w)).sum()
        q.w_n.sub_(2e-6)
        down = (g * q(w)).sum()
    assert float(dwn) == pytest.approx(float((up - down) / 2e-6), rel=1e-6)


# --------------------------------------------------------------------------------------------
# ABC-Net
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bases", [1, 2, 3, 5])
def test_abc_weight_bases_and_least_squares_alpha(bases: int) -> None:
    w, g = randn(6, 4, 3, 3, scale=0.3), randn(6, 4, 3, 3, seed=1)
    q = get("abc_weight", bases=bases)
    rep = q.int_repr(w)
    u = [0.0] if bases == 1 else [-1 + i * 2 / (bases - 1) for i in range(bases)]
    wn = w.numpy()
    mat = np.stack([np.where(wn - wn.mean() + ui * wn.std() >= 0, 1.0, -1.0).ravel()
                    for ui in u], axis=1)
    alpha_np, *_ = np.linalg.lstsq(mat, wn.ravel(), rcond=None)
    for i, (codes, alpha) in enumerate(rep):
        np.testing.assert_array_equal(codes.numpy().ravel(), mat[:, i])
        assert float(alpha) == pytest.approx(alpha_np[i], rel=1e-9, abs=1e-12)
    torch.testing.assert_close(q(w), torch.from_numpy((mat @ alpha_np).reshape(w.shape)))
    torch.testing.assert_close(grad_of(q, w, g), g * float(alpha_np.sum()))


def test_abc_activation_forward_and_gradients() -> None:
    q = get("abc_act", bases=3, shifts=[0.2, 0.5, 0.9], betas=[0.5, 0.3, 0.2]).double()
    x, g = randn(*SHAPE), randn(*SHAPE, seed=1)
    v = torch.tensor([0.2, 0.5, 0.9], dtype=torch.float64)
    b = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    h = [torch.where((x + vn).clamp(0, 1) >= 0.5, 1.0, -1.0).double() for vn in v]
    window = [((x + vn) >= 0) & ((x + vn) <= 1) for vn in v]
    xl = x.clone().requires_grad_(True)
    y = q(xl)
    torch.testing.assert_close(y, sum(bn * hn for bn, hn in zip(b, h, strict=True)))
    dx, dv, db = torch.autograd.grad(y, (xl, q.shift, q.beta), grad_outputs=g)
    torch.testing.assert_close(dx, sum(bn * wn * g for bn, wn in zip(b, window, strict=True)))
    torch.testing.assert_close(dv, torch.stack([b[n] * (g * window[n]).sum() for n in range(3)]))
    torch.testing.assert_close(db, torch.stack([(g * h[n]).sum() for n in range(3)]))


def test_abc_activation_default_one_base_is_sign() -> None:
    x = randn(*SHAPE)
    torch.testing.assert_close(get("abc_act").double()(x), get("sign")(x))


# --------------------------------------------------------------------------------------------
# Uniform, identity, BNN+ regulariser
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bits", [2, 4, 8])
def test_uniform_symmetric(bits: int) -> None:
    x, g = randn(*SHAPE), randn(*SHAPE, seed=1)
    q = get("uniform", bits=bits)
    qmax = 2 ** (bits - 1) - 1
    codes, scale = q.int_repr(x)
    # one scale per slice along dim 0 (per sample / per output channel)
    assert scale.shape == (SHAPE[0], 1, 1, 1)
    torch.testing.assert_close(scale, x.abs().amax(dim=(1, 2, 3), keepdim=True) / qmax)
    assert torch.all(codes.abs().amax(dim=(1, 2, 3)) == qmax)
    assert float((q(x) - x).abs().div(scale).max()) <= 0.5 + 1e-12
    torch.testing.assert_close(grad_of(q, x, g), g)
    assert torch.equal(q(torch.zeros(3)), torch.zeros(3))
    assert q(torch.zeros(3)).shape == (3,) and q.int_repr(randn(5))[1].dim() == 0


def test_uniform_sample_does_not_depend_on_its_batch_mates() -> None:
    # Per-tensor scaling would let one large sample coarsen every other sample's grid.
    q = get("uniform", bits=8)
    x = randn(3, 4, 5, 5)
    alone = q(x[:1])
    loud = torch.cat([x[:1], 100.0 * x[1:]])
    assert torch.equal(q(loud)[:1], alone)
    w = randn(6, 3, 3, 3)
    codes, scale = q.int_repr(w)
    assert scale.shape == (6, 1, 1, 1)  # per output channel for weights
    assert torch.equal(q.dequantize((codes, scale)), q(w))


def test_identity_passes_through() -> None:
    x = randn(*SHAPE)
    assert get("identity")(x) is x


@pytest.mark.parametrize("kind", ["l1", "l2"])
def test_bnnplus_regularizer(kind: str) -> None:
    w = randn(4, 3, 3, 3, scale=0.5)
    alpha = torch.tensor([0.2, 0.4, 0.6, 0.8], dtype=torch.float64)
    gap = alpha.view(4, 1, 1, 1) - w.abs()
    expected = gap.abs().sum() if kind == "l1" else (gap**2).sum()
    torch.testing.assert_close(bnnplus_regularizer(w, alpha, kind=kind), expected)  # type: ignore[arg-type]
    reg = BNNPlusRegularizer(4, kind=kind).double()  # type: ignore[arg-type]
    assert reg.scale.shape == (4,)
    with torch.no_grad():
        reg.scale.copy_(alpha)
    wl = w.clone().requires_grad_(True)
    value = reg(wl)
    torch.testing.assert_close(value, expected)
    value.backward()
    assert reg.scale.grad is not None and wl.grad is not None
    assert torch.isfinite(reg.scale.grad).all()
    with pytest.raises(ValueError, match="out_channels"):
        bnnplus_regularizer(w, alpha[:3])
    with pytest.raises(ValueError, match="'l1' or 'l2'"):
        BNNPlusRegularizer(4, kind="l3")  # type: ignore[arg-type]
