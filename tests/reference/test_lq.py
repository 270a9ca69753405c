"""Tests of LQ-Nets' learned-basis quantisers (``lq_weight``, ``lq_act``): levels and the
nearest-level rule, the straight-through gradients, QEM's basis update, the integer view, the
buffers in a state dict, and a tiny model that learns. (The registry-wide contract runs in
``test_quantizers.py``.)"""

from __future__ import annotations

import io
import itertools
from typing import Any

import pytest
import torch
from torch import nn

from reference.layers import QLinear
from reference.models import build_model, mac_layers
from reference.quantizers import CODE_DTYPE, LqActivation, LqWeight, get
from reference.quantizers.lq import encodings
from reference.testing import randn
from workloads.quant import parse_quant

LQ_NAMES = ("lq_weight", "lq_act")


def lq(name: str, **kwargs: Any) -> LqWeight | LqActivation:
    """A registry-built LQ quantiser, typed as one."""
    q = get(name, **kwargs)
    assert isinstance(q, LqWeight | LqActivation)
    return q


def with_basis(name: str, basis: list[float], *,
               momentum: float = 0.9) -> LqWeight | LqActivation:
    """A float64 quantiser whose basis is set (and marked initialised)."""
    q = lq(name, bases=len(basis), momentum=momentum).double()
    q.basis.copy_(torch.tensor(basis, dtype=torch.float64))
    q.initialised.fill_(True)
    return q


def levels_of(basis: list[float], *, signed: bool) -> torch.Tensor:
    """Every vᵀe, brute force over the code words."""
    alphabet = (-1, 1) if signed else (0, 1)
    return torch.tensor(sorted(sum(e * v for e, v in zip(code, basis, strict=True))
                               for code in itertools.product(alphabet, repeat=len(basis))),
                        dtype=torch.float64)


def grad_of(q: nn.Module, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    x = x.detach().clone().requires_grad_(True)
    (dx,) = torch.autograd.grad(q(x), x, grad_outputs=g)
    return dx


def quant_error(q: LqWeight | LqActivation, x: torch.Tensor) -> float:
    """‖Q(x) − x‖² with the quantiser's current basis (int_repr never updates it)."""
    return float((q.dequantize(q.int_repr(x)) - x).pow(2).sum())


# --------------------------------------------------------------------------------------------
# Forward: levels, the nearest-level rule and midpoint ties
# --------------------------------------------------------------------------------------------


def test_encodings_table() -> None:
    assert encodings(2, signed=True).tolist() == [[-1, -1], [1, -1], [-1, 1], [1, 1]]
    assert encodings(2, signed=False).tolist() == [[0, 0], [1, 0], [0, 1], [1, 1]]
    assert encodings(3, signed=False).dtype == CODE_DTYPE


def test_weight_levels_by_hand() -> None:
    # v = (0.5, 1): ±0.5 ± 1 = {−1.5, −0.5, 0.5, 1.5}; midpoints −1, 0, 1
    q = with_basis("lq_weight", [0.5, 1.0]).eval()
    x = torch.tensor([-9.0, -1.2, -0.8, -0.1, 0.1, 0.7, 1.3, 4.0], dtype=torch.float64)
    expected = [-1.5, -1.5, -0.5, -0.5, 0.5, 0.5, 1.5, 1.5]
    assert q(x).tolist() == expected


def test_activation_levels_by_hand() -> None:
    # v = (0.5, 1): {0, 0.5, 1, 1.5}; midpoints 0.25, 0.75, 1.25; negatives go to 0
    q = with_basis("lq_act", [0.5, 1.0]).eval()
    x = torch.tensor([-2.0, 0.1, 0.3, 0.7, 0.8, 1.2, 1.3, 5.0], dtype=torch.float64)
    assert q(x).tolist() == [0.0, 0.0, 0.5, 0.5, 1.0, 1.0, 1.5, 1.5]


def test_midpoint_ties_take_the_larger_level() -> None:
    w = with_basis("lq_weight", [0.5, 1.0]).eval()
    mids = torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64)
    assert w(mids).tolist() == [-0.5, 0.5, 1.5]
    a = with_basis("lq_act", [0.5, 1.0]).eval()
    assert a(torch.tensor([0.25, 0.75, 1.25], dtype=torch.float64)).tolist() == [0.5, 1.0, 1.5]


@pytest.mark.parametrize(("name", "signed"), [("lq_weight", True), ("lq_act", False)])
def test_nearest_level_for_an_uneven_basis(name: str, signed: bool) -> None:
    basis = [0.3, 0.7, 1.9]
    q = with_basis(name, basis).eval()
    x = randn(500, seed=2, scale=2.0)
    levels = levels_of(basis, signed=signed)
    nearest = (x[:, None] - levels[None, :]).abs().min(dim=1).values
    torch.testing.assert_close((q(x) - x).abs(), nearest, rtol=0, atol=1e-12)
    assert set(q(x).tolist()) <= set(levels.tolist())


# --------------------------------------------------------------------------------------------
# Backward
# --------------------------------------------------------------------------------------------


