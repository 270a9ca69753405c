"""``simulate(workload, chip, engine=...)``: the Python API behind ``bnnsim simulate``."""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path

from simulator.chip import Chip, PeType, load_chip
from simulator.energy import area_breakdown_mm2, count_actions, energy_breakdown_pj
from simulator.engines import Engine, get_engine
from simulator.mapping import choose_mapping
from simulator.problem import Problem, Unit, problem_for
from simulator.result import LayerResult, Result
from simulator.tech import TechTable, load_tech
from simulator.trace import Trace
from workloads.errors import ConfigError
from workloads.layers import Conv2d, Layer
from workloads.network import Network

__all__ = ["simulate"]


def _version() -> str:
    try:
        return metadata.version("bnnsim")
    except metadata.PackageNotFoundError:  # running from a source tree
        return "0+unknown"


def _precision(layer: Layer) -> str:
    if isinstance(layer, Conv2d):
        return f"w{layer.weights.label}a{layer.activations.label}"
    return f"a{layer.activations.label}"


def _peak(p: Problem, chip: Chip) -> int:
    if p.unit is Unit.ARRAY:
        return chip.peak_binary_macs_per_cycle
    if p.unit is Unit.INT8:
        return chip.int8_unit_macs
    return chip.ppu_lanes


def simulate(
    workload: Network,
    chip: Chip | str | Path,
    *,
    engine: str | Engine = "analytical",
    tech: TechTable | None = None,
    trace: bool = False,
) -> Result:
    """Run ``workload`` on ``chip`` (a :class:`Chip`, a built-in name or a YAML path).

    Layers run one after another; each is mapped, priced and timed by ``engine``
    (``"analytical"`` or ``"event"``, or an :class:`Engine` instance). With ``trace=True`` the
    event engine records busy intervals per component.
    """
    chip = chip if isinstance(chip, Chip) else load_chip(chip)
    eng = get_engine(engine)
    try:
        table = tech or load_tech(chip.tech)
    except ConfigError as err:
        if err.file:
            raise
        raise ConfigError(err.message, file=chip.source or chip.name, key="tech",
                          value=chip.tech, has_value=True) from None
    area = area_breakdown_mm2(chip, table)
    area_total = sum(area.values())
    rec = Trace() if trace else None
    layers = []
    offset = 0
    for layer in workload.layers:
        p = problem_for(layer, chip)
        mapping, totals = choose_mapping(p, chip)
        if rec is not None:
            rec.offset, rec.layer = offset, layer.name
        timing = eng.time_layer(p, chip, mapping, totals, trace=rec)
        actions = count_actions(p, chip, mapping, totals)
        energy = energy_breakdown_pj(actions, chip, table, cycles=timing.cycles,
                                     area_mm2=area_total, acc_bits=chip.accumulator_bits)
        if p.unit is Unit.PPU:
            work = actions.pool_ops or actions.ppu_ops
        elif p.unit is Unit.ARRAY and chip.pe_array.pe_type is PeType.XNOR:
            work = actions.binary_ops
        else:
            work = actions.int8_macs
        occupancy = totals.dram_occupancy
        layers.append(LayerResult(
            name=layer.name, kind=layer.kind.value, unit=p.unit.value,
            precision=_precision(layer), macs=layer.macs, weight_bits=layer.weight_bits,
            binary_ops=actions.binary_ops, cycles=timing.cycles,
            compute_cycles=totals.compute_cycles,
            stall_cycles=timing.cycles - totals.compute_cycles,
            compute_wait_cycles=timing.compute_wait_cycles,
            load_wait_cycles=timing.load_wait_cycles,
            lower_bound_cycles=totals.lower_bound(chip.dram_latency_cycles),
            serial_cycles=totals.serial_cycles, dram_bytes=totals.dram_bytes,
            dram_bytes_by_stream={"weights": totals.weight_bytes, "inputs": totals.input_bytes,
                                  "outputs": totals.output_bytes, "psums": totals.psum_bytes},
            dram_busy_cycles=occupancy, energy_pj=sum(energy.values()),
            energy_breakdown_pj=energy,
            utilization=work / (timing.cycles * _peak(p, chip)) if timing.cycles else 0.0,
            bound=totals.bound(chip.dram_latency_cycles),
            mapping=mapping, actions=actions.to_dict(),
        ))
        offset += timing.cycles
    provenance = {
        "bnnsim_version": _version(),
        "python": platform.python_version(),
        "chip_source": chip.source or chip.name,
        "chip_digest": chip.digest(),
        "tech": table.name,
        "tech_source": table.source,
        "workload_source": workload.source,
        "workload_digest": workload.digest(),
    }
    return Result(
        network=workload.name, quant=workload.quant, chip=chip.name, engine=eng.name,
        clock_mhz=chip.clock_mhz, layers=tuple(layers), area_mm2=area_total,
        area_breakdown_mm2=area, peak_binary_macs_per_cycle=chip.peak_binary_macs_per_cycle,
        provenance=provenance, trace=tuple(rec.intervals) if rec is not None else None,
    )
