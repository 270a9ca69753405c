"""Action counts per layer and their energy; chip area. Action counts × energy per action.

Counts are exact sums over the mapping's tiles (grouped into size classes). What counts:
the compute actions of the PE type that ran the layer (``pe_types``: XNOR bit-ops and
popcount input bits — only useful lanes toggle, idle lanes are gated — accumulator adds,
int8 multiply-accumulates, PE register writes), buffer reads and writes in bits per buffer,
DRAM bytes (priced by ``dram``), and post-processing operations.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from simulator.overlay.chip import Chip, Dataflow
from simulator.overlay.cost import ceil_div, effective_array
from simulator.overlay.dram import dram_energy_pj
from simulator.overlay.mapping import Mapping, Totals
from simulator.overlay.pe_types import INT8_UNIT, ComputeActions, PeType
from simulator.overlay.problem import Problem, Unit, mac_model
from simulator.tech import TechTable

__all__ = ["Actions", "area_breakdown_mm2", "count_actions", "energy_breakdown_pj"]


@dataclass(frozen=True, slots=True)
class Actions:
    """What one layer does: its compute actions (by the PE type that ran it) and the rest."""

    compute: ComputeActions
    ppu_ops: int  # threshold compares / requantisations / residual adds (acc-width adds)
    pool_ops: int  # inputs combined by pooling (OR on binary maps, compare/add otherwise)
    input_buffer_bits: int  # reads + writes
    weight_buffer_bits: int
    output_buffer_bits: int
    dram_bytes: int



def _classes(n: int, t: int) -> list[tuple[int, int]]:
    full, rem = divmod(n, t)
    return ([(full, t)] if full else []) + ([(1, rem)] if rem else [])


def count_actions(p: Problem, chip: Chip, m: Mapping, totals: Totals) -> Actions:
    """Exact action counts of one layer under its mapping."""
    out_elems = p.groups * p.K * p.OY * p.OX
    dram_bytes = totals.dram_bytes
    in_w = totals.input_bytes * 8
    w_w = totals.weight_bytes * 8
    o_w = (totals.output_bytes + totals.psum_bytes) * 8  # drained to DRAM: read from buffer
    if p.unit is Unit.PPU:
        pool = out_elems * p.window if p.operands == 1 else 0
        adds = out_elems if p.operands == 2 else 0
        return Actions(ComputeActions(0, 0, 0, 0, 0), adds, pool, in_w * 2, 0, o_w * 2,
                       dram_bytes)

    rows, cols, _ = effective_array(p, chip)
    reads_in = reads_w = psum_rw = accum = 0
    kcl, ccl = _classes(p.K, m.tk), _classes(p.C, m.tc)
    prow, pcol = _classes(p.OY, m.toy), _classes(p.OX, m.tox)
    pcl = [(a * b, r * c) for (a, r), (b, c) in itertools.product(prow, pcol)]
    for (nk, k), (nc, c), (npx, px) in itertools.product(kcl, ccl, pcl):
        n = nk * nc * npx * p.groups
        words = int(ceil_div(c * p.FY * p.FX, p.word_elems))
        accum += n * k * px * words * p.passes
        if p.unit is Unit.INT8:
            reads_in += n * c * p.FY * p.FX * px * p.a_passes * p.word_bits
            reads_w += n * k * c * p.FY * p.FX * p.w_passes * p.word_bits
            continue
        wb = p.word_bits
        if chip.dataflow is Dataflow.OUTPUT_STATIONARY:
            nfr, nfc = int(ceil_div(px, rows)), int(ceil_div(k, cols))
            reads_in += n * px * words * p.passes * nfc * wb
            reads_w += n * k * words * p.passes * nfr * wb
        elif chip.dataflow is Dataflow.WEIGHT_STATIONARY:
            nfr, nfc = int(ceil_div(words, rows)), int(ceil_div(k, cols))
            reads_w += n * k * words * p.w_passes * wb
            reads_in += n * words * px * p.a_passes * p.w_passes * nfc * wb
            psum_rw += n * k * px * p.passes * (2 * nfr - 1) * p.acc_bits
        else:
            nfr, nfc = int(ceil_div(words, rows)), int(ceil_div(px, cols))
            reads_in += n * words * px * p.a_passes * wb
            reads_w += n * words * k * p.passes * nfc * wb
            psum_rw += n * k * px * p.passes * (2 * nfr - 1) * p.acc_bits
    n_c = int(ceil_div(p.C, m.tc))
    if p.unit is not Unit.ARRAY or chip.dataflow is Dataflow.OUTPUT_STATIONARY:
        # accumulators drain once per reduction tile; each later drain adds to the earlier
        psum_rw += out_elems * (2 * n_c - 1) * p.acc_bits
    else:
        # the per-fold partial sums are counted above; each later reduction tile reads back
        psum_rw += out_elems * (n_c - 1) * p.acc_bits
    model = mac_model(p, chip)
    assert model is not None  # PPU problems returned above
    work = model.compute_actions(macs=p.macs, passes=p.passes, accumulations=accum,
                                 word_bits=p.word_bits, acc_bits=p.acc_bits)
    return Actions(
        compute=work, ppu_ops=out_elems, pool_ops=0,
        input_buffer_bits=in_w + reads_in, weight_buffer_bits=w_w + reads_w,
        output_buffer_bits=o_w + psum_rw, dram_bytes=dram_bytes,
    )


def energy_breakdown_pj(a: Actions, chip: Chip, tech: TechTable, *, cycles: int,
                        area_mm2: float, acc_bits: int, model: PeType | None) -> dict[str, float]:
    """Energy of one layer by part (pJ): compute (by the ``model`` that ran it; None for a PPU
    layer), ppu, each buffer, dram, leakage."""
    add_acc = tech.energy_pj("int_adder", "add", acc_bits)
    compute = 0.0 if model is None else model.compute_energy_pj(a.compute, tech, acc_bits)
    ppu = a.ppu_ops * add_acc + a.pool_ops * tech.energy_pj("or_gate", "or", 1)
    seconds = cycles / (chip.clock_mhz * 1e6)
    return {
        "compute": compute,
        "ppu": ppu,
        "input_buffer": a.input_buffer_bits * tech.sram_energy_pj_per_bit(
            chip.input_buffer.size_kib),
        "weight_buffer": a.weight_buffer_bits * tech.sram_energy_pj_per_bit(
            chip.weight_buffer.size_kib),
        "output_buffer": a.output_buffer_bits * tech.sram_energy_pj_per_bit(
            chip.output_buffer.size_kib),
        "dram": dram_energy_pj(chip, tech, a.dram_bytes),
        "leakage": tech.leakage_mw_per_mm2 * area_mm2 * seconds * 1e9,
    }


def area_breakdown_mm2(chip: Chip, tech: TechTable) -> dict[str, float]:
    """Chip area by component (mm²); DRAM and its PHY are off-chip and not counted."""
    acc = chip.accumulator_bits
    dff = tech.area_um2("register", "write", 1)
    add_acc = tech.area_um2("int_adder", "add", acc)
    pe = chip.pe_array
    um2 = {
        "pe_array": pe.pes * pe.pe.area_um2(tech, pe.lane_bits, acc),
        "int8_unit": chip.int8_unit_macs * INT8_UNIT.area_um2(tech, 8, acc),
        "ppu": chip.ppu_lanes * (add_acc + acc * dff),
        "input_buffer": tech.sram_area_um2(chip.input_buffer.size_kib),
        "weight_buffer": tech.sram_area_um2(chip.weight_buffer.size_kib),
        "output_buffer": tech.sram_area_um2(chip.output_buffer.size_kib),
    }
    return {k: v / 1e6 for k, v in um2.items()}