def test_weight_backward_is_identity() -> None:
    q = with_basis("lq_weight", [0.5, 1.0])
    x, g = randn(40, seed=3, scale=3.0), randn(40, seed=4)
    assert torch.equal(grad_of(q, x, g), g)


def test_activation_backward_is_the_clipped_ste() -> None:
    q = with_basis("lq_act", [0.5, 1.0])  # largest level 1.5
    x = torch.tensor([-1.0, -1e-9, 0.0, 0.4, 1.5, 1.5 + 1e-9, 3.0], dtype=torch.float64)
    g = randn(len(x), seed=5)
    expected = g * torch.tensor([0, 0, 1, 1, 1, 0, 0], dtype=torch.float64)
    assert torch.equal(grad_of(q, x, g), expected)


def test_basis_is_a_buffer_not_a_parameter() -> None:
    for name in LQ_NAMES:
        q = lq(name)
        assert list(q.parameters()) == []
        assert {"basis", "initialised"} <= set(dict(q.named_buffers()))


# --------------------------------------------------------------------------------------------
# QEM: the basis update
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "momentum"), [("lq_weight", 0.9), ("lq_act", 0.9),
                                                ("lq_weight", 0.5), ("lq_act", 0.0)])
def test_qem_moves_one_minus_m_of_the_way_to_least_squares(name: str, momentum: float) -> None:
    basis = [0.5, 1.0]
    q = with_basis(name, basis, momentum=momentum)
    # levels (a, b) = (0.4, 1.1) plus noise: the fitted basis stays positive and ascending
    signed = name == "lq_weight"
    table = encodings(2, signed=signed).to(torch.float64)
    pick = torch.randint(0, 4, (300,), generator=torch.Generator().manual_seed(7))
    x = table[pick] @ torch.tensor([0.4, 1.1], dtype=torch.float64) + randn(300, seed=8,
                                                                          scale=0.05)
    b = torch.stack([c.to(torch.float64) for c, _ in q.int_repr(x)], dim=1)
    v_star = torch.linalg.lstsq(b, x[:, None]).solution[:, 0]
    v = torch.tensor(basis, dtype=torch.float64)
    y = q(x)  # training mode: quantises with v, then refits it
    torch.testing.assert_close(y, with_basis(name, basis).eval()(x), rtol=0, atol=0)
    torch.testing.assert_close(q.basis, v + (1 - momentum) * (v_star - v), rtol=1e-12,
                               atol=1e-12)


def test_qem_keeps_an_unused_base() -> None:
    # Every input below the first midpoint: all-zero codes, a rank-0 B; the basis stays.
    q = with_basis("lq_act", [0.5, 1.0])
    q(torch.full((10,), -1.0, dtype=torch.float64))
    assert q.basis.tolist() == [0.5, 1.0]


@pytest.mark.parametrize("name", LQ_NAMES)
def test_qem_never_increases_the_quantisation_error(name: str) -> None:
    q = lq(name, bases=3).double()
    x = randn(2000, seed=9, scale=1.0).abs() * 1.3 if name == "lq_act" else randn(2000, seed=9)
    errors = [quant_error(q, x)]
    for _ in range(15):
        q(x)
        errors.append(quant_error(q, x))
    assert all(b <= a * (1 + 1e-12) for a, b in itertools.pairwise(errors)), errors
    assert errors[-1] < errors[0]


@pytest.mark.parametrize("name", LQ_NAMES)
def test_eval_mode_freezes_the_basis(name: str) -> None:
    q = lq(name).double()
    before = q.basis.clone(), q.initialised.clone()
    q.eval()
    x = randn(100, seed=10)
    y = q(x)
    assert torch.equal(q.basis, before[0]) and torch.equal(q.initialised, before[1])
    assert torch.equal(q(x), y)


def test_weight_initial_basis_and_flag() -> None:
    # v_k = 2^k · 0.6745·rms / 2^(K−1), taken from the first weight seen, once
    w = randn(4, 9, seed=11, scale=0.3)
    rms = float(w.pow(2).mean().sqrt())
    q = lq("lq_weight", bases=3).double()
    assert not bool(q.initialised)
    expected = [0.6745 * rms / 4 * 2**k for k in range(3)]
    scales = [float(s) for _, s in q.int_repr(w)]  # before training: computed, not stored
    assert scales == pytest.approx(expected, rel=1e-12)
    assert q.basis.tolist() == [0.0, 0.0, 0.0]
    q(w)
    assert bool(q.initialised)
    q(w * 100)  # a later, larger tensor refits the basis by QEM, it does not re-initialise it
    reset = 0.9 * 100 * expected[0]
    assert bool(q.initialised) and float(q.basis[0]) < 0.5 * reset


@pytest.mark.parametrize("bases", [1, 2, 4])
def test_activation_initial_basis(bases: int) -> None:
    q = lq("lq_act", bases=bases)
    step = 3.0 / (2**bases - 1)
    assert q.basis.tolist() == pytest.approx([step * 2**k for k in range(bases)])
    assert bool(q.initialised)
    levels = levels_of(q.basis.tolist(), signed=False)
    assert float(levels[0]) == 0.0 and float(levels[-1]) == pytest.approx(3.0)


