"""The contract every quantiser meets, importable in the style of ``optuna.testing``.

Subclass :class:`QuantizerContract` and supply a ``name`` fixture (a registered quantiser
name, ``reference.quantizers.REGISTRY``). Imports torch and pytest (a test extra); nothing in
the reference imports this module.
"""

from __future__ import annotations

import pytest
import torch

from reference.quantizers import CODE_DTYPE, Quantizer, get
from workloads.formats import NumberFormat
from workloads.quant import ACTIVATION_QUANTIZERS, WEIGHT_QUANTIZERS

__all__ = ["SHAPE", "QuantizerContract", "randn"]

SHAPE = (2, 3, 5, 5)  # (N, C, H, W) for activations, (out, in, kh, kw) for weights


def randn(*shape: int, seed: int = 0, scale: float = 1.5,
          dtype: torch.dtype = torch.float64) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(*shape, generator=gen, dtype=torch.float64) * scale).to(dtype)


def _grad_of(q: torch.nn.Module, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    x = x.detach().clone().requires_grad_(True)
    (dx,) = torch.autograd.grad(q(x), x, grad_outputs=g)
    return dx


class QuantizerContract:
    """Checks every quantiser passes: metadata is a valid number format, shapes and dtypes
    survive, gradients are finite and flow, results are deterministic, and the integer view
    (``int_repr``) reconstructs the forward pass exactly."""

    def test_get_builds_a_fresh_quantizer(self, name: str) -> None:
        a, b = get(name), get(name)
        assert isinstance(a, Quantizer) and isinstance(a, torch.nn.Module)
        assert a is not b

    def test_format_is_a_number_format(self, name: str) -> None:
        q = get(name)
        assert isinstance(q.format, NumberFormat)
        assert (q.kind, q.bits) == (q.format.kind, q.format.bits)
        if q.kind == "bases":
            assert q.bits == q.format.bases >= 1

    def test_listed_for_its_kind(self, name: str) -> None:
        """Quantisation configs may name it, for the kind it produces."""
        q = get(name)
        listed = {k for table in (WEIGHT_QUANTIZERS, ACTIVATION_QUANTIZERS)
                  for k, names in table.items() if name in names}
        assert q.kind in listed, (name, q.kind, listed)

    def test_shape_and_dtype_preserved(self, name: str) -> None:
        q = get(name)
        for dtype in (torch.float32, torch.float64):
            y = q(randn(*SHAPE, dtype=dtype))
            assert y.shape == SHAPE and y.dtype == dtype
            assert torch.isfinite(y).all()

    def test_backward_gives_finite_grads(self, name: str) -> None:
        q = get(name)
        x = randn(*SHAPE, dtype=torch.float32).requires_grad_(True)
        q(x).backward(randn(*SHAPE, seed=1, dtype=torch.float32))
        assert x.grad is not None and torch.isfinite(x.grad).all()
        assert x.grad.abs().sum() > 0
        for p in q.parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all()

    def test_deterministic(self, name: str) -> None:
        """Two fresh quantisers agree call for call, and a call changes nothing — in training
        too, unless the quantiser declares ``updates_in_training`` (LQ-Nets' QEM refits its
        basis each training step); in eval mode always."""
        x, g = randn(*SHAPE), randn(*SHAPE, seed=1)
        q1, q2 = get(name).double(), get(name).double()
        assert torch.equal(q1(x), q2(x))
        assert torch.equal(_grad_of(q1, x, g), _grad_of(q2, x, g))
        if not getattr(q1, "updates_in_training", False):
            assert torch.equal(q1(x), q1(x))
        q1.eval()
        assert torch.equal(q1(x), q1(x))
        assert torch.equal(_grad_of(q1, x, g), _grad_of(q1, x, g))

    def test_int_repr_reconstructs_forward(self, name: str) -> None:
        q = get(name)
        x = randn(*SHAPE, dtype=torch.float32)
        if q.kind == "float":  # full precision has no integer form
            with pytest.raises(NotImplementedError):
                q.int_repr(x)
            return
        rep = q.int_repr(x)
        pairs = rep if isinstance(rep, list) else [rep]
        if q.kind == "bases":
            assert isinstance(rep, list) and len(rep) == q.format.bases
        for codes, scale in pairs:
            assert codes.dtype == CODE_DTYPE and codes.shape == x.shape
            assert scale.is_floating_point()
            levels = codes.unique()
            if q.kind == "binary":
                assert set(levels.tolist()) <= {-1, 1}
            elif q.kind == "bases":  # ±1 sign planes, or 0/1 bit planes where declared
                allowed = {0, 1} if getattr(q, "zero_one_planes", False) else {-1, 1}
                assert set(levels.tolist()) <= allowed
            elif q.kind == "ternary":
                assert set(levels.tolist()) <= {-1, 0, 1}
            else:
                assert levels.numel() <= 2 ** q.bits
        assert torch.equal(q.dequantize(rep), q(x))
