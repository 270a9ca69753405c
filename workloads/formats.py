"""Number formats: how one operand (weights or activations) is represented.

One name for one concept: a :class:`NumberFormat` is what a quantisation config asks for, what
a quantiser produces (``quantizer.format``) and what a workload layer carries. The token is the
same everywhere — ``1`` (binary), ``t`` (ternary), ``2``…``16`` (k-bit integers), ``b1``…``b8``
(binary bases: ABC-Net, Group-Net, LQ-Nets), ``p2``…``p5`` (INQ's powers of two), ``32``
(float) — and ``w<W>a<A>`` names a layer's pair.

>>> NumberFormat.parse("t")
NumberFormat(kind='ternary', bits=2, bases=1)
>>> NumberFormat.parse("b3").label, NumberFormat.parse("32").planes
('b3', 8)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from workloads.errors import ConfigError

__all__ = ["BINARY", "FORMAT_KINDS", "INT8", "LOGITS", "FormatKind", "NumberFormat"]

FormatKind = Literal["binary", "ternary", "int", "bases", "pow2", "float"]
FORMAT_KINDS: tuple[FormatKind, ...] = ("binary", "ternary", "int", "bases", "pow2", "float")

#: Bits a float operand is simulated with: the hardware template has no floating-point unit,
#: and the papers' "full-precision" first/last layers are 8-bit on real accelerators.
FLOAT_AS_BITS = 8

_TOKEN = re.compile(r"^(1|t|32|[2-9]|1[0-6]|b[1-8]|p[2-5])$")


@dataclass(frozen=True, slots=True)
class NumberFormat:
    """One operand's format.

    ``kind``: ``binary`` (±1), ``ternary`` ({−1, 0, +1} as a sign and a mask plane), ``int``
    (k-bit codes), ``bases`` (M binary bases with real scales, ABC-Net), ``pow2`` (INQ's
    b-bit codes: 0 or ±2^e over :attr:`pow2_levels` exponents, one scale per layer) or
    ``float``. ``bits`` is the storage width of one element in the trained model: 1, 2, k, M,
    b, 32.
    ``bases`` is M for ``bases`` (and 1 otherwise).
    """

    kind: FormatKind
    bits: int
    bases: int = 1

    def __post_init__(self) -> None:
        if self.kind not in FORMAT_KINDS:
            raise ConfigError(f"unknown number format kind; allowed: {', '.join(FORMAT_KINDS)}",
                              key="kind", value=self.kind, has_value=True)
        for name, value in (("bits", self.bits), ("bases", self.bases)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError("must be an integer", key=name, value=value, has_value=True)
        expected = {"binary": 1, "ternary": 2, "float": 32}.get(self.kind)
        if expected is not None and self.bits != expected:
            raise ConfigError(f"a {self.kind} operand has {expected} bits", key="bits",
                              value=self.bits, has_value=True)
        if self.kind == "int" and not 1 <= self.bits <= 16:
            raise ConfigError("integer operands take 1 to 16 bits", key="bits", value=self.bits,
                              has_value=True)
        if self.kind == "pow2" and not 2 <= self.bits <= 5:
            raise ConfigError("power-of-two operands take 2 to 5 bits", key="bits",
                              value=self.bits, has_value=True)
        if self.kind == "bases":
            if not 1 <= self.bases <= 8 or self.bits != self.bases:
                raise ConfigError("bases takes 1 to 8 binary bases (bits == bases)",
                                  key="bases", value=self.bases, has_value=True)
        elif self.bases != 1:
            raise ConfigError("only a 'bases' operand has bases != 1", key="bases",
                              value=self.bases, has_value=True)

    @classmethod
    def parse(cls, token: str) -> NumberFormat:
        """The format of a compact token (``1``, ``t``, ``4``, ``b3``, ``32``)."""
        t = str(token).strip().lower()
        if not _TOKEN.match(t):
            raise ConfigError("not a number format; expected 1, t (ternary), 2-16, b1-b8 "
                              "(binary bases), p2-p5 (powers of two) or 32", value=token,
                              has_value=True)
        if t == "1":
            return cls("binary", 1)
        if t == "t":
            return cls("ternary", 2)
        if t == "32":
            return cls("float", 32)
        if t.startswith("b"):
            return cls("bases", int(t[1:]), int(t[1:]))
        if t.startswith("p"):
            return cls("pow2", int(t[1:]))
        return cls("int", int(t))

    @property
    def label(self) -> str:
        """The compact token, the inverse of :meth:`parse`."""
        if self.kind == "bases":
            return f"b{self.bases}"
        if self.kind == "pow2":
            return f"p{self.bits}"
        return {"binary": "1", "ternary": "t"}.get(self.kind) or str(self.bits)

    @property
    def pow2_levels(self) -> int:
        """Magnitudes a ``pow2`` code takes besides 0: ``2^(b−2)`` exponents (INQ: a sign bit,
        the zero and ``2^(b−1)/2`` powers of two), so its codes reach ±2^(levels − 1); 0 for
        other kinds."""
        return 1 << (self.bits - 2) if self.kind == "pow2" else 0

    @property
    def planes(self) -> int:
        """Binary planes a bit-serial datapath processes: 1, 2 (sign + mask), k, M; a
        power-of-two code as the two's-complement integer it is (levels + 1 bits); float as
        :data:`FLOAT_AS_BITS`."""
        if self.kind == "pow2":
            return self.pow2_levels + 1
        return FLOAT_AS_BITS if self.kind == "float" else self.bits

    @property
    def storage_bits(self) -> int:
        """Bits one element takes in an accelerator's memory (float as :data:`FLOAT_AS_BITS`)."""
        return FLOAT_AS_BITS if self.kind == "float" else self.bits

    @property
    def full_precision(self) -> bool:
        """Whether this is an 8-bit-or-wider integer or a float (a first/last-layer format)."""
        return self.kind in ("int", "float") and self.storage_bits >= 8


BINARY = NumberFormat("binary", 1)
INT8 = NumberFormat("int", 8)
#: Format of a network's final scores (the accumulator output of the last layer).
LOGITS = NumberFormat("int", 16)