def test_fitted_basis_is_stored_in_its_valid_form() -> None:
    # weights: |v| ascending, the same level set {±1.2, ±0.8} as the fit (1, −0.2)
    w = with_basis("lq_weight", [1.0, -0.2], momentum=0.0)
    x = torch.tensor([-1.2, -0.8, 0.8, 1.2] * 5, dtype=torch.float64)
    w(x)
    torch.testing.assert_close(w.basis, torch.tensor([0.2, 1.0], dtype=torch.float64))
    assert torch.equal(w.eval()(x), x)
    # activations: ascending, and clamped to a tiny positive minimum
    a = with_basis("lq_act", [1.0, 0.5], momentum=0.0)
    a(torch.tensor([0.0, 0.5, 1.0, 1.5] * 5, dtype=torch.float64))
    torch.testing.assert_close(a.basis, torch.tensor([0.5, 1.0], dtype=torch.float64))
    clamped = a._valid(torch.tensor([-0.3, 2.0], dtype=torch.float64))
    assert clamped.tolist() == [1e-6, 2.0]


# --------------------------------------------------------------------------------------------
# Integer view and state
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "alphabet"), [("lq_weight", {-1, 1}), ("lq_act", {0, 1})])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_int_repr_is_exact(name: str, alphabet: set[int], dtype: torch.dtype) -> None:
    q = lq(name, bases=3)
    x = randn(3, 4, 5, seed=12, dtype=dtype)
    for _ in range(3):  # fresh, then after a few QEM steps
        rep = q.int_repr(x)
        assert len(rep) == 3
        for k, (codes, scale) in enumerate(rep):
            assert codes.dtype == CODE_DTYPE and codes.shape == x.shape
            assert set(codes.unique().tolist()) <= alphabet
            assert scale.dim() == 0 and scale.dtype == dtype
            if bool(q.initialised):
                assert float(scale) == float(q.basis[k].to(dtype))  # ordered by k
        out = q.dequantize(rep)
        assert out.dtype == dtype
        assert torch.equal(out, q(x))


@pytest.mark.parametrize("name", LQ_NAMES)
def test_state_dict_round_trip(name: str) -> None:
    q = lq(name)
    x = randn(64, seed=13)
    for _ in range(3):
        q(x)
    state = q.state_dict()
    assert set(state) == {"basis", "initialised"}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    fresh = lq(name)
    fresh.load_state_dict(torch.load(buffer))
    assert torch.equal(fresh.basis, q.basis) and bool(fresh.initialised)
    assert torch.equal(fresh.eval()(x), q.eval()(x))


@pytest.mark.parametrize("name", LQ_NAMES)
@pytest.mark.parametrize("kwargs", [{"bases": 0}, {"bases": 9}, {"bases": 2.0},
                                    {"bases": True}, {"bits": 9}, {"bases": 2, "bits": 3}])
def test_bad_bases_raise_value_error(name: str, kwargs: dict) -> None:
    with pytest.raises(ValueError, match=rf"quantizer '{name}'.*(bases=1 to 8|bits == bases)"):
        lq(name, **kwargs)


@pytest.mark.parametrize("momentum", [-0.1, 1.5, float("nan"), True])
def test_bad_momentum_raises_value_error(momentum: float) -> None:
    with pytest.raises(ValueError, match=r"lq_act.*momentum in \[0, 1\]"):
        lq("lq_act", momentum=momentum)


def test_kind_bits_and_defaults() -> None:
    for name in LQ_NAMES:
        q = lq(name)
        assert (q.kind, q.bits, q.format.bases, q.momentum) == ("bases", 2, 2, 0.9)
        assert lq(name, bits=4).bits == lq(name, bases=4).bits == 4
    assert isinstance(lq("lq_weight"), LqWeight) and isinstance(lq("lq_act"), LqActivation)


# --------------------------------------------------------------------------------------------
# In a model
# --------------------------------------------------------------------------------------------


def test_quant_spec_builds_lq_layers() -> None:
    spec = {"default": {"weights": {"kind": "bases", "bases": 2, "quantizer": "lq_weight"},
                        "activations": {"kind": "bases", "bases": 2, "quantizer": "lq_act"}}}
    config = parse_quant(spec)
    assert config.default.compact() == "wb2ab2"
    body = mac_layers(build_model("lfc", config))["fc2"]
    assert isinstance(body.weight_quantizer, LqWeight)
    assert isinstance(body.input_quantizer, LqActivation)


def test_tiny_model_learns() -> None:
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(14)
    x = torch.rand(64, 12, generator=gen) * 3
    y = (x[:, :6].sum(1) > x[:, 6:].sum(1)).long()
    model = nn.Sequential(
        QLinear(12, 16, weight_quantizer=lq("lq_weight"), input_quantizer=lq("lq_act")),
        nn.BatchNorm1d(16),
        QLinear(16, 2, weight_quantizer=lq("lq_weight"), input_quantizer=lq("lq_act")),
    )
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    losses = []
    for _ in range(30):
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert sum(losses[-5:]) / 5 < 0.8 * sum(losses[:5]) / 5, losses
