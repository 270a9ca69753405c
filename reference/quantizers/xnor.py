"""XNOR-Net's scaled binarisers (Rastegari et al., ECCV 2016): ``sign(·)`` times a real scale.

Weights: ``sign(W) · α`` with one α = mean|W| per output channel. Activations: ``sign(x) · β``
with β the K map (mean |x| over channels, averaged over the k×k kernel window) or one
scalar per sample; a quantised layer applies β to its output, as the paper does.
"""

from __future__ import annotations

from typing import Literal

import torch.nn.functional as F
from torch import Tensor

from reference.quantizers._base import Codes, Quantizer, check_bits, sign_codes, straight_through

__all__ = ["BiRealWeight", "XnorActivation", "XnorWeight"]


class XnorWeight(Quantizer):
    """XNOR-Net weights, registry name ``xnor_weight``: ``sign(W) · α``, α = mean|W| per filter.

    α is taken over every dimension but the first (output channels). Backward is the paper's
    rule (Sec. 3.1): ``∂C/∂W_i = ∂C/∂W̃_i · (1/n + α · 1{|W_i| ≤ 1})`` with n the number of
    elements of one filter. The 1/n term is the paper's simplification of the derivative of α;
    the cross terms ``sign(W_i)·sign(W_j)/n`` of the exact chain rule are not included.

    ``int_repr(W)``: ±1 int32 codes and α of shape ``(out_channels, 1, ..., 1)``.
    """

    def __init__(self, *, bits: int = 1) -> None:
        check_bits("xnor_weight", bits, range(1, 2))
        super().__init__(kind="binary", bits=1)

    @staticmethod
    def _check(w: Tensor) -> None:
        if w.dim() < 2:
            raise ValueError("xnor_weight expects a weight of shape (out_channels, ...), "
                             f"got shape {tuple(w.shape)}")

    def int_repr(self, x: Tensor) -> Codes:
        """±1 codes and the per-output-channel scale α = mean|W| (shape ``(C, 1, ...)``)."""
        self._check(x)
        w = x.detach()
        alpha = w.abs().mean(dim=tuple(range(1, w.dim())), keepdim=True)
        return sign_codes(w), alpha

    def forward(self, x: Tensor) -> Tensor:
        codes, alpha = self.int_repr(x)
        n = x[0].numel()
        factor = 1.0 / n + alpha * (x.detach().abs() <= 1).to(x.dtype)
        return straight_through(self.dequantize((codes, alpha)), x * factor)


class BiRealWeight(XnorWeight):
    """Bi-Real Net's magnitude-aware weights (Liu et al., ECCV 2018, Sec. 3.3), registry name
    ``bireal_weight``: the forward pass of XNOR-Net's, ``sign(W) · α`` with α = mean|W| per
    output channel; the backward pass scales the clipped STE by the channel's magnitude,
    ``∂L/∂W = ∂L/∂W_b · α · 1{|W| ≤ 1}`` (α a constant: the paper's magnitude-aware gradient,
    without XNOR-Net's 1/n term through α).

    ``int_repr(W)``: as :class:`XnorWeight` (±1 codes and α per channel).
    """

    def forward(self, x: Tensor) -> Tensor:
        codes, alpha = self.int_repr(x)
        factor = alpha * (x.detach().abs() <= 1).to(x.dtype)
        return straight_through(self.dequantize((codes, alpha)), x * factor)


