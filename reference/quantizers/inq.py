"""INQ: incremental network quantisation to powers of two or zero (Zhou, Yao, Guo, Xu, Chen,
"Incremental Network Quantization: Towards Lossless CNNs with Low-Precision Weights", ICLR
2017)."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from reference.quantizers._base import CODE_DTYPE, Codes, Quantizer, check_bits, straight_through

__all__ = ["IncrementalPow2", "pow2_levels"]


def pow2_levels(peak: float, bits: int) -> tuple[int, int]:
    """(n1, n2): the exponents of the largest and smallest magnitude, ``2^n1`` … ``2^n2``
    (the paper's eq. 2–3): ``n1 = ⌊log2(4·s/3)⌋`` with s the layer's largest |W|, and
    ``n2 = n1 + 1 − 2^(b−1)/2`` — b bits are a sign, a zero and ``2^(b−1)/2`` magnitudes."""
    n1 = math.floor(math.log2(4.0 * peak / 3.0)) if peak > 0 else 0
    return n1, n1 + 1 - 2 ** (bits - 1) // 2


def _to_levels(w: Tensor, n1: int, n2: int) -> Tensor:
    """The paper's eq. 4: ``β·sgn(w)`` for ``(α + β)/2 ≤ |w| < 3β/2`` with α < β adjacent in
    ``{0, 2^n2, …, 2^n1}``; 0 below ``2^n2 / 2``."""
    a = w.abs()
    # the exponent whose interval [3/4·2^e, 3/2·2^e) holds |w| is round-down of log2(4|w|/3)
    e = torch.floor(torch.log2(a.clamp_min(torch.finfo(a.dtype).tiny) * 4.0 / 3.0))
    e = e.clamp(max=n1)
    mag = torch.exp2(e)
    smallest = 2.0**n2
    out = torch.where(e >= n2, mag, torch.where(a >= smallest / 2, smallest, 0.0))
    return torch.sign(w) * out


class IncrementalPow2(Quantizer):
    """INQ weights, registry name ``inq`` (kwarg ``bits`` b, 2 to 5; default 5, the paper's —
    b bits give codes up to ``±2^(2^(b−1)/2 − 1)``, 128 at b = 5).

    Weights become ``±2^n`` (n from n2 to n1, see :func:`pow2_levels`) or 0, *incrementally*:
    a ``frozen`` mask (a buffer) marks the weights already quantised; the rest stay full
    precision and keep training. :meth:`advance` to an accumulated portion (the paper's 50 %,
    75 %, 87.5 %, 100 %) quantises and freezes the largest-magnitude weights not yet frozen
    (the paper's pruning-inspired partition); ``reference.train.train(inq_stages=…)`` calls it
    at the start of each stage. Forward: frozen weights at their power of two, the others as
    they are; backward: the gradient reaches only the weights not yet frozen (the paper's
    eq. 6 mask). A frozen weight's value is fixed when it freezes (n1 and n2 from the layer's
    largest |W| then). Outside a schedule (never advanced) every weight is quantised on the fly
    with the straight-through gradient — a plain power-of-two quantiser.

    ``int_repr(W)`` (every weight frozen, or none ever): signed int32 codes ``Ŵ / 2^n2`` — a
    sign and a power of two up to ``2^(n1 − n2)``, or 0 — and the 0-d scale ``2^n2``.
    """

    def __init__(self, *, bits: int = 5) -> None:
        bits = check_bits("inq", bits, range(2, 6))
        super().__init__(kind="pow2", bits=bits)  # b bits stored: a sign, a zero, the exponent
        self.inq_bits = bits
        self.frozen: Tensor
        self.values: Tensor
        self.exponents: Tensor
        self.register_buffer("frozen", torch.zeros(0, dtype=torch.bool), persistent=True)
        self.register_buffer("values", torch.zeros(0), persistent=True)
        self.register_buffer("exponents", torch.zeros(2, dtype=torch.int64), persistent=True)

    def bind(self, w: Tensor) -> None:
        """Size the freeze masks for the layer's weight (so its state dict has their shape
        from the start, as a checkpoint's does)."""
        self._ensure(w.detach())

    def _ensure(self, w: Tensor) -> None:
        if self.frozen.shape != w.shape:
            self.frozen = torch.zeros_like(w, dtype=torch.bool)
            self.values = torch.zeros_like(w)

    def _load_from_state_dict(self, state_dict: Any, prefix: str, *args: Any,
                              **kwargs: Any) -> None:
        # the masks take the stored weights' shape (a fresh model's are empty)
        for name in ("frozen", "values"):
            stored = state_dict.get(prefix + name)
            if stored is not None and stored.shape != getattr(self, name).shape:
                setattr(self, name, torch.zeros_like(stored))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @torch.no_grad()
    def advance(self, w: Tensor, portion: float) -> None:
        """Freeze the largest-magnitude weights until ``portion`` (0 < portion ≤ 1) of them
        are quantised (n1, n2 set from the layer's largest |W| the first time)."""
        if not 0 < portion <= 1:
            raise ValueError(f"an INQ portion is in (0, 1], not {portion!r}")
        w = w.detach()
        self._ensure(w)
        if not self.frozen.any():
            n1, n2 = pow2_levels(float(w.abs().max()), self.inq_bits)
            self.exponents = torch.tensor([n1, n2], dtype=torch.int64, device=w.device)
        n1, n2 = (int(v) for v in self.exponents)
        target = math.ceil(portion * w.numel())
        need = target - int(self.frozen.sum())
        if need <= 0:
            return
        free = torch.where(self.frozen, torch.full_like(w, -1.0), w.abs()).reshape(-1)
        chosen = torch.topk(free, need).indices
        mask = torch.zeros_like(free, dtype=torch.bool)
        mask[chosen] = True
        mask = mask.reshape(w.shape)
        self.values = torch.where(mask, _to_levels(w, n1, n2).to(self.values.dtype),
                                  self.values)
        self.frozen = self.frozen | mask

    @property
    def complete(self) -> bool:
        return bool(self.frozen.numel()) and bool(self.frozen.all())

    def int_repr(self, x: Tensor) -> Codes:
        """Signed codes ``Ŵ / 2^n2`` and the scale ``2^n2`` (every weight frozen; before
        that the weights are not all quantised: a ``ValueError``)."""
        self._ensure(x)
        if not self.frozen.any():  # outside a schedule: quantised on the fly
            n1, n2 = pow2_levels(float(x.detach().abs().max()), self.inq_bits)
            values = _to_levels(x.detach(), n1, n2)
        elif not self.complete:
            raise ValueError("INQ weights are quantised incrementally: advance them to "
                             "portion 1 (the last stage) before taking their integer form")
        else:
            n2 = int(self.exponents[1])
            values = self.values.to(x.dtype)
        scale = torch.tensor(2.0**n2, dtype=x.dtype, device=x.device)
        return torch.round(values / scale).to(CODE_DTYPE), scale

    def forward(self, x: Tensor) -> Tensor:
        self._ensure(x)
        if not self.frozen.any():  # outside a schedule: a power-of-two quantiser, STE
            return straight_through(self.dequantize(self.int_repr(x)), x)
        frozen = self.frozen
        # frozen weights take their power of two and no gradient; the rest pass through
        value = torch.where(frozen, self.values.to(x.dtype), x)
        surrogate = torch.where(frozen, torch.zeros_like(x), x)
        return straight_through(value, surrogate)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, inq_bits={self.inq_bits}"
