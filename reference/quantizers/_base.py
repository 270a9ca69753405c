"""The quantiser base class and the straight-through helpers every rule is built from.

A quantiser is a small ``nn.Module``: ``forward`` gives the quantised tensor (values in the
forward pass, the rule's surrogate gradient in the backward pass) and ``int_repr`` gives the
integer codes and real scales a bit-exact hardware model consumes. ``kind`` and ``bits`` are
metadata with the meaning of :class:`workloads.quant.OperandQuant`.
"""

from __future__ import annotations

from typing import TypeAlias

import torch
from torch import Tensor, nn

from workloads.formats import FormatKind, NumberFormat

__all__ = [
    "CODE_DTYPE",
    "Codes",
    "IntRepr",
    "Quantizer",
    "check_bits",
    "sign_codes",
    "straight_through",
]

#: dtype of every integer code tensor ``int_repr`` returns.
CODE_DTYPE = torch.int32

#: ``(codes, scale)``: integer codes and the real scale(s) that multiply them.
Codes: TypeAlias = tuple[Tensor, Tensor]
#: One ``(codes, scale)`` pair, or one pair per binary base (ABC-Net).
IntRepr: TypeAlias = Codes | list[Codes]


def straight_through(value: Tensor, surrogate: Tensor) -> Tensor:
    """``value`` in the forward pass, the gradient of ``surrogate`` in the backward pass.

    The forward result equals ``value`` bit for bit (``surrogate - surrogate.detach()`` is an
    exact zero for finite inputs), which is what lets ``int_repr`` reconstruct it exactly.
    """
    return value.detach() + (surrogate - surrogate.detach())


def sign_codes(x: Tensor) -> Tensor:
    """±1 codes of ``x``: +1 where ``x >= 0`` (zero included), −1 elsewhere; never 0."""
    return (x >= 0).to(CODE_DTYPE) * 2 - 1


def check_bits(name: str, bits: int, allowed: range) -> int:
    """Return ``bits`` if it is an int in ``allowed``, else raise a ValueError naming both."""
    if isinstance(bits, bool) or not isinstance(bits, int) or bits not in allowed:
        span = (f"{allowed.start}" if len(allowed) == 1
                else f"{allowed.start} to {allowed.stop - 1}")
        raise ValueError(f"quantizer '{name}' takes bits={span}, not {bits!r}")
    return bits


class Quantizer(nn.Module):
    """Base of every quantiser: its number format plus the integer view of the forward pass.

    Subclasses pass ``kind`` (``binary``, ``ternary``, ``int``, ``bases``, ``float``) and
    ``bits`` (storage bits per element; the base count for ``bases``) and guarantee
    ``self.dequantize(self.int_repr(x))`` equals ``self(x)`` exactly.
    """

    format: NumberFormat

    def __init__(self, *, kind: FormatKind, bits: int) -> None:
        super().__init__()
        self.format = NumberFormat(kind, bits, bits if kind == "bases" else 1)

    @property
    def kind(self) -> FormatKind:
        return self.format.kind

    @property
    def bits(self) -> int:
        return self.format.bits

    def int_repr(self, x: Tensor) -> IntRepr:
        """Integer codes and real scale(s) of ``self(x)``; see each subclass for the layout."""
        raise NotImplementedError(f"{type(self).__name__} has no integer representation")

    def dequantize(self, rep: IntRepr) -> Tensor:
        """Real tensor from ``int_repr``'s output: ``codes * scale``, summed over bases."""
        if isinstance(rep, list):
            out: Tensor | None = None
            for codes, scale in rep:
                term = codes.to(scale.dtype) * scale
                out = term if out is None else out + term
            if out is None:
                raise ValueError("an empty list of bases has no value")
            return out
        codes, scale = rep
        return codes.to(scale.dtype) * scale

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, bits={self.bits}"
