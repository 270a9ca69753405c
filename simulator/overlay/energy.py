"""Action counts per layer and their energy; chip area. Action counts × energy per action.

Counts are exact sums over the mapping's tiles (grouped into size classes). What counts:
the compute actions of the PE type that ran the layer (``pe_types``: XNOR bit-ops and
popcount input bits — only useful lanes toggle, idle lanes are gated — accumulator adds,
int8 multiply-accumulates, PE register writes), buffer reads and writes in bits per buffer,
DRAM bytes (priced by ``dram``), and post-processing operations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from simulator.overlay.chip import BufferSpec, Chip, Dataflow, MemoryKind
from simulator.overlay.cost import ceil_div, effective_array
from simulator.overlay.dram import dram_energy_pj
from simulator.overlay.pe_types import INT8_UNIT, AdderTreePe, ComputeActions, PeType
from simulator.overlay.problem import Problem, Unit, mac_model
from simulator.tech import TechTable

if TYPE_CHECKING:
    from simulator.overlay.mapping.records import Mapping, Totals

__all__ = ["Actions", "area_breakdown_mm2", "count_actions", "energy_breakdown_pj",
           "layer_actions", "leakage_pj", "mac_counts", "memory_tech_entries"]


#: Width of the post-processing unit's multiplier: scales (requantisation, binary-base
#: scales, 1/window) are 16-bit fixed point [a bnnsim assumption].
SCALE_BITS = 16


@dataclass(frozen=True, slots=True)
class Actions:
    """What one layer does: its compute actions (by the PE type that ran it) and the rest."""

    compute: ComputeActions
    port_bits: int  # bits moved between the buffers and the array (or the int8 unit)
    ppu_ops: int  # threshold compares, corrections, scale sums, residual adds (acc width)
    pool_ops: int  # inputs combined by pooling (OR on binary maps, compare/add otherwise)
    input_buffer_bits: int  # reads + writes
    weight_buffer_bits: int
    output_buffer_bits: int
    dram_bytes: int
    ppu_mults: int = 0  # binary-base scales, an average's divide (acc-width multiplies)
    pool_bits: int = 0  # width of one pooling combine (0: a 1-bit OR)
    window_buffer_bits: int = 0  # the line buffer's footprint writes + its streamed reads



def _classes(n: int, t: int) -> tuple[list[int], list[int]]:
    """(counts, sizes) of the ≤ 2 tile classes of a dimension of ``n`` in tiles of ``t``."""
    full, rem = divmod(n, t)
    return [full, 1 if rem else 0], [t, rem or 1]


class _Factors:
    """A count per tile that is a product of one factor per tile dimension (output channels
    ``k``, input channels ``c``, pixels ``p``: arrays whose last axis holds that dimension's
    classes, or 1) and a constant ``s``: its sum over every class combination is the product
    of three one-dimensional sums."""

    __slots__ = ("c", "k", "p", "s")

    def __init__(self, k: Any = 1, c: Any = 1, p: Any = 1, s: int = 1) -> None:
        self.k, self.c, self.p, self.s = k, c, p, s

    def __mul__(self, other: Any) -> _Factors:
        if isinstance(other, _Factors):
            return _Factors(self.k * other.k, self.c * other.c, self.p * other.p,
                            self.s * other.s)
        return _Factors(self.k, self.c, self.p, self.s * int(other))

    __rmul__ = __mul__

    def __floordiv__(self, d: int) -> _Factors:
        if self.s % d:
            raise ValueError(f"a count that is not a multiple of {d}: {self.s}")
        return _Factors(self.k, self.c, self.p, self.s // d)

    def _one(self) -> tuple[str, Any]:
        axes = [(n, v) for n, v in (("k", self.k), ("c", self.c), ("p", self.p))
                if not isinstance(v, int)]
        if len(axes) != 1:
            raise ValueError("not a function of one tile dimension")
        name, v = axes[0]
        return name, v * self.s

    def apply(self, f: Any) -> _Factors:
        """``f`` of a count of one dimension, as a count of that dimension."""
        name, v = self._one()
        return _Factors(**{name: f(v)})

    def __sub__(self, other: int) -> _Factors:
        return self.apply(lambda v: v - other)

    def sum(self, kc: np.ndarray, cc: np.ndarray, pc: np.ndarray) -> np.ndarray:
        """Σ over the classes (counts ``kc``, ``cc``, ``pc``) of count × this."""
        return (self.s * (kc * self.k).sum(axis=-1) * (cc * self.c).sum(axis=-1)
                * (pc * self.p).sum(axis=-1)).astype(np.int64)


def _ceil(x: Any, d: int) -> Any:
    return x.apply(lambda v: ceil_div(v, d)) if isinstance(x, _Factors) else ceil_div(x, d)


def mac_counts(p: Problem, chip: Chip, kc: np.ndarray, ks: np.ndarray, cc: np.ndarray,
               cs: np.ndarray, pc: np.ndarray, pout: np.ndarray, tc: np.ndarray,
               pin: np.ndarray | None = None, factored: bool = True) -> tuple[np.ndarray, ...]:
    """(accumulations, input bits and weight bits through the ports, partial-sum reads +
    writes, input bits and weight bits read from the buffers, window-buffer bits) of a MAC
    layer for many candidates at once: tile classes ``kc``/``ks`` (counts and sizes, the
    classes along the last axis: (…, 2)) of output channels, ``cc``/``cs`` of input channels,
    ``pc``/``pout`` (…, P) of output pixels and ``pin`` their input footprints (halo
    included; needed with a window buffer), and each candidate's reduction tile ``tc`` (…).
    The candidates' axes (…) broadcast: one list of candidates, or the mapper's grid.

    ``factored``: sum each count as a product of per-dimension sums (:class:`_Factors`) —
    the same totals as summing every class combination (``factored=False``, and always with
    a window buffer), for far less work.

    A port moves whole PE words; a buffer read delivers only the valid bits (a channel-packed
    word of a 3-channel layer holds 3 valid bits of 64, a 12-bit activation in two 8-bit
    passes 12 of 16: the SRAM keeps the data dense and the rest of the word is padding made
    at the port).

    With a window buffer (``pe_array.window_buffer_kib``: a line buffer feeding shift-register
    windows at the array's edge), a tile whose input footprint (one activation plane of its
    reduction tile's channels) fits is read from the input buffer, sent through the port and
    written into the line buffer once per activation plane; the line buffer streams it into
    the window registers once for every time the dataflow streams the tile's inputs (each
    column fold and bit-plane pass), and the registers shift each word to all its uses (one
    operand-register write per use, already the PE's). A tile that does not fit reads the
    input buffer per use."""
    rows, cols, _ = effective_array(p, chip)  # (the last tile's sub-array changes timing only)
    k3: Any
    c3: Any
    px3: Any
    if factored and chip.pe_array.window_kib <= 0:
        # every count is a product of a factor per dimension: sum each factor over its own
        # classes (a window buffer's per-tile choice couples them: the general sum below)
        k3, c3, px3 = _Factors(k=ks), _Factors(c=cs), _Factors(p=pout)
        words: Any = _Factors(c=p.words(cs))

        def total(x: Any) -> np.ndarray:
            return x.sum(kc, cc, pc) * p.groups
    else:
        k3, c3, px3 = ks[..., :, None, None], cs[..., None, :, None], pout[..., None, None, :]
        n3 = (kc[..., :, None, None] * cc[..., None, :, None] * pc[..., None, None, :]
              * p.groups)
        words = p.words(c3)

        def total(x: Any) -> np.ndarray:
            return np.asarray((n3 * x).sum(axis=(-3, -2, -1)), dtype=np.int64)

    wb, ww = p.a_word_bits, p.w_word_bits
    elems = c3 * p.FY * p.FX  # one pass's reduction elements
    accum = total(k3 * px3 * words * p.passes)
    zero = np.zeros(np.shape(tc), dtype=np.int64)
    psum_rw = zero
    df = chip.dataflow
    # each returns the per-class (input, weight) reads for operand sizes per use
    if p.unit is Unit.INT8:
        def reads(x_in: Any, x_w: Any) -> tuple[Any, Any]:
            return x_in * px3 * p.a_passes, x_w * k3 * p.w_passes
    elif df is Dataflow.OUTPUT_STATIONARY:
        nfr, nfc = _ceil(px3, rows), _ceil(k3, cols)

        def reads(x_in: Any, x_w: Any) -> tuple[Any, Any]:
            return px3 * x_in * p.passes * nfc, k3 * x_w * p.passes * nfr
    elif df is Dataflow.WEIGHT_STATIONARY:
        nfr, nfc = _ceil(words, rows), _ceil(k3, cols)
        psum_rw = total(k3 * px3 * p.passes * (2 * nfr - 1) * p.acc_bits)

        def reads(x_in: Any, x_w: Any) -> tuple[Any, Any]:
            return x_in * px3 * p.a_passes * p.w_passes * nfc, k3 * x_w * p.w_passes
    else:
        nfr, nfc = _ceil(words, rows), _ceil(px3, cols)
        psum_rw = total(k3 * px3 * p.passes * (2 * nfr - 1) * p.acc_bits)

        def reads(x_in: Any, x_w: Any) -> tuple[Any, Any]:
            return x_in * px3 * p.a_passes, x_w * k3 * p.passes * nfc

    window = zero
    if p.unit is Unit.INT8:  # one element per word
        port_in3, port_w3 = reads(elems * wb, elems * ww)
        buf_in3, buf_w3 = port_in3, port_w3
    else:
        port_in3, port_w3 = reads(words * wb, words * ww)
        # the valid bits of an element over all its passes (every dataflow's input
        # multiplicity includes the a_passes, so the division is exact)
        a_bits = (p.words_model.a_elem_bits if p.words_model is not None
                  and p.words_model.a_elem_bits else (wb // p.word_elems) * p.a_passes)
        buf_in3 = reads(elems * a_bits, elems)[0] // p.a_passes
        buf_w3 = reads(elems, elems * (ww // p.word_elems))[1]
        if chip.pe_array.window_kib > 0:
            if pin is None:
                raise ValueError("a window buffer's counts need the tiles' input footprints")
            pin3 = pin[..., None, None, :]
            # one activation plane of the tile's channels, as the line buffer holds it
            fits = pin3 * c3 * (wb // p.word_elems) <= chip.pe_array.window_kib * 8192
            fill = pin3 * c3 * a_bits  # valid bits of the footprint, all planes
            fp_words = (pin3 * ceil_div(c3, p.word_elems) if p.channel_packed
                        else ceil_div(pin3 * c3, p.word_elems))
            # the line buffer streams the footprint as often as the dataflow streams inputs
            streamed = reads(pin3 * c3 * a_bits, elems)[0] // (px3 * p.a_passes)
            take = fits & (fill < buf_in3)  # (never more than reading per use)
            window = total(np.where(take, fill + streamed, 0))
            buf_in3 = np.where(take, fill, buf_in3)
            port_in3 = np.where(take, np.minimum(fp_words * wb * p.a_passes, port_in3),
                                port_in3)
    port_in, port_w, buf_in, buf_w = (total(x) for x in (port_in3, port_w3, buf_in3, buf_w3))
    out_elems = p.outputs
    n_c = ceil_div(p.C, tc)
    if p.unit is not Unit.ARRAY or chip.dataflow is Dataflow.OUTPUT_STATIONARY:
        # accumulators drain once per reduction tile; each later drain adds to the earlier
        psum_rw = psum_rw + out_elems * (2 * n_c - 1) * p.acc_bits
    else:
        # the per-fold partial sums are counted above; each later reduction tile reads back
        psum_rw = psum_rw + out_elems * (n_c - 1) * p.acc_bits
    return accum, port_in, port_w, psum_rw, buf_in, buf_w, window


def layer_actions(p: Problem, chip: Chip, *, dram_bytes: Any, input_bytes: Any,
                  weight_bytes: Any, output_bytes: Any, psum_bytes: Any,
                  mac: tuple[Any, ...] | None) -> Actions:
    """The actions of a layer from its DRAM traffic by stream and, for a MAC layer, its
    :func:`mac_counts` (ints for one mapping, or arrays for many in the search)."""
    out_elems = p.outputs
    in_w, w_w = input_bytes * 8, weight_bytes * 8
    o_w = (output_bytes + psum_bytes) * 8  # drained to DRAM: read from the buffer
    if not p.out_dram:  # the map stays on chip: written into the output buffer's spare half
        o_w = o_w + p.stored_outputs * p.out_bits
    if p.unit is Unit.PPU or mac is None:
        pool = out_elems * p.window if p.operands == 1 else 0
        adds = out_elems if p.operands == 2 else 0
        return Actions(ComputeActions(0, 0, 0, 0, 0), 0, adds, pool, in_w * 2, 0, o_w * 2,
                       dram_bytes, ppu_mults=out_elems * p.post_mults,
                       pool_bits=p.combine_bits)
    accum, reads_in, reads_w, psum_rw, buf_in, buf_w, window = mac
    model = mac_model(p, chip)
    assert model is not None and p.words_model is not None  # PPU problems returned above
    # unsigned activations: every valid activation bit entering the array is popcounted once
    # at its row's edge (the AND-popcount's correction term)
    edge = buf_in if p.words_model.correction else 0
    work = model.compute_actions(macs=p.macs, passes=p.passes, accumulations=accum,
                                 words=p.words_model, acc_bits=p.acc_bits, edge_bits=edge,
                                 shared=p.shared)
    fused_pool = p.pool_k > 1  # each output joins its window; an average divides once
    return Actions(
        compute=work, port_bits=reads_in + reads_w + psum_rw, ppu_ops=out_elems * p.post_adds,
        pool_ops=out_elems if fused_pool else 0, input_buffer_bits=in_w + buf_in,
        weight_buffer_bits=w_w + buf_w, output_buffer_bits=o_w + psum_rw, dram_bytes=dram_bytes,
        ppu_mults=out_elems * p.post_mults + (p.stored_outputs if p.pool_avg else 0),
        pool_bits=p.pool_combine_bits if fused_pool else 0, window_buffer_bits=window,
    )


def count_actions(p: Problem, chip: Chip, m: Mapping, totals: Totals) -> Actions:
    """Exact action counts of one layer under its mapping."""
    mac: tuple[int, ...] | None = totals.mac
    if p.unit is not Unit.PPU and mac is None:
        # (imported here: the mapper's package imports this module)
        from simulator.overlay.mapping.candidates import pixel_classes
        kc, ks = _classes(p.K, m.tk)
        cc, cs = _classes(p.C, m.tc)
        pix = pixel_classes(p, m.toy, m.tox)

        def arr(x: Any) -> np.ndarray:
            return np.array([x], dtype=np.int64)

        counts = mac_counts(p, chip, arr(kc), arr(ks), arr(cc), arr(cs),
                            arr(pix.count * p.frames), arr(pix.out_px),
                            np.array([m.tc], dtype=np.int64), pin=arr(pix.in_px),
                            factored=False)  # (one mapping: plain sums are cheaper)
        mac = tuple(int(x[0]) for x in counts)
    return layer_actions(p, chip, dram_bytes=totals.dram_bytes, input_bytes=totals.input_bytes,
                         weight_bytes=totals.weight_bytes, output_bytes=totals.output_bytes,
                         psum_bytes=totals.psum_bytes, mac=mac)


def energy_breakdown_pj(a: Actions, chip: Chip, tech: TechTable, *, cycles: int,
                        area_mm2: float, acc_bits: int, model: PeType | None) -> dict[str, float]:
    """Energy of one layer by part (pJ): compute (by the ``model`` that ran it; None for a PPU
    layer), ppu, each buffer, dram, leakage."""
    add_acc = tech.energy_pj("int_adder", "add", acc_bits)
    compute = 0.0 if model is None else model.compute_energy_pj(a.compute, tech, acc_bits)
    combine = (tech.energy_pj("or_gate", "or", 1) if a.pool_bits == 0
               else tech.energy_pj("int_adder", "add", a.pool_bits))
    ppu = (a.ppu_ops * add_acc + a.pool_ops * combine
           + a.ppu_mults * tech.energy_pj("int_multiplier", "multiply", SCALE_BITS))
    ports = a.port_bits * tech.energy_pj("port", "transfer", 1)
    return {
        "compute": compute,
        "ports": ports,
        "ppu": ppu,
        "input_buffer": a.input_buffer_bits * _per_bit(tech, chip.input_buffer),
        "weight_buffer": a.weight_buffer_bits * _per_bit(tech, chip.weight_buffer),
        "output_buffer": a.output_buffer_bits * _per_bit(tech, chip.output_buffer),
        **({"window_buffer": a.window_buffer_bits * tech.memory_energy_pj_per_bit(
            MemoryKind.LATCH.value, chip.pe_array.window_kib)}
           if chip.pe_array.window_kib > 0 else {}),
        "dram": dram_energy_pj(chip, a.dram_bytes),
        "leakage": leakage_pj(chip, tech, area_mm2, cycles),
    }


def leakage_pj(chip: Chip, tech: TechTable, area_mm2: float, cycles: Any) -> Any:
    """Leakage energy of ``area_mm2`` over ``cycles`` (pJ; vectorised)."""
    seconds = cycles / (chip.clock_mhz * 1e6)
    return tech.leakage_mw_per_mm2 * area_mm2 * seconds * 1e9


def _per_bit(tech: TechTable, buffer: BufferSpec) -> float:
    return tech.memory_energy_pj_per_bit(buffer.kind.value, buffer.bank_kib)


def _area(tech: TechTable, buffer: BufferSpec) -> float:
    return buffer.banks * tech.memory_area_um2(buffer.kind.value, buffer.bank_kib)


def memory_tech_entries(chip: Chip) -> frozenset[tuple[str, str]]:
    """The technology-table entries the chip's memories read (read energy and area by kind)."""
    kinds = {b.kind.value for b in (chip.input_buffer, chip.weight_buffer, chip.output_buffer)}
    if chip.pe_array.window_kib > 0:
        kinds.add(MemoryKind.LATCH.value)
    return frozenset((k, action) for k in kinds for action in ("read", "area"))


def area_breakdown_mm2(chip: Chip, tech: TechTable) -> dict[str, float]:
    """Chip area by component (mm²); DRAM and its PHY are off-chip and not counted."""
    acc = chip.accumulator_bits
    dff = tech.area_um2("register", "write", 1)
    add_acc = tech.area_um2("int_adder", "add", acc)
    pe = chip.pe_array
    um2 = {
        "pe_array": pe.pes * pe.pe.area_um2(tech, pe.lane_bits, acc),
        "int8_unit": chip.int8_unit_macs * INT8_UNIT.area_um2(tech, 8, chip.int8_unit_acc_bits),
        # per lane: an accumulator-wide adder (compares, sums), its register and a multiplier
        # (requantisation scales, binary-base scales, an average's divide)
        "ppu": chip.ppu_lanes * (add_acc + acc * dff
                                 + tech.area_um2("int_multiplier", "multiply", SCALE_BITS)),
        "ports": (chip.input_buffer.port_bits + chip.weight_buffer.port_bits
                  + chip.output_buffer.port_bits) * tech.area_um2("port", "transfer", 1),
        "input_buffer": _area(tech, chip.input_buffer),
        "weight_buffer": _area(tech, chip.weight_buffer),
        "output_buffer": _area(tech, chip.output_buffer),
        **({"window_buffer": tech.memory_area_um2(MemoryKind.LATCH.value,
                                                  chip.pe_array.window_kib)}
           if chip.pe_array.window_kib > 0 else {}),
        **({"window_sum_unit": pe.rows * pe.lane_bits * tech.area_um2(
            "int_adder", "add", pe.pe.bits + 2)}
           if isinstance(pe.pe, AdderTreePe)
           and pe.weight_sharing in ("decompose", "share_decompose") else {}),
    }
    return {k: v / 1e6 for k, v in um2.items()}
