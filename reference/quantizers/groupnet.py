"""Group-Net's binary branches (Zhuang, Shen, Tan, Liu & Reid, "Structured Binary Neural
Networks for Accurate Image Classification and Semantic Segmentation", CVPR 2019; first as
"Training Compact Neural Networks with Binary Weights and Low Precision Activations", 2018).

Group-Net replaces a real-valued layer by K *homogeneous* binary branches, each with its own
latent weights, and sums their outputs with learned scales: ``y = Σ_k λ_k · (B_k ⊛ sign(x))``
with ``B_k = sign(W_k)``. This module is the layer-wise decomposition. Because a convolution is
linear in its weights, the K branches over one binary input equal one convolution with the
weight ``Σ_k λ_k·B_k`` — so the decomposition is a weight quantiser whose bases are the K
branches: on hardware, K binary passes and a scaled sum (the format ``bases``, like ABC-Net's,
but each base is trained on its own rather than fitted to one real tensor).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from reference.quantizers._base import Codes, Quantizer, sign_codes, straight_through
from reference.quantizers.bases import _resolve_bases

__all__ = ["GroupNetWeight"]


class GroupNetWeight(Quantizer):
    """Group-Net's layer-wise binary branches, registry name ``groupnet_weight`` (kwarg
    ``bases`` K, default 4 — the paper's main setting — 1 to 8).

    Branch 0 binarises the layer's own latent weight; branches 1 … K−1 hold their own latent
    weights (``branches``, created by :meth:`bind` with the layer's shape and PyTorch's default
    initialisation for it, so each branch starts different; a quantiser used on its own binds
on first use, from a fixed seed). ``scales`` λ (shape (K,), one per
    branch, trainable) start at 1/K — K = 1 is then exactly a plain binary layer
    (``sign`` weights).

    Forward: ``Σ_k λ_k · sign(W_k)`` (+1 at 0). Backward: each branch's clipped
    straight-through estimator, ``∂L/∂W_k = λ_k · ∂L/∂Ŵ · 1{|W_k| ≤ 1}`` (BNN's rule, the
    paper's), and ``∂L/∂λ_k = Σ ∂L/∂Ŵ · sign(W_k)``.

    ``int_repr(W)``: ``[(sign(W_1), λ_1), …, (sign(W_K), λ_K)]``, ±1 int32 codes and 0-d
    scales, W_1 being the layer's weight.
    """

    def __init__(self, *, bases: int | None = None, bits: int | None = None) -> None:
        count = _resolve_bases("groupnet_weight", bases, bits, default=4)
        super().__init__(kind="bases", bits=count)
        self.bases = count
        self.scales = nn.Parameter(torch.full((count,), 1.0 / count))
        self.branches = nn.ParameterList()

    def bind(self, w: Tensor, *, generator: torch.Generator | None = None) -> None:
        """Create the K − 1 further branches with the layer weight's shape, each initialised
        as PyTorch initialises a layer's weight (Kaiming-uniform, a = √5), from torch's
        global generator unless ``generator`` is given. (A layer binds its quantiser when it
        is built, so the branches are parameters of the model from the start.)"""
        if self._bound(w):
            return
        fresh = []
        for _ in range(self.bases - 1):
            p = torch.empty(w.shape, dtype=w.dtype, device=w.device)
            if p.dim() < 2:
                raise ValueError("groupnet_weight binarises a layer's weight (2 or more "
                                 f"dimensions), not a {tuple(w.shape)} tensor")
            nn.init.kaiming_uniform_(p, a=math.sqrt(5), generator=generator)
            fresh.append(nn.Parameter(p))
        self.branches = nn.ParameterList(fresh)

    def _bound(self, w: Tensor) -> bool:
        return len(self.branches) == self.bases - 1 and all(
            b.shape == w.shape for b in self.branches)

    def _latents(self, x: Tensor) -> list[Tensor]:
        if not self._bound(x):
            if len(self.branches):
                raise ValueError(f"groupnet_weight's branches are {tuple(self.branches[0].shape)}"
                                 f", not the {tuple(x.shape)} of the weight it is given")
            # used on its own, not through a layer: branches from a fixed seed (deterministic)
            self.bind(x.detach(), generator=torch.Generator(x.device).manual_seed(0))
        return [x, *self.branches]

    def int_repr(self, x: Tensor) -> list[Codes]:
        """One ``(±1 codes, λ_k)`` pair per branch, the layer's own weight first."""
        return [(sign_codes(w.detach()), self.scales[k].detach().to(x.dtype))
                for k, w in enumerate(self._latents(x))]

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor | None = None
        for k, w in enumerate(self._latents(x)):
            signs = sign_codes(w.detach()).to(x.dtype)
            binary = straight_through(signs, w * (w.detach().abs() <= 1).to(x.dtype))
            term = binary * self.scales[k].to(x.dtype)
            out = term if out is None else out + term
        assert out is not None
        return out

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, bases={self.bases}"
