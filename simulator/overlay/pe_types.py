"""What each multiply-accumulate datapath knows, in one place.

A PE type says how a layer's operands map onto its words (elements per word, bits per word,
bit-serial passes), its peak MACs per cycle, which compute actions one layer costs it, their
energy, and the area of one PE. The chip's ``pe_array.pe_type`` names one of :data:`PE_TYPES`;
the int8 unit beside the array (for 8-bit first/last layers) is :data:`INT8_UNIT`.

Adding a PE type: a class here and an entry in :data:`PE_TYPES` (the chip schema lists its
name from there), plus technology-table entries for any new component it uses.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from simulator.tech import TechTable
from workloads.formats import NumberFormat

__all__ = ["ADDER_BITS", "INT8_UNIT", "PE_TYPES", "AdderTreePe", "ComputeActions", "Int8Mac",
           "MaskedXnorPe", "OperandWords", "PeType", "SharedWork", "XnorPe"]


@dataclass(frozen=True, slots=True)
class OperandWords:
    """How a layer's reduction reaches a PE: ``word_elems`` reduction elements per PE step in
    activation words of ``a_word_bits`` and weight words of ``w_word_bits``, repeated for
    ``a_passes × w_passes`` bit-plane (or byte) passes.

    ``masked``: ternary weights in one pass, a sign and a mask bit per element (the weight
    word is twice as wide). ``correction``: unsigned k-bit activations against ±1 weights —
    each plane is an AND-popcount, ``Σ w·a = 2·popcount(w⁺ ∧ a) − popcount(a)``, so each
    activation word entering the array is also popcounted once at the row's edge and the
    post-processing unit subtracts the sum once per output."""

    word_elems: int
    a_word_bits: int
    w_word_bits: int
    a_passes: int
    w_passes: int
    masked: bool = False
    correction: bool = False
    #: bits of one activation element a buffer read delivers over all ``a_passes`` (0: the
    #: words' share, ``a_word_bits / word_elems`` a pass — set where a pass's word field is
    #: wider than the data, e.g. a 12-bit activation in two 8-bit adder passes)
    a_elem_bits: int = 0
    #: power-of-two weights on an integer MAC: the exponents a shifter selects among (each
    #: product a shift of the activation, no multiply); 0: a multiply
    shift_levels: int = 0


@dataclass(frozen=True, slots=True)
class SharedWork:
    """What a layer's trained weights let an adder-tree PE skip (whole layer, one pass):
    ``issued_macs`` of its MACs are added (the rest gated: ternary zeros, or the decomposed
    form's other sign), ``window_adds`` run on the window-sum unit and ``combine_adds``
    (accumulator wide, beside the PE accumulators) are the shared-and-decomposed form's
    ``2S − J`` per distinct sub-kernel. (Result sharing's per-output combination runs on
    the post-processing unit.)"""

    issued_macs: int
    window_adds: int = 0
    combine_adds: int = 0


@dataclass(frozen=True, slots=True)
class ComputeActions:
    """The compute actions of one layer on one datapath (the rest of ``Actions`` is memory)."""

    binary_ops: int  # useful XNOR (or AND) bit-ops (MACs × bit-plane passes)
    popcount_bits: int  # in the PEs, and at the row edges for unsigned activations
    accumulations: int  # adds into accumulators (popcount words and shift-adds)
    int8_macs: int
    register_bits: int  # PE pipeline and accumulator register writes
    mask_ops: int = 0  # AND gates of masked ternary weights
    tap_adds: int = 0  # adder-tree taps issued: one signed add of a multi-bit activation each
    tap_bits: int = 0  # width of one tap's operand (0: no adder tree)
    tap_slots: int = 0  # the taps a dense schedule occupies (MACs × passes); issued ≤ slots
    window_adds: int = 0  # the window-sum unit's adds (kernel decomposition)
    combine_adds: int = 0  # accumulator-wide 2S − J per distinct sub-kernel (share_decompose)
    shift_macs: int = 0  # integer MACs whose multiply is a shift (power-of-two weights)
    mux_bits: int = 0  # 2:1 multiplexer selects of those shifts (stages × width each)

class PeType(ABC):
    """One MAC datapath."""

    name: str
    #: Whether 8-bit (first/last) layers run natively; otherwise they go to the int8 unit or
    #: run bit-serially (``full_precision``).
    runs_full_precision: bool
    #: (component, action) entries of the technology table its energy and area read.
    tech_entries: frozenset[tuple[str, str]]
    #: Cycles a unit of this type adds to a tile to fill its pipeline (a unit beside the array;
    #: the array's own fill is the systolic formula's).
    pipeline_cycles: int = 0

    def check_lane(self, lane_bits: int) -> str | None:
        """Why ``lane_bits`` does not fit this PE type (None: it does)."""
        return None

    @abstractmethod
    def macs_per_cycle(self, lane_bits: int) -> int:
        """Peak MACs of one PE per cycle."""

    @abstractmethod
    def operand_words(self, lane_bits: int, weights: NumberFormat,
                      activations: NumberFormat) -> OperandWords: ...

    @abstractmethod
    def compute_actions(self, *, macs: int, passes: int, accumulations: int,
                        words: OperandWords, acc_bits: int, edge_bits: int = 0,
                        shared: SharedWork | None = None) -> ComputeActions:
        """Compute actions of a layer of ``macs`` MACs, ``passes`` bit-plane passes and
        ``accumulations`` accumulator updates (one per PE word step); ``edge_bits``:
        activation bits popcounted at the row edges (``words.correction``); ``shared``: the
        weight-dependent work of a layer whose zero or shared taps the PE skips (adder trees
        only)."""

    @abstractmethod
    def compute_energy_pj(self, a: ComputeActions, tech: TechTable, acc_bits: int) -> float: ...

    @abstractmethod
    def area_um2(self, tech: TechTable, lane_bits: int, acc_bits: int) -> float:
        """Area of one PE (or one MAC of a unit)."""

    @abstractmethod
    def useful_ops(self, a: ComputeActions) -> int:
        """The work utilisation counts (binary ops, or int8 MACs)."""

    def describe(self, lane_bits: int) -> str:
        return self.name


class XnorPe(PeType):
    """``lane_bits``-wide XNOR + popcount + accumulator: ``lane_bits`` binary MACs per cycle;
    multi-bit operands run bit-serially (a-bit × w-bit = a·w binary passes + shift-add)."""

    name = "xnor"
    runs_full_precision = False
    tech_entries = frozenset({("xnor", "xnor"), ("popcount", "count"), ("int_adder", "add"),
                              ("register", "write")})

    def macs_per_cycle(self, lane_bits: int) -> int:
        return lane_bits

    def operand_words(self, lane_bits: int, weights: NumberFormat,
                      activations: NumberFormat) -> OperandWords:
        return OperandWords(lane_bits, lane_bits, lane_bits, activations.planes, weights.planes,
                            correction=_needs_correction(weights, activations))

    def compute_actions(self, *, macs: int, passes: int, accumulations: int,
                        words: OperandWords, acc_bits: int, edge_bits: int = 0,
                        shared: SharedWork | None = None) -> ComputeActions:
        _no_shared_work(self, shared)
        binary = macs * passes
        # two operand words per useful PE step, and the accumulator write; the row edges'
        # popcounts of unsigned activation words each add into a per-row sum
        registers = accumulations * (words.a_word_bits + words.w_word_bits + acc_bits)
        edge_adds = -(-edge_bits // words.word_elems)
        return ComputeActions(binary, binary + edge_bits, accumulations + edge_adds, 0,
                              registers + edge_adds * acc_bits,
                              mask_ops=binary if words.masked else 0)

    def compute_energy_pj(self, a: ComputeActions, tech: TechTable, acc_bits: int) -> float:
        return (a.binary_ops * tech.energy_pj("xnor", "xnor", 1)
                + a.popcount_bits * tech.energy_pj("popcount", "count", 1)
                + a.accumulations * tech.energy_pj("int_adder", "add", acc_bits)
                + a.register_bits * tech.energy_pj("register", "write", 1)
                + (a.mask_ops * tech.energy_pj("and_gate", "and", 1) if a.mask_ops else 0.0))

    def area_um2(self, tech: TechTable, lane_bits: int, acc_bits: int) -> float:
        dff = tech.area_um2("register", "write", 1)
        return (lane_bits * (tech.area_um2("xnor", "xnor", 1)
                             + tech.area_um2("popcount", "count", 1) + 2 * dff)
                + tech.area_um2("int_adder", "add", acc_bits) + acc_bits * dff)

    def useful_ops(self, a: ComputeActions) -> int:
        return a.binary_ops

    def describe(self, lane_bits: int) -> str:
        return f"{self.name} x{lane_bits}b"


class MaskedXnorPe(XnorPe):
    """An XNOR PE with a mask bit per lane: a ternary weight (sign, mask) takes one pass,
    ``popcount((w ⊙ a) ∧ mask)``, instead of two full XNOR passes; the per-filter count of
    non-zero weights is a constant folded into the threshold. Costs an AND gate and a mask
    register bit per lane, and a weight word twice as wide for ternary layers."""

    name = "xnor_mask"
    tech_entries = XnorPe.tech_entries | {("and_gate", "and")}

    def operand_words(self, lane_bits: int, weights: NumberFormat,
                      activations: NumberFormat) -> OperandWords:
        if weights.kind != "ternary":
            return super().operand_words(lane_bits, weights, activations)
        return OperandWords(lane_bits, lane_bits, 2 * lane_bits, activations.planes, 1,
                            masked=True, correction=_needs_correction(weights, activations))

    def area_um2(self, tech: TechTable, lane_bits: int, acc_bits: int) -> float:
        return super().area_um2(tech, lane_bits, acc_bits) + lane_bits * (
            tech.area_um2("and_gate", "and", 1) + tech.area_um2("register", "write", 1))


class AdderTreePe(PeType):
    """Binary-weight × multi-bit-activation PE (YodaNN's sum-of-products units): ``lane_bits``
    taps, each adding its ``bits``-bit activation (conditionally negated by the ±1 weight) into
    an adder tree, one accumulator per PE — one pass where an XNOR lane takes one per bit-plane.

    Activations wider than ``bits`` take ⌈storage bits / bits⌉ passes (shift-add); binary
    bases one pass per base. Weights: ±1 in one pass; ternary in one pass with the zero taps
    gated (a mask bit and an AND per tap, charged as ``mask_ops``); k-bit and base weights
    one pass per plane (shift-add). Signed sums need no correction term.

    Energy per tap: the conditional negation (``bits`` XNOR gates) and its share of the adder
    tree. A tree over ``L`` inputs of ``b`` bits has ``L/2^i`` adders of ``b + i`` bits at
    level ``i``: ``Σ_i L/2^i·(b + i) ≈ L·(b + 2)`` adder bits, so each tap is charged one
    ``(b + 2)``-bit add; a gated ternary tap ``b`` AND gates. Area per tap: that adder, the
    negation, the gating (``b`` AND gates and a mask bit) and the activation and weight operand
    registers (docs/simulator.md, "Adder-tree PEs")."""

    runs_full_precision = False
    tech_entries = frozenset({("xnor", "xnor"), ("int_adder", "add"), ("register", "write"),
                              ("and_gate", "and")})

    def __init__(self, bits: int) -> None:
        self.bits = bits
        self.name = f"adder{bits}"

    def macs_per_cycle(self, lane_bits: int) -> int:
        return lane_bits

    def operand_words(self, lane_bits: int, weights: NumberFormat,
                      activations: NumberFormat) -> OperandWords:
        if activations.kind == "bases":
            a_passes, a_bits = activations.planes, 1
        else:
            a_passes = -(-activations.storage_bits // self.bits)
            a_bits = min(activations.storage_bits, self.bits)
        masked = weights.kind == "ternary"
        w_passes = 1 if weights.kind in ("binary", "ternary") else weights.planes
        return OperandWords(lane_bits, lane_bits * a_bits, lane_bits * (2 if masked else 1),
                            a_passes, w_passes, masked=masked,
                            a_elem_bits=(activations.planes if activations.kind == "bases"
                                         else activations.storage_bits))

    def compute_actions(self, *, macs: int, passes: int, accumulations: int,
                        words: OperandWords, acc_bits: int, edge_bits: int = 0,
                        shared: SharedWork | None = None) -> ComputeActions:
        slots = macs * passes
        registers = accumulations * (words.a_word_bits + words.w_word_bits + acc_bits)
        bits = words.a_word_bits // words.word_elems
        gated = words.masked or shared is not None
        return ComputeActions(
            0, 0, accumulations, 0, registers, mask_ops=slots * bits if gated else 0,
            tap_adds=slots if shared is None else shared.issued_macs * passes, tap_bits=bits,
            tap_slots=slots,
            window_adds=0 if shared is None else shared.window_adds * words.a_passes,
            combine_adds=0 if shared is None else shared.combine_adds * passes)

    def compute_energy_pj(self, a: ComputeActions, tech: TechTable, acc_bits: int) -> float:
        tree = tech.energy_pj("int_adder", "add", a.tap_bits + 2) if a.tap_bits else 0.0
        tap = tree + a.tap_bits * tech.energy_pj("xnor", "xnor", 1)
        return (a.tap_adds * tap + a.window_adds * tree
                + (a.accumulations + a.combine_adds) * tech.energy_pj("int_adder", "add",
                                                                      acc_bits)
                + a.register_bits * tech.energy_pj("register", "write", 1)
                + (a.mask_ops * tech.energy_pj("and_gate", "and", 1) if a.mask_ops else 0.0))

    def area_um2(self, tech: TechTable, lane_bits: int, acc_bits: int) -> float:
        dff = tech.area_um2("register", "write", 1)
        b = self.bits
        tap = (tech.area_um2("int_adder", "add", b + 2)
               + b * (tech.area_um2("xnor", "xnor", 1) + tech.area_um2("and_gate", "and", 1))
               + (b + 2) * dff)
        return lane_bits * tap + tech.area_um2("int_adder", "add", acc_bits) + acc_bits * dff

    def useful_ops(self, a: ComputeActions) -> int:
        """The taps the schedule occupies (gated ones included: the array's work is dense;
        ``tap_adds`` says how many were added)."""
        return a.tap_slots or a.tap_adds

    def describe(self, lane_bits: int) -> str:
        return f"{self.name} x{lane_bits} taps"


#: Activation widths of the built-in adder-tree PE types (``pe_type: adder8`` …).
ADDER_BITS = (2, 4, 8, 12, 16)


def _no_shared_work(pe: PeType, shared: SharedWork | None) -> None:
    if shared is not None:
        raise ValueError(f"a {pe.name} PE runs every tap; weight sharing needs an adder PE")


def _needs_correction(weights: NumberFormat, activations: NumberFormat) -> bool:
    """±1 weights (binary, ternary, binary bases) against unsigned k-bit activation codes
    (``int``; a float input as its 8-bit code): each activation plane is {0, 1}, not ±1."""
    return (weights.kind in ("binary", "ternary", "bases")
            and activations.kind in ("int", "float"))


class Int8Mac(PeType):
    """One int8 multiply-accumulate per cycle; wider operands take ⌈bits / 8⌉ passes each.
    ``operand_registers``: the PE latches its two 8-bit operands (an array PE does; the
    separate int8 unit streams them).

    Power-of-two weights (INQ's ``pow2``: 0 or ±2^e over L exponents) replace the multiply by
    a shift: the 8-bit activation goes through a logarithmic shifter of ⌈log2 L⌉ stages of
    ``8 + L − 1`` 2:1 multiplexers and its sign is applied in the accumulator's add, one per
    cycle like a MAC (the zero weights are not skipped). The shifter's area (under 30
    multiplexer cells) is not added to the unit's."""

    runs_full_precision = True
    tech_entries = frozenset({("int_multiplier", "multiply"), ("int_adder", "add"),
                              ("register", "write")})

    pipeline_cycles = 2  # multiply, accumulate

    def __init__(self, name: str, *, operand_registers: bool) -> None:
        self.name = name
        self.operand_registers = operand_registers

    def check_lane(self, lane_bits: int) -> str | None:
        return None if lane_bits == 8 else "an int8 PE has an 8-bit lane"

    def macs_per_cycle(self, lane_bits: int) -> int:
        return 1

    def operand_words(self, lane_bits: int, weights: NumberFormat,
                      activations: NumberFormat) -> OperandWords:
        if weights.kind == "pow2":  # one pass: the code is a shift and a sign
            return OperandWords(1, 8, 8, _byte_passes(activations), 1,
                                shift_levels=weights.pow2_levels)
        return OperandWords(1, 8, 8, _byte_passes(activations), _byte_passes(weights))

    def compute_actions(self, *, macs: int, passes: int, accumulations: int,
                        words: OperandWords, acc_bits: int, edge_bits: int = 0,
                        shared: SharedWork | None = None) -> ComputeActions:
        _no_shared_work(self, shared)
        int8_macs = macs * passes
        operands = words.a_word_bits + words.w_word_bits if self.operand_registers else 0
        registers = int8_macs * operands + accumulations * acc_bits
        if words.shift_levels:
            levels = words.shift_levels
            stages = (levels - 1).bit_length()  # ⌈log2 L⌉
            return ComputeActions(0, 0, 0, 0, registers, shift_macs=int8_macs,
                                  mux_bits=int8_macs * stages * (8 + levels - 1))
        return ComputeActions(0, 0, 0, int8_macs, registers)

    def compute_energy_pj(self, a: ComputeActions, tech: TechTable, acc_bits: int) -> float:
        add = tech.energy_pj("int_adder", "add", acc_bits)
        shifts = (a.shift_macs * add + a.mux_bits * tech.energy_pj("mux", "select", 1)
                  if a.shift_macs else 0.0)
        return (a.int8_macs * (tech.energy_pj("int_multiplier", "multiply", 8) + add)
                + shifts + a.register_bits * tech.energy_pj("register", "write", 1))

    def area_um2(self, tech: TechTable, lane_bits: int, acc_bits: int) -> float:
        dff = tech.area_um2("register", "write", 1)
        operands = 16 * dff if self.operand_registers else 0.0
        return (tech.area_um2("int_multiplier", "multiply", 8)
                + tech.area_um2("int_adder", "add", acc_bits) + operands + acc_bits * dff)

    def useful_ops(self, a: ComputeActions) -> int:
        return a.int8_macs + a.shift_macs


def _byte_passes(fmt: NumberFormat) -> int:
    return max(1, math.ceil(fmt.storage_bits / 8))


#: PE types of the array, by the name a chip file gives ``pe_array.pe_type``.
PE_TYPES: Mapping[str, PeType] = MappingProxyType({
    "xnor": XnorPe(),
    "xnor_mask": MaskedXnorPe(),
    "int8": Int8Mac("int8", operand_registers=True),
    **{f"adder{b}": AdderTreePe(b) for b in ADDER_BITS},
})

#: The int8 MAC unit beside the array that runs 8-bit layers (``full_precision: int8_unit``).
INT8_UNIT: PeType = Int8Mac("int8_unit", operand_registers=False)
