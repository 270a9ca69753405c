"""Group-Net's layer-wise binary branches: forward values, backward rules, the integer view,
K = 1 as a plain binary network, and its latent weights clipped like BNN's."""

from __future__ import annotations

import pytest
import torch

from reference.layers import QLinear
from reference.models import build_model
from reference.quantizers import GroupNetWeight, get


def _bound(k: int, shape: tuple[int, ...] = (3, 4)) -> GroupNetWeight:
    q = get("groupnet_weight", bases=k)
    assert isinstance(q, GroupNetWeight)
    q.bind(torch.zeros(shape))
    return q.double()


def test_forward_is_the_scaled_sum_of_branch_signs() -> None:
    torch.manual_seed(0)
    q = _bound(3)
    q.scales.data = torch.tensor([0.5, -0.25, 2.0], dtype=torch.float64)
    w = torch.tensor([[0.3, -0.2, 0.0, 1.5]] * 3, dtype=torch.float64)
    b1, b2 = (b.detach() for b in q.branches)
    expected = (0.5 * torch.where(w >= 0, 1.0, -1.0) - 0.25 * torch.where(b1 >= 0, 1.0, -1.0)
                + 2.0 * torch.where(b2 >= 0, 1.0, -1.0))
    assert torch.equal(q(w), expected)
    assert torch.equal(q.dequantize(q.int_repr(w)), q(w))
    codes = [c for c, _ in q.int_repr(w)]
    assert all(c.dtype == torch.int32 and set(c.unique().tolist()) <= {-1, 1} for c in codes)
    assert [float(s) for _, s in q.int_repr(w)] == [0.5, -0.25, 2.0]


def test_backward_each_branch_clipped_ste_times_its_scale() -> None:
    torch.manual_seed(1)
    q = _bound(2, (1, 5))
    q.scales.data = torch.tensor([0.75, 1.5], dtype=torch.float64)
    w = torch.tensor([[0.2, -1.0, 1.3, -0.4, 0.0]], dtype=torch.float64, requires_grad=True)
    q.branches[0].data = torch.tensor([[-2.0, 0.5, 0.9, -0.1, 1.0]], dtype=torch.float64)
    g = torch.tensor([[1.0, 2.0, -1.0, 0.5, 3.0]], dtype=torch.float64)
    (q(w) * g).sum().backward()
    assert w.grad is not None and q.branches[0].grad is not None
    assert torch.equal(w.grad,
                       0.75 * g * torch.tensor([[1.0, 1, 0, 1, 1]], dtype=torch.float64))
    assert torch.equal(q.branches[0].grad,
                       1.5 * g * torch.tensor([[0.0, 1, 1, 1, 1]], dtype=torch.float64))
    signs = torch.stack([torch.where(w.detach() >= 0, 1.0, -1.0)[0],
                         torch.where(q.branches[0].detach() >= 0, 1.0, -1.0)[0]])
    assert q.scales.grad is not None
    torch.testing.assert_close(q.scales.grad, (signs * g[0]).sum(dim=1))


def test_branches_are_distinct_parameters_of_the_layer() -> None:
    torch.manual_seed(2)
    layer = QLinear(16, 8, weight_quantizer=get("groupnet_weight", bases=4))
    q = layer.weight_quantizer
    assert len(q.branches) == 3 and all(b.shape == layer.weight.shape for b in q.branches)
    names = {n for n, _ in layer.named_parameters()}
    assert {"weight_quantizer.scales", "weight_quantizer.branches.2"} <= names
    signs = [torch.sign(b.detach()) for b in (layer.weight, *q.branches)]
    assert all(not torch.equal(signs[0], s) for s in signs[1:])
    assert torch.equal(q.scales.detach(), torch.full((4,), 0.25))


def test_used_alone_it_binds_from_a_fixed_seed_and_bad_input_is_clear() -> None:
    w = torch.randn(3, 4)
    a, b = get("groupnet_weight", bases=2), get("groupnet_weight", bases=2)
    assert torch.equal(a(w), b(w)) and len(a.branches) == 1
    with pytest.raises(ValueError, match=r"branches are \(3, 4\)"):
        a(torch.zeros(2, 2))
    with pytest.raises(ValueError, match="2 or more"):
        get("groupnet_weight", bases=2)(torch.zeros(5))
    with pytest.raises(ValueError, match=r"groupnet_weight.*1 to 8"):
        get("groupnet_weight", bases=9)


def test_one_branch_is_a_plain_binary_network() -> None:
    """K = 1 with λ = 1: the same initial weights (no branch draws from the generator) and the
    same outputs as BNN's sign weights, and the same gradient on the latent weight."""
    spec = {"default": {"weights": {"kind": "bases", "bases": 1, "quantizer": "groupnet_weight"},
                        "activations": {"kind": "binary", "quantizer": "sign"}}}
    plain_spec = {"default": {"weights": {"kind": "binary", "quantizer": "sign"},
                              "activations": {"kind": "binary", "quantizer": "sign"}}}
    torch.manual_seed(3)
    group = build_model("lfc", spec)
    torch.manual_seed(3)
    plain = build_model("lfc", plain_spec)
    x = torch.randn(8, 1, 28, 28)
    y = torch.randint(0, 10, (8,))
    outs = []
    for net in (group, plain):
        net.train()
        torch.manual_seed(4)  # (the same dropout masks)
        out = net(x)
        torch.nn.functional.cross_entropy(out, y).backward()
        outs.append(out)
    assert torch.equal(outs[0], outs[1])
    assert torch.equal(group.fc2.weight.grad, plain.fc2.weight.grad)


def test_training_clips_every_branch() -> None:
    """Every branch's latent weights start at ±2 (copied in by ``init``) and training clips
    them into [−1, 1] (without the clip, a few Adam steps would leave them near 2)."""
    from reference.data import synthetic_dataset
    from reference.train import train

    spec = {"default": {"weights": {"kind": "bases", "bases": 3, "quantizer": "groupnet_weight"},
                        "activations": {"kind": "binary", "quantizer": "sign"}}}
    start = build_model("sfc", spec)
    with torch.no_grad():
        for m in start.modules():
            if isinstance(m, GroupNetWeight):
                for b in m.branches:
                    b.copy_(torch.where(b >= 0, 2.0, -2.0))
    data = (synthetic_dataset(split="train", shape=(1, 28, 28), size=128),
            synthetic_dataset(split="test", shape=(1, 28, 28), size=64))
    result = train("sfc", spec, data, 1, batch_size=32, lr=0.05, progress=False, seed=0,
                   init=start)
    branches = [b for m in result.model.modules() if isinstance(m, GroupNetWeight)
                for b in m.branches]
    assert branches and all(float(b.detach().abs().max()) <= 1.0 for b in branches)
    assert any(float(b.detach().abs().max()) == 1.0 for b in branches)  # (they were at 2)
