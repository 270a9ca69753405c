"""The overlay family: one PE array that runs a network one layer at a time.

Per layer: lower it onto the chip's units (:mod:`.problem`), choose and price a mapping
(:mod:`.mapping`), time it with an engine (:mod:`.engines`), count its actions and their
energy (:mod:`.energy`). Each layer's span starts when the previous one's last store ends
(the next layer's first weight tile may load before, ``overlap_layers``) and a frame starts
when the previous one ends, so a frame's latency and the interval between frames are both
the sum of the spans.
"""

from __future__ import annotations

import functools
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.abc import Traversable
from importlib.resources import files
from typing import Any

from simulator.family import ChipSpec, Family, check_batch, precision_label
from simulator.overlay.chip import (
    OVERLAY,
    SCHEMA,
    Chip,
    MemoryKind,
    Objective,
    chip_from_settings,
)
from simulator.overlay.energy import (
    Actions,
    area_breakdown_mm2,
    count_actions,
    energy_breakdown_pj,
    memory_tech_entries,
)
from simulator.overlay.engines import ENGINES, Engine, LayerJob, get_engine
from simulator.overlay.mapping import Mapping, choose_mapping
from simulator.overlay.pe_types import INT8_UNIT
from simulator.overlay.problem import Problem, Unit, mac_model, problem_for
from simulator.overlay.residency import plan_network
from simulator.result import LayerResult, Result
from simulator.tech import TechTable, load_tech
from simulator.tech_scaling import scale_tech
from simulator.trace import Trace
from workloads.errors import ConfigError, InfeasibleError
from workloads.layers import Conv2d
from workloads.network import Network
from workloads.version import package_version

__all__ = ["OverlayFamily", "OverlayLayer", "OverlayTotals"]

#: Technology-table entries the overlay reads besides its PE types' (buffers, ports, PPU;
#: the DRAM's energy comes from its type, ``simulator.dram_types``).
TECH_ENTRIES = frozenset({
    ("int_adder", "add"), ("register", "write"), ("or_gate", "or"), ("sram", "read"),
    ("sram", "area"), ("port", "transfer"),
})


@dataclass(frozen=True, slots=True)
class OverlayLayer:
    """What the overlay knows about one layer beyond the common fields."""

    compute_cycles: int  # busy cycles of the unit that runs the layer
    stall_cycles: int  # cycles - compute_cycles
    compute_wait_cycles: int  # the unit waiting for operands / output space (event engine)
    load_wait_cycles: int  # loads waiting for buffer space (event engine)
    lower_bound_cycles: int  # the analytical bound
    serial_cycles: int  # everything back to back
    #: stall cycles by cause, measured by the event engine (dram, buffers, ppu; they and
    #: compute_cycles sum to the layer's cycles); empty for the analytical engine
    stall_causes: dict[str, int]
    dram_bytes_by_stream: dict[str, int]
    dram_busy_cycles: int
    mapping: Mapping
    actions: Actions


@dataclass(frozen=True, slots=True)
class OverlayTotals:
    """Network totals only the overlay has."""

    peak_binary_macs_per_cycle: int  # of the PE array (int8 PEs: int8 MACs per cycle)
    int8_macs_per_cycle: int  # of the int8 unit (full-precision layers)
    dram_bytes_per_cycle: float  # the DRAM's peak, all channels (rooflines)
    array_utilization: float  # work done on the array / (latency × its peak)
    stall_cycles: int
    weight_preload_bytes: int = 0  # all weights on chip: loaded once, before the first frame
    resident_maps: int = 0  # layer-to-layer activation maps kept on chip


def _peak(p: Problem, chip: Chip) -> int:
    if p.unit is Unit.ARRAY:
        return chip.peak_binary_macs_per_cycle
    if p.unit is Unit.INT8:
        return chip.int8_unit_macs
    return chip.ppu_lanes


#: settings that change no kept value of the mapper (see ``OverlayFamily.reuse_order``)
_MEMORY_PATHS = frozenset({"mapping.objective", "tech", "node.nm", "node.voltage_v",
                           "dram.energy_pj_per_bit"})


