"""Results: frozen per-layer records and network totals, one schema for every engine.

``Result.to_dict()`` is the documented ``--json`` schema (docs/result-schema.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from simulator.mapping import Mapping
from simulator.trace import Interval

__all__ = ["SCHEMA_VERSION", "LayerResult", "Result"]

SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class LayerResult:
    name: str
    kind: str  # conv | fc | pool | add
    unit: str  # array | int8_unit | ppu
    precision: str  # e.g. "w1a2" (weights, input activations) or "a8" for pool/add
    macs: int
    weight_bits: int
    binary_ops: int  # XNOR bit-ops (MACs × bit-plane passes); 0 off the XNOR array
    cycles: int
    compute_cycles: int  # busy cycles of the unit that runs the layer
    stall_cycles: int  # cycles - compute_cycles
    compute_wait_cycles: int  # the unit waiting for operands / output space (event engine)
    load_wait_cycles: int  # loads waiting for buffer space (event engine)
    lower_bound_cycles: int  # analytical bound
    serial_cycles: int  # everything back to back
    dram_bytes: int
    dram_bytes_by_stream: dict[str, int]
    dram_busy_cycles: int
    energy_pj: float
    energy_breakdown_pj: dict[str, float]
    utilization: float  # useful work / (cycles × peak of its unit)
    bound: str  # compute | memory
    mapping: Mapping
    actions: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "kind": self.kind, "unit": self.unit,
            "precision": self.precision, "macs": self.macs, "weight_bits": self.weight_bits,
            "binary_ops": self.binary_ops, "cycles": self.cycles,
            "compute_cycles": self.compute_cycles, "stall_cycles": self.stall_cycles,
            "compute_wait_cycles": self.compute_wait_cycles,
            "load_wait_cycles": self.load_wait_cycles,
            "lower_bound_cycles": self.lower_bound_cycles, "serial_cycles": self.serial_cycles,
            "dram_bytes": self.dram_bytes, "dram_bytes_by_stream": dict(self.dram_bytes_by_stream),
            "dram_busy_cycles": self.dram_busy_cycles, "energy_pj": self.energy_pj,
            "energy_breakdown_pj": dict(self.energy_breakdown_pj),
            "utilization": self.utilization, "bound": self.bound,
            "mapping": {
                "unit": self.mapping.unit, "dataflow": self.mapping.dataflow,
                "tile": {"k": self.mapping.tk, "c": self.mapping.tc, "oy": self.mapping.toy,
                         "ox": self.mapping.tox},
                "loop_order": list(self.mapping.order), "tiles": self.mapping.tiles,
                "spills_psums": self.mapping.spills_psums,
            },
            "actions": dict(self.actions),
        }


@dataclass(frozen=True, slots=True)
class Result:
    network: str
    quant: str
    chip: str
    engine: str
    clock_mhz: float
    layers: tuple[LayerResult, ...]
    area_mm2: float
    area_breakdown_mm2: dict[str, float]
    peak_binary_macs_per_cycle: int
    provenance: dict[str, str]
    trace: tuple[Interval, ...] | None = field(default=None, compare=False)

    # ---------------------------------------------------------------- totals
    @property
    def cycles(self) -> int:
        return sum(x.cycles for x in self.layers)

    @property
    def latency_s(self) -> float:
        return self.cycles / (self.clock_mhz * 1e6)

    @property
    def frames_per_s(self) -> float:
        return 1.0 / self.latency_s if self.cycles else float("inf")

    @property
    def energy_pj(self) -> float:
        return sum(x.energy_pj for x in self.layers)

    @property
    def energy_breakdown_pj(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for x in self.layers:
            for k, v in x.energy_breakdown_pj.items():
                out[k] = out.get(k, 0.0) + v
        return out

    @property
    def macs(self) -> int:
        return sum(x.macs for x in self.layers)

    @property
    def weight_bits(self) -> int:
        return sum(x.weight_bits for x in self.layers)

    @property
    def dram_bytes(self) -> int:
        return sum(x.dram_bytes for x in self.layers)

    @property
    def tops_per_w(self) -> float:
        """Operations (2 per MAC) per joule / 1e12; equals TOPS per watt."""
        return 2 * self.macs / (self.energy_pj * 1e-12) / 1e12 if self.energy_pj else 0.0

    @property
    def utilization(self) -> float:
        """Binary MACs done on the array over what the array could do in the whole run."""
        ops = sum(x.binary_ops for x in self.layers if x.unit == "array")
        if not ops:  # int8 baseline: int8 MACs on the array
            ops = sum(x.actions.get("int8_macs", 0) for x in self.layers if x.unit == "array")
        return ops / (self.cycles * self.peak_binary_macs_per_cycle) if self.cycles else 0.0

    def total_dict(self) -> dict[str, Any]:
        return {
            "cycles": self.cycles, "latency_s": self.latency_s,
            "frames_per_s": self.frames_per_s, "energy_pj": self.energy_pj,
            "energy_uj": self.energy_pj * 1e-6,
            "energy_breakdown_pj": self.energy_breakdown_pj, "tops_per_w": self.tops_per_w,
            "area_mm2": self.area_mm2, "area_breakdown_mm2": dict(self.area_breakdown_mm2),
            "dram_bytes": self.dram_bytes, "macs": self.macs, "weight_bits": self.weight_bits,
            "stall_cycles": sum(x.stall_cycles for x in self.layers),
            "utilization": self.utilization,
        }

    def to_dict(self, *, include_trace: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "network": self.network, "quant": self.quant, "chip": self.chip,
            "engine": self.engine, "clock_mhz": self.clock_mhz,
            "total": self.total_dict(),
            "layers": [x.to_dict() for x in self.layers],
            "provenance": dict(self.provenance),
        }
        if include_trace and self.trace is not None:
            out["trace"] = [{"component": t.component, "start": t.start, "end": t.end,
                             "label": t.label} for t in self.trace]
        return out
