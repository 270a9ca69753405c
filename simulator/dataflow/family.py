"""The dataflow family: a FINN-style streaming pipeline — one unit per layer, all running at
once, rows flowing between them through FIFOs.

Per run: resolve each layer's folding (:mod:`.folding`; a ``folding.target_fps`` chooses it),
build the stages (:mod:`.pipeline`), check the device's resources (:mod:`.resources`), time
the run with an engine (:mod:`.engines`), and price energy as the device's power over the
time (static) plus each stage's logic and memory while it is busy. A frame's latency and the
interval between frames differ here: the interval is the slowest stage's.
"""

from __future__ import annotations

import dataclasses
import math
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.abc import Traversable
from importlib.resources import files
from typing import Any

from simulator.dataflow.chip import (
    DATAFLOW,
    SCHEMA,
    DataflowChip,
    chip_from_settings,
    parse_layer_foldings,
    split_layer_keys,
)
from simulator.dataflow.engines import ENGINES, MIN_EVENT_FRAMES, Timing, fifo_needs
from simulator.dataflow.folding import auto_fold, resolve, target_cycles, with_choices
from simulator.dataflow.pipeline import Edge, Stage, build_pipeline
from simulator.dataflow.resources import Resources, fifo_resources
from simulator.family import ChipSpec, Family, check_batch, precision_label
from simulator.result import LayerResult, Result
from simulator.settings import parse_override, unflatten
from simulator.tech import TechTable
from workloads.errors import ConfigError, InfeasibleError
from workloads.network import Network
from workloads.version import package_version

__all__ = ["DataflowFamily", "DataflowLayer", "DataflowTotals"]


@dataclass(frozen=True, slots=True)
class DataflowLayer:
    """One stage: its folding, the matrix it folds (0 for a pool or add), FINN's cycle
    formula, the window generator's cycles, resources, FIFO and what it waited for."""

    pe: int
    simd: int
    mh: int
    mw: int
    vectors: int
    exp_cycles: int  # (MH/PE)·(MW/SIMD)·V (× bases and groups): FINN's get_exp_cycles
    swg_cycles: int  # the sliding-window generator (0: none)
    frame_cycles: int  # the stage's cycles a frame (the slower of the two; DRAM-bound)
    luts: int
    bram18: int
    uram: int
    fifo_depth: int  # of its input FIFOs (the shallowest), rows
    fifo_peak: int  # the most rows any of its input FIFOs held (event engine)
    starved_cycles: int  # waiting for input rows (event engine)
    blocked_cycles: int  # waiting for FIFO space downstream (event engine)


@dataclass(frozen=True, slots=True)
class DataflowTotals:
    """Network totals of a pipeline."""

    luts: int
    bram18: int
    uram: int
    device_luts: int
    device_bram18: int
    device_uram: int
    bottleneck: str  # the slowest stage
    latency_sum_cycles: int  # FINN's pessimistic latency: the longest path of stage cycles
    input_cycles: int  # the input frame's DMA
    output_cycles: int
    folding: dict[str, dict[str, Any]]  # layer → {pe, simd, fifo_depth}
    run_cycles: int  # the run's span: its last frame out (the layers work at once)


