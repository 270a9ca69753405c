"""Results: one family-neutral, versioned schema for every accelerator family and engine.

A :class:`Result` separates the two numbers a pipeline makes different: ``latency_cycles``
(one frame, input to output) and ``interval_cycles`` (the steady state between frames;
frames/s = clock / interval). A family that runs one layer at a time has both equal to the sum
of its layers' cycles; a streaming pipeline's interval is its slowest stage. Per layer, the
fields every family fills are on :class:`LayerResult`; what only one family knows lives in
its ``details`` dataclass (and ``Result.details`` for totals).

``Result.to_dict()`` is the documented ``--json`` schema (docs/result-schema.md) and
:meth:`Result.layer_rows` the ``--csv`` columns; both are derived from the dataclass fields,
so adding a field adds its key and column.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from simulator.trace import Interval

__all__ = ["SCHEMA_VERSION", "TOTAL_KEYS", "LayerResult", "Result", "plain"]

SCHEMA_VERSION = 6


def plain(value: Any) -> Any:
    """JSON-ready form of a result value: dataclasses by field, tuples as lists, enums by
    value; a non-finite float is an error, never ``NaN`` in a JSON file."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"non-finite number in a result: {value}")
    return value


def _flat(prefix: str, value: Any, out: dict[str, Any]) -> None:
    """Scalar leaves of a plain value under dotted column names (lists joined with spaces)."""
    if isinstance(value, dict):
        for k, v in value.items():
            _flat(f"{prefix}.{k}" if prefix else k, v, out)
    elif isinstance(value, list):
        out[prefix] = " ".join(str(v) for v in value)
    else:
        out[prefix] = value


@dataclass(frozen=True, slots=True)
class LayerResult:
    """One layer of one frame. ``cycles`` is the span of its work (overlay: first load to last
    store; a pipeline stage: its cycles per frame); ``details`` is the family's own record."""

    name: str
    kind: str  # conv | fc | pool | add
    unit: str  # the unit that runs it (family-specific: array, int8_unit, ppu, …)
    precision: str  # w<W>a<A> (weights, input activations) or a<A> for pool/add
    macs: int
    weight_bits: int
    cycles: int
    energy_pj: float
    energy_breakdown_pj: dict[str, float]
    dram_bytes: int
    utilization: float  # useful work / (cycles × peak of its unit), 0–1
    bound: str  # what limits it: compute, ppu, dram, buffers, …
    details: Any = None  # a frozen dataclass of the family


#: The network totals in ``to_dict()["total"]`` (properties and fields of :class:`Result`).
TOTAL_KEYS = (
    "latency_cycles", "interval_cycles", "latency_s", "frames_per_s", "energy_pj", "energy_uj",
    "energy_breakdown_pj", "tops_per_w", "area_mm2", "area_breakdown_mm2", "dram_bytes",
    "macs", "weight_bits", "batch", "batch_cycles", "batch_energy_pj", "batch_dram_bytes",
)


@dataclass(frozen=True, slots=True)
class Result:
    """A workload on a chip: per-layer records, one frame's totals and provenance."""

    family: str
    network: str
    quant: str
    chip: str
    engine: str
    clock_mhz: float
    latency_cycles: int  # one frame, from its first input to its last output
    interval_cycles: int  # steady state: cycles between frames
    layers: tuple[LayerResult, ...]  # per run: all ``batch`` frames
    area_mm2: float
    area_breakdown_mm2: dict[str, float]
    provenance: dict[str, str]
    details: Any = None  # the family's totals (a frozen dataclass)
    trace: tuple[Interval, ...] | None = field(default=None, compare=False)
    batch: int = 1  # frames per run
    #: what produced it, in full: ``chip`` (the chip's validated settings, as a chip file
    #: would give them) and ``tech`` (the technology table, entries included)
    inputs: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def batch_cycles(self) -> int:
        """The whole run (all frames): the layers' cycles one after another, or a pipeline's
        span (its family's ``details.run_cycles``, the layers busy at once)."""
        run = getattr(self.details, "run_cycles", None)
        return int(run) if run is not None else sum(x.cycles for x in self.layers)

    @property
    def batch_energy_pj(self) -> float:
        return sum(x.energy_pj for x in self.layers)

    @property
    def batch_dram_bytes(self) -> int:
        return sum(x.dram_bytes for x in self.layers)

    # ---------------------------------------------------------------- totals
    @property
    def latency_s(self) -> float:
        return self.latency_cycles / (self.clock_mhz * 1e6)

    @property
    def frames_per_s(self) -> float:
        """Steady-state throughput: clock / interval."""
        return self.clock_mhz * 1e6 / self.interval_cycles if self.interval_cycles else 0.0

    @property
    def energy_pj(self) -> float:
        """Energy of one frame (the run's over its frames)."""
        return self.batch_energy_pj / self.batch

    @property
    def energy_uj(self) -> float:
        return self.energy_pj * 1e-6

    @property
    def energy_breakdown_pj(self) -> dict[str, float]:
        """One frame's energy by part."""
        out: dict[str, float] = {}
        for x in self.layers:
            for k, v in x.energy_breakdown_pj.items():
                out[k] = out.get(k, 0.0) + v / self.batch
        return out

    @property
    def macs(self) -> int:
        """MACs of one frame."""
        return sum(x.macs for x in self.layers) // self.batch

    @property
    def weight_bits(self) -> int:
        return sum(x.weight_bits for x in self.layers)

    @property
    def dram_bytes(self) -> int:
        """DRAM bytes of one frame (the run's over its frames, rounded)."""
        return round(self.batch_dram_bytes / self.batch)

    @property
    def tops_per_w(self) -> float | None:
        """Operations (2 per MAC) per joule / 1e12; equals TOPS per watt (None when the frame
        costs no energy, as with a technology table of zeros)."""
        return 2 * self.macs / (self.energy_pj * 1e-12) / 1e12 if self.energy_pj > 0 else None

    # ---------------------------------------------------------------- schema
    def total_dict(self) -> dict[str, Any]:
        return {key: plain(getattr(self, key)) for key in TOTAL_KEYS}

    def to_dict(self, *, include_trace: bool = False) -> dict[str, Any]:
        """The ``--json`` document (schema version :data:`SCHEMA_VERSION`)."""
        head = ("family", "network", "quant", "chip", "engine", "clock_mhz")
        out: dict[str, Any] = {"schema_version": SCHEMA_VERSION}
        out.update({key: getattr(self, key) for key in head})
        out["total"] = self.total_dict()
        out["details"] = plain(self.details)
        out["layers"] = [plain(x) for x in self.layers]
        out["provenance"] = dict(self.provenance)
        out["inputs"] = plain(self.inputs)
        if include_trace and self.trace is not None:
            out["trace"] = [plain(t) for t in self.trace]
        return out

    def layer_rows(self) -> list[dict[str, Any]]:
        """One flat row per layer (the ``--csv`` columns): the common fields, then the
        family's details under dotted names (``details.mapping.tk``)."""
        rows = []
        for x in self.layers:
            row: dict[str, Any] = {}
            _flat("", plain(x), row)
            rows.append(row)
        return rows