class XnorActivation(Quantizer):
    """XNOR-Net activations, registry name ``xnor_act``: ``sign(x) · β``.

    ``mode="k_map"`` (the paper's K): A = mean over channels of |x|, then β = A averaged over
    a ``kernel_size``² window (zero padding counted, as convolving A with a 1/k² filter).
    Inside a :class:`~reference.layers.QConv2d` the layer does what the paper does: it
    convolves the ±1 codes of :meth:`signs` and multiplies the convolution *output* by
    :meth:`k_map` (K at the convolution's own output positions, ``stride``, ``padding``);
    inside a :class:`~reference.layers.QLinear` it multiplies the output by the per-sample
    β. Used on its own, ``forward`` needs an elementwise β, so it evaluates K at every input
    position (stride 1, padding ``kernel_size // 2``; kernel size must be odd), which equals
    :meth:`k_map` subsampled every ``stride`` positions when ``padding == kernel_size // 2``.
    ``mode="per_sample"``: one β per sample, mean |x| over all non-batch dimensions (for
    convolutions this equals scaling the output). Inputs that are not 4-D (N, C, H, W) always
    use the per-sample β.

    Backward: the clipped STE through the sign (``1{|x| ≤ 1}``, times β) plus the exact
    gradient through β (β is a differentiable function of x).

    ``int_repr(x)``: ±1 int32 codes and β of shape ``(N, 1, H, W)`` or ``(N, 1, ..., 1)``.
    """

    def __init__(
        self,
        *,
        mode: Literal["k_map", "per_sample"] = "k_map",
        kernel_size: int = 3,
        stride: int = 1,
        padding: int | None = None,
        bits: int = 1,
    ) -> None:
        check_bits("xnor_act", bits, range(1, 2))
        super().__init__(kind="binary", bits=1)
        if mode not in ("k_map", "per_sample"):
            raise ValueError(f"quantizer 'xnor_act' takes mode='k_map' or 'per_sample', "
                             f"not {mode!r}")
        if not (isinstance(kernel_size, int) and kernel_size >= 1 and kernel_size % 2 == 1):
            raise ValueError(f"quantizer 'xnor_act' takes an odd kernel_size >= 1, "
                             f"not {kernel_size!r}")
        if not (isinstance(stride, int) and stride >= 1):
            raise ValueError(f"quantizer 'xnor_act' takes stride >= 1, not {stride!r}")
        padding = kernel_size // 2 if padding is None else padding
        if not (isinstance(padding, int) and 0 <= padding <= kernel_size // 2):
            raise ValueError(f"quantizer 'xnor_act' takes 0 <= padding <= kernel_size // 2, "
                             f"not {padding!r}")
        self.mode = mode
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding

    def _channel_mean(self, x: Tensor) -> Tensor:
        return x.abs().mean(dim=1, keepdim=True)

    def scale(self, x: Tensor) -> Tensor:
        """β broadcastable to ``x`` (differentiable): K at input positions, or per sample."""
        if self.mode == "k_map" and x.dim() == 4:
            k = self.kernel_size
            return F.avg_pool2d(self._channel_mean(x), k, stride=1, padding=k // 2,
                                count_include_pad=True)
        if x.dim() < 2:
            raise ValueError(f"xnor_act expects a batch (N, ...), got shape {tuple(x.shape)}")
        return x.abs().mean(dim=tuple(range(1, x.dim())), keepdim=True)

    def k_map(self, x: Tensor) -> Tensor:
        """The paper's K at the convolution's output positions: shape ``(N, 1, H_out, W_out)``."""
        if x.dim() != 4:
            raise ValueError(f"k_map expects (N, C, H, W), got shape {tuple(x.shape)}")
        return F.avg_pool2d(self._channel_mean(x), self.kernel_size, stride=self.stride,
                            padding=self.padding, count_include_pad=True)

    def int_repr(self, x: Tensor) -> Codes:
        """±1 codes and the β used by ``forward``."""
        xd = x.detach()
        return sign_codes(xd), self.scale(xd)

    def signs(self, x: Tensor) -> Tensor:
        """±1 values of ``x`` with the clipped straight-through gradient ``1{|x| ≤ 1}``."""
        codes = sign_codes(x.detach())
        return straight_through(codes.to(x.dtype), x * (x.detach().abs() <= 1).to(x.dtype))

    def output_scale(self, x: Tensor) -> Tensor:
        """The factor a MAC layer applies to its output: K at the conv's output positions
        (``k_map``, 4-D input in ``k_map`` mode), else the per-sample β ``(N, 1, ...)``."""
        if self.mode == "k_map" and x.dim() == 4:
            return self.k_map(x)
        return self.scale(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.signs(x) * self.scale(x)

    def extra_repr(self) -> str:
        return (f"{super().extra_repr()}, mode={self.mode!r}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}")