class DataflowFamily(Family):
    """FINN-style streaming dataflow (chip files with ``family: dataflow``)."""

    name = DATAFLOW
    engines = tuple(ENGINES)
    schema = SCHEMA

    # ------------------------------------------------------------------ specs
    def from_settings(self, values: Mapping[str, Any], *, file: str | None,
                      layers: Any = None) -> DataflowChip:
        return chip_from_settings(values, parse_layer_foldings(layers, file=file), file=file)

    def spec_from_dict(self, data: Any, *, file: Any = None) -> DataflowChip:
        src = str(file) if file is not None else None
        if not isinstance(data, Mapping):
            raise ConfigError("a chip file must be a mapping of keys", file=src)
        data = dict(data)
        folding = data.get("folding")
        layers = None
        if isinstance(folding, Mapping) and "layers" in folding:
            folding = dict(folding)
            layers = folding.pop("layers")
            data["folding"] = folding
        return self.from_settings(self.schema.validate(data, file=src), file=src,
                                  layers=layers)

    def apply_overrides(self, spec: ChipSpec, overrides: Sequence[str] | Mapping[str, Any]
                        ) -> DataflowChip:
        """Overrides of the schema's settings and of ``folding.layers.<layer>.<key>``."""
        pairs = dict(overrides.items() if isinstance(overrides, Mapping)
                     else map(parse_override, overrides))
        rest, _ = split_layer_keys(pairs)
        self.schema.check_keys(list(rest))
        flat, layers = split_layer_keys({**dict(spec.raw), **pairs})
        where = (spec.source if spec.source.endswith("--set")
                 else f"{spec.source} + --set" if spec.source else "--set")
        return self.from_settings(self.schema.validate(unflatten(flat), file=where), file=where,
                                  layers=layers)

    def with_folding(self, spec: ChipSpec, path: str) -> DataflowChip:
        """``spec`` with the folding file ``path`` (FINN's JSON or bnnsim's YAML) over its
        own per-layer entries (a layer the file names takes the file's)."""
        from simulator.dataflow.folding import load_folding

        chip = _chip(spec)
        kept = dict(chip.layers)
        kept.update(load_folding(path))
        return chip.with_layers(tuple(kept.items()))

    def builtin_dir(self) -> Traversable:
        return files("simulator.dataflow") / "chips"

    def describe(self, spec: ChipSpec) -> str:
        chip = _chip(spec)
        where = "on chip" if chip.weights_on_chip else "in DRAM"
        return (f"streaming pipeline, {chip.luts:,} LUTs, {chip.bram18:,} BRAM18"
                + (f", {chip.uram:,} URAM" if chip.uram else "") + f", weights {where}")

    def layer_columns(self, layer: LayerResult) -> dict[str, str]:
        d: DataflowLayer = layer.details
        return {"PE×SIMD": f"{d.pe}×{d.simd}" if d.mh else f"{d.pe}",
                "LUTs": f"{d.luts}", "BRAM18": f"{d.bram18}"}

    def total_lines(self, result: Result) -> list[tuple[str, str]]:
        d: DataflowTotals = result.details
        return [("resources", f"{d.luts:,} of {d.device_luts:,} LUTs, {d.bram18:,} of "
                              f"{d.device_bram18:,} BRAM18"
                              + (f", {d.uram:,} of {d.device_uram:,} URAM" if d.device_uram
                                 else "")),
                ("bottleneck", f"{d.bottleneck} (FINN's critical-path latency: "
                               f"{d.latency_sum_cycles:,} cycles)")]

    # ------------------------------------------------------------------ simulation
    def folded_chip(self, workload: Network, spec: ChipSpec) -> DataflowChip:
        """The chip with its folding chosen for ``folding.target_fps`` when that is set."""
        chip = _chip(spec)
        if chip.target_fps > 0:
            choices = auto_fold(workload, chip, target_cycles(chip, chip.target_fps))
            chip = with_choices(chip, choices)
        return chip

    def pipeline(self, workload: Network, spec: ChipSpec) -> tuple[DataflowChip, list[Stage],
                                                                   list[Edge]]:
        """The (folded) chip, its stages and its FIFOs for ``workload``."""
        chip = self.folded_chip(workload, spec)
        try:
            folding = resolve(workload, chip)
            stages, edges = build_pipeline(workload, chip, folding)
        except ConfigError as err:
            raise err.with_context(file=chip.source or chip.name, key=err.key) from None
        if not chip.weights_on_chip:  # the DRAM shared by every stage's weight stream
            total = sum(s.weight_bytes for s in stages)
            floor = math.ceil(total / chip.dram_bytes_per_cycle) if total else 0
            stages = [dataclasses.replace(s, cycles=max(s.cycles, floor)) if s.weight_bytes
                      else s for s in stages]
        if any(e.depth is None for e in edges):  # residual adds' inputs: as deep as needed
            trial = [dataclasses.replace(e, depth=e.depth or chip.fifo_depth) for e in edges]
            needs = fifo_needs(stages, trial)
            edges = [e if e.depth is not None else dataclasses.replace(
                e, depth=max(chip.fifo_depth, needs[(e.src, e.dst)])) for e in edges]
        return chip, stages, edges

    def simulate(self, workload: Network, spec: ChipSpec, *, engine: Any = None,
                 tech: TechTable | None = None, trace: bool = False, batch: int = 1) -> Result:
        check_batch(batch)
        name = self.engines[0] if engine is None else engine
        if name not in ENGINES:
            raise ConfigError(f"allowed for the dataflow family: {', '.join(ENGINES)}",
                              key="--engine", value=name, has_value=True)
        chip, stages, edges = self.pipeline(workload, spec)
        totals = sum((s.resources for s in stages), Resources())
        totals = sum((fifo_resources(e) for e in edges), totals)
        _check_fits(chip, totals, stages)
        # the event model streams at least a few frames, so its interval is measured (a
        # single frame's figures are the first of them)
        frames = batch if name == "analytical" else max(batch, MIN_EVENT_FRAMES)
        timing: Timing = ENGINES[name](stages, edges, frames)
        if frames != batch:
            timing = timing.first(batch, frames)
        run = timing.done[-1]
        fifo_by_dst: dict[str, Resources] = {}
        for e in edges:
            fifo_by_dst[e.dst] = fifo_by_dst.get(e.dst, Resources()) + fifo_resources(e)
        # the device's static power over the steady state's share of each frame
        static_pj = chip.static_w * timing.interval * batch / (chip.clock_mhz * 1e6) * 1e12
        own = {st.name: st.resources + fifo_by_dst.get(st.name, Resources())
               for st in stages if st.layer is not None}
        luts = sum(r.luts for r in own.values())
        layers = [self._layer(st, chip, timing, own[st.name],
                              static_pj * own[st.name].luts / luts if luts else 0.0, batch,
                              [e for e in edges if e.dst == st.name])
                  for st in stages if st.layer is not None]
        io = [s for s in stages if s.layer is None]
        slowest = max(stages, key=lambda s: s.cycles)
        provenance = {
            "bnnsim_version": package_version(), "python": platform.python_version(),
            "family": self.name, "chip_source": chip.source or chip.name,
            "chip_digest": chip.digest(), "workload_source": workload.source,
            "workload_digest": workload.digest(),
        }
        folding = {x.name: {"pe": d.pe, "simd": d.simd, "fifo_depth": d.fifo_depth}
                   for x in layers for d in [x.details]}
        return Result(
            family=self.name, network=workload.name, quant=workload.quant, chip=chip.name,
            engine=name, clock_mhz=chip.clock_mhz, latency_cycles=timing.latency,
            interval_cycles=max(1, timing.interval), layers=tuple(layers), area_mm2=0.0,
            area_breakdown_mm2={}, provenance=provenance, batch=batch,
            inputs={"chip": chip.to_dict()},
            details=DataflowTotals(
                luts=totals.luts, bram18=totals.bram18, uram=totals.uram,
                device_luts=chip.luts, device_bram18=chip.bram18, device_uram=chip.uram,
                bottleneck=slowest.name, latency_sum_cycles=_critical_path(stages),
                input_cycles=io[0].cycles, output_cycles=io[-1].cycles, folding=folding,
                run_cycles=run),
        )

    def _layer(self, st: Stage, chip: DataflowChip, timing: Timing, res: Resources,
               static_pj: float, batch: int, inputs: list[Edge]) -> LayerResult:
        """One layer's record: ``res`` its unit's and input FIFOs' resources, ``static_pj``
        its share of the device's static energy over the run (by LUTs)."""
        layer = st.layer
        assert layer is not None
        t = timing.stages[st.name]
        busy_s = t.busy / (chip.clock_mhz * 1e6)
        mhz = chip.clock_mhz
        logic = res.luts * chip.lut_uw_per_mhz * mhz * busy_s * 1e6  # µW·s → pJ
        memory = (res.bram18 + 8 * res.uram) * chip.bram18_uw_per_mhz * mhz * busy_s * 1e6
        dram = st.weight_bytes * batch * 8 * chip.dram_pj_per_bit
        energy = {"logic": logic, "memory": memory, "static": static_pj, "dram": float(dram)}
        f = st.folded
        pe, simd = (f.pe, f.simd) if f else (st.channels_per_cycle, 1)
        details = DataflowLayer(
            pe=pe, simd=simd, mh=f.mh if f else 0, mw=f.mw if f else 0,
            vectors=f.vectors if f else 0, exp_cycles=f.cycles if f else st.cycles,
            swg_cycles=st.swg_cycles, frame_cycles=st.cycles, luts=res.luts,
            bram18=res.bram18, uram=res.uram,
            fifo_depth=min((e.slots for e in inputs), default=0),
            fifo_peak=max(t.fifo_peak.values(), default=0),
            starved_cycles=t.starved, blocked_cycles=t.blocked)
        if st.weight_bytes and f is not None and st.cycles > f.cycles and st.cycles > st.swg_cycles:
            bound = "dram"
        elif st.swg_cycles > (f.cycles if f else 0):
            bound = "window"
        else:
            bound = "compute"
        return LayerResult(
            name=st.name, kind=layer.kind.value, unit=st.kind, precision=precision_label(layer),
            macs=st.macs * batch, weight_bits=layer.weight_bits, cycles=t.busy,
            energy_pj=sum(energy.values()), energy_breakdown_pj=energy,
            dram_bytes=st.weight_bytes * batch,
            # useful work / (busy cycles × the unit's peak): a matrix unit's own cycles over
            # the stage's (less than 1 when its window generator or the DRAM is slower)
            utilization=(min(1.0, (f.cycles if f else st.cycles) / st.cycles)
                         if st.cycles else 0.0), bound=bound, details=details)