class OverlayFamily(Family):
    """The overlay PE-array accelerator (chip files with ``family: overlay``, the default)."""

    name = OVERLAY
    engines = tuple(ENGINES)
    trace_engines = tuple(n for n, e in ENGINES.items() if e.traces)
    schema = SCHEMA

    def from_settings(self, values: Any, *, file: str | None) -> Chip:
        return chip_from_settings(values, file=file)

    def builtin_dir(self) -> Traversable:
        return files("simulator.overlay") / "chips"

    def reuse_order(self, paths: Sequence[str]) -> list[str]:
        """The mapper keeps a layer's compute side per ``pricing.compute_fields`` and its DRAM
        traffic per ``pricing.traffic_fields`` as well: vary the settings that change neither
        (the buffers' sizes, slots, kinds and banks, the objective, the technology, the DRAM's
        energy) fastest, then the DRAM's and the clock, then everything else."""
        def rank(path: str) -> int:
            memory = path in _MEMORY_PATHS or (path.startswith("buffers.")
                                               and not path.endswith(".port_bits"))
            if memory:
                return 2
            return 1 if path.startswith("dram.") or path == "clock_mhz" else 0

        return sorted(paths, key=rank)

    def describe(self, spec: ChipSpec) -> str:
        chip = _chip(spec)
        pe = chip.pe_array
        buffers = (chip.input_buffer, chip.weight_buffer, chip.output_buffer)
        memory = " + ".join(
            f"{sum(b.size_kib for b in buffers if b.kind is kind):g} KiB "
            + ("SRAM" if kind is MemoryKind.SRAM else "latch")
            for kind in MemoryKind if any(b.kind is kind for b in buffers))
        if pe.window_kib:
            memory += f", {pe.window_kib:g} KiB window"
        return (f"{pe.rows}x{pe.cols} {pe.pe.describe(pe.lane_bits)}, {chip.dataflow.value}, "
                f"{memory}, {chip.dram.channels}x {chip.dram.type.upper()} "
                f"({chip.dram.bandwidth_gbps:g} GB/s)")

    def layer_columns(self, layer: LayerResult) -> dict[str, str]:
        d: OverlayLayer = layer.details
        cols = {"stall": str(d.stall_cycles)}
        if d.stall_causes:  # measured (event engine)
            c = d.stall_causes
            cols["dram/buf/ppu"] = f"{c['dram']}/{c['buffers']}/{c['ppu']}"
        return {**cols, "mapping": d.mapping.describe()}

    def total_lines(self, result: Result) -> list[tuple[str, str]]:
        d: OverlayTotals = result.details
        kept = (f"weights on chip ({d.weight_preload_bytes:,} B loaded once); "
                if d.weight_preload_bytes else "")
        lines = [("on chip", f"{kept}{d.resident_maps} of {len(result.layers) - 1} "
                             "step-to-step maps")] if (kept or d.resident_maps) else []
        return [*lines, ("stall cycles", f"{d.stall_cycles:,}"),
                ("array utilization", f"{100 * d.array_utilization:.1f} % of "
                                      f"{d.peak_binary_macs_per_cycle:,} binary MACs/cycle")]

    def simulate(self, workload: Network, spec: ChipSpec, *, engine: Any = None,
                 tech: TechTable | None = None, trace: bool = False, batch: int = 1) -> Result:
        chip = _chip(spec)
        check_batch(batch)
        steps, preload = plan_network(workload, chip, frames=batch)
        eng: Engine = get_engine(self.engines[0] if engine is None else engine)
        table = _tech_table(chip, tech)
        area = area_breakdown_mm2(chip, table)
        area_total = sum(area.values())
        rec = Trace() if trace else None
        layers = []
        offset = 0
        plans = []
        for step in steps:
            place = step.placement
            lower = functools.partial(problem_for, step.layer, chip, frames=batch,
                                      in_dram=place.in_dram, out_dram=place.out_dram,
                                      w_dram=place.w_dram, pool=step.pool, add=step.add)
            p = lower()
            plan = (p, *choose_mapping(p, chip, table))
            if (p.unit is Unit.INT8 and isinstance(step.layer, Conv2d)
                    and step.layer.weights.kind == "pow2"):
                # power-of-two weights: shift-adds on the int8 unit, or bit-serial planes on
                # the array — whichever the chip's mapping objective prefers
                try:
                    q = lower(pow2_on_int8=False)
                    alt = (q, *choose_mapping(q, chip, table))
                except InfeasibleError:  # e.g. the array's accumulators too narrow for it
                    alt = None
                if alt is not None:
                    plan = min(plan, alt,
                               key=lambda x: _objective(chip, table, area_total, *x))
            plans.append((step, *plan))
        eng.check_network([mapping for _, _, mapping, _ in plans])
        jobs = [LayerJob(step.name, p, mapping, totals, after_layer=k > 0)
                for k, (step, p, mapping, totals) in enumerate(plans)]
        timings = eng.time_network(jobs, chip, trace=rec)
        for (step, p, mapping, totals), job, timing in zip(plans, jobs, timings, strict=True):
            layer = step.layer
            actions = count_actions(p, chip, mapping, totals)
            model = mac_model(p, chip)
            energy = energy_breakdown_pj(actions, chip, table, cycles=timing.cycles,
                                         area_mm2=area_total, acc_bits=p.acc_bits,
                                         model=model)
            if model is None:
                work = actions.pool_ops or actions.ppu_ops
            else:
                work = model.useful_ops(actions.compute)
            details = OverlayLayer(
                compute_cycles=totals.compute_cycles,
                stall_cycles=timing.cycles - totals.compute_cycles,
                compute_wait_cycles=timing.compute_wait_cycles,
                load_wait_cycles=timing.load_wait_cycles,
                lower_bound_cycles=job.lower_bound(chip),
                serial_cycles=totals.serial_cycles, stall_causes=dict(timing.stalls),
                dram_bytes_by_stream={"weights": totals.weight_bytes,
                                      "inputs": totals.input_bytes,
                                      "outputs": totals.output_bytes,
                                      "psums": totals.psum_bytes},
                dram_busy_cycles=job.dram_busy_cycles(chip), mapping=mapping, actions=actions,
            )
            layers.append(LayerResult(
                name=step.name, kind=layer.kind.value, unit=p.unit.value,
                precision=precision_label(layer), macs=layer.macs * batch,
                weight_bits=layer.weight_bits,
                cycles=timing.cycles, energy_pj=sum(energy.values()),
                energy_breakdown_pj=energy, dram_bytes=totals.dram_bytes,
                utilization=work / (timing.cycles * _peak(p, chip)) if timing.cycles else 0.0,
                bound=timing.bound or totals.bound(chip.dram_latency_cycles), details=details,
            ))
            offset += timing.cycles
        cycles = offset
        provenance = {
            "bnnsim_version": package_version(),
            "python": platform.python_version(),
            "family": self.name,
            "chip_source": chip.source or chip.name,
            "chip_digest": chip.digest(),
            "tech": table.name,
            "tech_source": table.source,
            "workload_source": workload.source,
            "workload_digest": workload.digest(),
        }
        return Result(
            family=self.name, network=workload.name, quant=workload.quant, chip=chip.name,
            engine=eng.name, clock_mhz=chip.clock_mhz, latency_cycles=cycles,
            interval_cycles=-(-cycles // batch), layers=tuple(layers), area_mm2=area_total,
            area_breakdown_mm2=area, provenance=provenance, batch=batch,
            inputs={"chip": chip.to_dict(), "tech": table.to_dict()},
            details=OverlayTotals(
                peak_binary_macs_per_cycle=chip.peak_binary_macs_per_cycle,
                int8_macs_per_cycle=chip.int8_unit_macs,
                dram_bytes_per_cycle=chip.dram_bytes_per_cycle,
                array_utilization=_array_utilization(layers, cycles, chip),
                stall_cycles=sum(x.details.stall_cycles for x in layers),
                weight_preload_bytes=preload,
                resident_maps=sum(not s.placement.out_dram for s in steps)),
            trace=tuple(rec.intervals) if rec is not None else None,
        )


def _objective(chip: Chip, table: TechTable, area_mm2: float, p: Problem, mapping: Mapping,
               totals: Any) -> tuple[float, ...]:
    """A planned layer's rank by the chip's mapping objective (its analytical cycles and
    energy), as the mapper ranks tilings."""
    cycles = totals.lower_bound(chip.dram_latency_cycles)
    if chip.objective is Objective.LATENCY:
        return (cycles, totals.dram_bytes)
    if chip.objective is Objective.DRAM:
        return (totals.dram_bytes, cycles)
    actions = count_actions(p, chip, mapping, totals)
    energy = sum(energy_breakdown_pj(actions, chip, table, cycles=cycles, area_mm2=area_mm2,
                                     acc_bits=p.acc_bits, model=mac_model(p, chip)).values())
    return (energy * cycles, cycles) if chip.objective is Objective.EDP else (energy, cycles)


def _chip(spec: ChipSpec) -> Chip:
    if not isinstance(spec, Chip):
        raise TypeError(f"the overlay family simulates an overlay Chip, not "
                        f"{type(spec).__name__} (family {getattr(spec, 'family', '?')!r})")
    return spec


def _tech_table(chip: Chip, tech: TechTable | None) -> TechTable:
    try:
        table = tech if tech is not None else load_tech(chip.tech)
        if chip.node_nm is not None or chip.node_voltage_v is not None:
            table = scale_tech(table, chip.node_nm or table.node_nm,
                               chip.node_voltage_v or table.voltage_v)
        table.require(TECH_ENTRIES | chip.pe_array.pe.tech_entries | INT8_UNIT.tech_entries
                      | memory_tech_entries(chip))
    except ConfigError as err:
        raise err.with_context(file=chip.source or chip.name, key="tech") from None
    return table


def _array_utilization(layers: list[LayerResult], cycles: int, chip: Chip) -> float:
    """Work done on the array (binary MACs, or int8 MACs on an int8 array) over what the
    array could do in the whole run."""
    on_array = [x.details.actions for x in layers if x.unit == Unit.ARRAY.value]
    ops = sum(chip.pe_array.pe.useful_ops(a.compute) for a in on_array)
    return ops / (cycles * chip.peak_binary_macs_per_cycle) if cycles else 0.0