def _critical_path(stages: list[Stage]) -> int:
    """FINN's latency estimate: the longest path of whole-stage cycles from the input DMA to
    the output (``critical_path_cycles`` of its ``dataflow_performance``)."""
    longest: dict[str, int] = {}
    for st in stages:
        longest[st.name] = st.cycles + max((longest[s] for s in st.inputs), default=0)
    return longest[stages[-1].name]


def _check_fits(chip: DataflowChip, r: Resources, stages: list[Stage]) -> None:
    """A pipeline that needs more of a resource than the device has is infeasible; the error
    names the layer that takes the most of it."""
    for key, field, have, unit in (("device.luts", "luts", chip.luts, "LUTs"),
                                   ("device.bram18", "bram18", chip.bram18, "BRAM18s"),
                                   ("device.uram", "uram", chip.uram, "URAMs")):
        need = getattr(r, field)
        if need > have:
            layers = [s for s in stages if s.layer is not None]
            top = max(layers, key=lambda s: getattr(s.resources, field))
            raise InfeasibleError(
                f"the pipeline needs {need:,} {unit} ({getattr(top.resources, field):,} in "
                f"layer '{top.name}'), the device has {have:,}; fold the layers less (smaller "
                "PE and SIMD, or a lower folding.target_fps) or use a larger device",
                layer=top.name, resource=key, needed=need, available=have, unit=unit,
                file=chip.source or chip.name, value=have, has_value=True)


def _chip(spec: ChipSpec) -> DataflowChip:
    if not isinstance(spec, DataflowChip):
        raise TypeError(f"the dataflow family simulates a DataflowChip, not "
                        f"{type(spec).__name__} (family {getattr(spec, 'family', '?')!r})")
    return spec
