"""Overlay chips: the settings table of a chip file and the frozen, validated spec.

Every number a user can set lives in the file and is checked on load (:data:`SCHEMA`); a bad
value raises :class:`~workloads.errors.ConfigError` naming the file, the key path, the value
and what is allowed. ``--set key.path=value`` overrides go through the same validation.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.dram_types import DRAM_TYPES
from simulator.family import spec_digest
from simulator.overlay.pe_types import PE_TYPES, PeType
from simulator.settings import Schema, Setting, unflatten
from workloads.errors import ConfigError
from workloads.weight_stats import SHARING_FORMS

__all__ = [
    "OVERLAY",
    "SCHEMA",
    "BufferSpec",
    "Chip",
    "Dataflow",
    "DramSpec",
    "FoldTiming",
    "FullPrecision",
    "MemoryKind",
    "Objective",
    "Packing",
    "PeArraySpec",
    "chip_from_settings",
]


#: The family name overlay chip files carry (``family: overlay``, the default).
OVERLAY = "overlay"


class Dataflow(enum.Enum):
    OUTPUT_STATIONARY = "output_stationary"
    WEIGHT_STATIONARY = "weight_stationary"
    INPUT_STATIONARY = "input_stationary"


class FoldTiming(enum.Enum):
    PIPELINED = "pipelined"  # the next fold's fill overlaps the current drain (shadow registers)
    PER_FOLD = "per_fold"  # SCALE-Sim's convention: every fold pays 2r + c + t − 2


class Packing(enum.Enum):
    CHANNEL = "channel"  # a PE word holds channels of one kernel position (channel-last)
    KERNEL = "kernel"  # a PE word runs across kernel positions and channels (im2col rows)


class MemoryKind(enum.Enum):
    """What an on-chip memory is built from (its energy per bit and area: the tech table's
    entries of the same component name)."""

    SRAM = "sram"  # an SRAM macro
    LATCH = "latch"  # a latch-based standard-cell memory beside the datapath


class FullPrecision(enum.Enum):
    INT8_UNIT = "int8_unit"  # 8-bit layers run on the separate int8 MAC unit
    BIT_SERIAL = "bit_serial"  # 8-bit layers run bit-serially on the XNOR array


class Objective(enum.Enum):
    ENERGY = "energy"  # least energy, then fewest cycles (the default)
    EDP = "edp"  # least energy × cycles
    LATENCY = "latency"  # fewest cycles, then least DRAM traffic (monotone in resources)
    DRAM = "dram"  # least DRAM traffic, then fewest cycles


@dataclass(frozen=True, slots=True)
class PeArraySpec:
    rows: int
    cols: int
    lane_bits: int
    pe_type: str  # a key of simulator.overlay.pe_types.PE_TYPES
    fold_timing: FoldTiming = FoldTiming.PIPELINED
    packing: Packing = Packing.CHANNEL
    #: a latch line buffer feeding shift-register windows at the array's input edge (0: none):
    #: a tile's input footprint is read from the input buffer once per activation plane
    window_kib: float = 0.0
    #: the form binary-weight layers run in on an adder PE (``workloads.weight_stats``)
    weight_sharing: str = "none"

    @property
    def pes(self) -> int:
        return self.rows * self.cols

    @property
    def pe(self) -> PeType:
        """The PE type's model (operand words, peak rate, actions, energy, area)."""
        return PE_TYPES[self.pe_type]


@dataclass(frozen=True, slots=True)
class BufferSpec:
    size_kib: float
    port_bits: int
    double_buffered: bool
    kind: MemoryKind = MemoryKind.SRAM
    #: independent banks of ``size_kib / banks`` each (one per PE column, say): an access
    #: costs what one bank's costs; the area is the banks' together
    banks: int = 1

    @property
    def bank_kib(self) -> float:
        return self.size_kib / self.banks

    @property
    def size_bits(self) -> int:
        return int(self.size_kib * 1024 * 8)

    @property
    def tile_bits(self) -> int:
        """Largest tile one slot holds (half the buffer when double-buffered)."""
        return self.size_bits // (2 if self.double_buffered else 1)

    @property
    def slots(self) -> int:
        return 2 if self.double_buffered else 1


@dataclass(frozen=True, slots=True)
class DramSpec:
    """The DRAM: ``channels`` independent channels of one type (defaults from
    :data:`~simulator.dram_types.DRAM_TYPES`, each overridable in the chip file)."""

    type: str
    channels: int
    width_bits: int  # per channel
    data_rate_mtps: float
    burst_bytes: int  # smallest transfer of one channel
    latency_ns: float
    energy_pj_per_bit: float

    @property
    def channel_gbps(self) -> float:
        """Peak bandwidth of one channel (GB/s)."""
        return self.width_bits * self.data_rate_mtps / 8 / 1000

    @property
    def bandwidth_gbps(self) -> float:
        """Peak bandwidth of all channels together (GB/s)."""
        return self.channels * self.channel_gbps


@dataclass(frozen=True, slots=True)
class Chip:
    """A chip of the overlay template (see docs/simulator.md)."""

    name: str
    clock_mhz: float
    pe_array: PeArraySpec
    dataflow: Dataflow
    input_buffer: BufferSpec
    weight_buffer: BufferSpec
    output_buffer: BufferSpec
    dram: DramSpec
    ppu_lanes: int
    int8_unit_macs: int  # MACs per cycle of the int8 unit; 0 = none
    full_precision: FullPrecision
    accumulator_bits: int  # the array's (and the post-processing unit's)
    objective: Objective
    tech: str  # built-in table name or a path
    source: str = ""  # file it came from
    raw: tuple[tuple[str, Any], ...] = ()  # the validated flat settings, for --set and digests
    family: str = OVERLAY
    int8_unit_acc_bits: int = 32  # the int8 unit's accumulators (int8 MACs over long sums)
    keep_activations: bool = True  # a layer's output map stays on chip when it fits
    keep_weights: bool = True  # all weights stay on chip when they fit
    fuse_pool: bool = False  # non-overlapping pooling runs in the producer's post-processing
    fuse_add: bool = False  # a residual add runs in the producer's post-processing
    #: the next layer's first weight tile loads while the current layer finishes
    overlap_layers: bool = True
    node_nm: float | None = None  # the tech table scaled to this node (None: as it is)
    node_voltage_v: float | None = None  # … and supply voltage (None: the table's)

    # ---------------------------------------------------------------- derived
    @property
    def dram_bytes_per_cycle(self) -> float:
        """All channels together."""
        return self.dram.bandwidth_gbps * 1e9 / (self.clock_mhz * 1e6)

    @property
    def channel_bytes_per_cycle(self) -> float:
        return self.dram.channel_gbps * 1e9 / (self.clock_mhz * 1e6)

    @property
    def dram_latency_cycles(self) -> int:
        return round(self.dram.latency_ns * self.clock_mhz / 1e3)

    @property
    def peak_binary_macs_per_cycle(self) -> int:
        """Binary MACs per cycle of the whole array (int8 PEs: int8 MACs per cycle)."""
        return self.pe_array.pes * self.pe_array.pe.macs_per_cycle(self.pe_array.lane_bits)

    def to_dict(self) -> dict[str, Any]:
        return unflatten(dict(self.raw))

    def digest(self) -> str:
        return spec_digest(SCHEMA.digest_items(self.raw))


# ------------------------------------------------------------------------- schema
def _int(low: int, high: int, *, required: bool = True) -> Setting:
    return Setting("int", low, high, required=required)


def _float(low: float, high: float, *, required: bool = True) -> Setting:
    return Setting("float", low, high, required=required)


def _choice(enum_or_names: Any, **kw: Any) -> Setting:
    names = tuple(getattr(x, "value", x) for x in enum_or_names)
    return Setting("str", choices=names, **kw)


def _buffer(name: str) -> dict[str, Setting]:
    return {f"buffers.{name}.size_kib": _float(0.0625, 1 << 20),
            f"buffers.{name}.port_bits": _int(1, 1 << 20),
            f"buffers.{name}.double_buffered": Setting("bool"),
            f"buffers.{name}.kind": _choice(MemoryKind, required=False, default="sram",
                                            later=True),
            f"buffers.{name}.banks": Setting("int", 1, 4096, required=False, default=1,
                                             later=True)}


#: The overlay chip file: key path → type and range.
SCHEMA = Schema({
    "family": _choice((OVERLAY,), required=False, default=OVERLAY),
    "name": Setting("str"),
    "description": Setting("str", required=False, default="", allow_empty=True),
    "clock_mhz": _float(1.0, 10_000.0),
    "pe_array.rows": _int(1, 4096),
    "pe_array.cols": _int(1, 4096),
    "pe_array.lane_bits": _int(1, 4096),
    "pe_array.pe_type": _choice(PE_TYPES),
    "pe_array.fold_timing": _choice(FoldTiming, required=False, default="pipelined"),
    "pe_array.packing": _choice(Packing, required=False, default="channel"),
    "pe_array.window_buffer_kib": Setting("float", 0.0, 1 << 20, required=False, default=0.0,
                                          later=True),
    "pe_array.weight_sharing": _choice(SHARING_FORMS, required=False, default="none",
                                       later=True),
    "dataflow": _choice(Dataflow),
    **_buffer("input"),
    **_buffer("weight"),
    **_buffer("output"),
    "dram.type": _choice(DRAM_TYPES),
    "dram.channels": _int(1, 64),
    # the type's defaults, each overridable (left out of ``raw`` when not given, so that
    # ``--set dram.type=…`` brings the new type's values)
    "dram.width_bits": _int(1, 4096, required=False),
    "dram.data_rate_mtps": _float(1.0, 100_000.0, required=False),
    "dram.burst_bytes": _int(1, 1 << 16, required=False),
    "dram.latency_ns": _float(0.0, 100_000.0, required=False),
    "dram.energy_pj_per_bit": _float(0.0, 10_000.0, required=False),
    "ppu.lanes": _int(1, 1 << 16),
    "ppu.fuse_pool": Setting("bool", required=False, default=False),
    "ppu.fuse_add": Setting("bool", required=False, default=False),
    "int8_unit.macs_per_cycle": _int(0, 1 << 20),
    "int8_unit.accumulator_bits": Setting("int", 8, 64, required=False, default=32),
    "full_precision": _choice(FullPrecision),
    "accumulator_bits": _int(8, 64),
    "mapping.objective": _choice(Objective, required=False, default="energy"),
    "overlap_layers": Setting("bool", required=False, default=True),
    "residency.activations": Setting("bool", required=False, default=True),
    "residency.weights": Setting("bool", required=False, default=True),
    "tech": Setting("str"),
    # scale the technology table to another node and supply voltage (Stillmaker & Baas)
    "node.nm": _float(7.0, 130.0, required=False),
    "node.voltage_v": _float(0.3, 1.5, required=False),
}, retired={
    "dram.bandwidth_gbps": f"bandwidth is per channel now — set dram.type "
                           f"({', '.join(DRAM_TYPES)}) and dram.channels, or "
                           "dram.data_rate_mtps",
})


def _dram(v: Mapping[str, Any], *, file: str | None) -> DramSpec:
    kind = DRAM_TYPES[v["dram.type"]]

    def get(key: str, default: Any) -> Any:
        value = v.get(f"dram.{key}")
        return default if value is None else value

    width = get("width_bits", kind.width_bits)
    burst = get("burst_bytes", max(1, width * kind.burst_length // 8))
    if burst & (burst - 1):
        raise ConfigError("must be a power of two", file=file, key="dram.burst_bytes",
                          value=burst, has_value=True)
    return DramSpec(type=kind.name, channels=v["dram.channels"], width_bits=width,
                    data_rate_mtps=get("data_rate_mtps", kind.data_rate_mtps),
                    burst_bytes=burst, latency_ns=get("latency_ns", kind.latency_ns),
                    energy_pj_per_bit=get("energy_pj_per_bit", kind.energy_pj_per_bit))


def chip_from_settings(v: Mapping[str, Any], *, file: str | None) -> Chip:
    """A :class:`Chip` from validated flat settings, with the checks across fields."""
    dram = _dram(v, file=file)
    pe = PE_TYPES[v["pe_array.pe_type"]]
    problem = pe.check_lane(v["pe_array.lane_bits"])
    if problem:
        raise ConfigError(problem, file=file, key="pe_array.lane_bits",
                          value=v["pe_array.lane_bits"], has_value=True)
    sharing = v["pe_array.weight_sharing"]
    if sharing != "none" and not v["pe_array.pe_type"].startswith("adder"):
        raise ConfigError(f"pe_array.weight_sharing: {sharing} needs an adder-tree PE "
                          "(adder2 … adder16), which can skip taps", file=file,
                          key="pe_array.pe_type", value=v["pe_array.pe_type"],
                          has_value=True)
    fp = FullPrecision(v["full_precision"])
    if fp is FullPrecision.INT8_UNIT and v["int8_unit.macs_per_cycle"] == 0:
        raise ConfigError("full_precision: int8_unit needs int8_unit.macs_per_cycle ≥ 1 "
                          "(or set full_precision: bit_serial)", file=file,
                          key="int8_unit.macs_per_cycle", value=0, has_value=True)

    def buf(name: str) -> BufferSpec:
        return BufferSpec(v[f"buffers.{name}.size_kib"], v[f"buffers.{name}.port_bits"],
                          v[f"buffers.{name}.double_buffered"],
                          MemoryKind(v[f"buffers.{name}.kind"]), v[f"buffers.{name}.banks"])

    tech = v["tech"]
    if file is not None and ("/" in tech or tech.endswith((".yaml", ".yml"))):
        base = Path(file.removesuffix(" + --set"))
        candidate = base.parent / tech
        if candidate.exists():
            tech = str(candidate)
    return Chip(
        name=v["name"],
        clock_mhz=v["clock_mhz"],
        pe_array=PeArraySpec(v["pe_array.rows"], v["pe_array.cols"], v["pe_array.lane_bits"],
                             v["pe_array.pe_type"], FoldTiming(v["pe_array.fold_timing"]),
                             Packing(v["pe_array.packing"]), v["pe_array.window_buffer_kib"],
                             sharing),
        dataflow=Dataflow(v["dataflow"]),
        input_buffer=buf("input"),
        weight_buffer=buf("weight"),
        output_buffer=buf("output"),
        dram=dram,
        ppu_lanes=v["ppu.lanes"],
        int8_unit_macs=v["int8_unit.macs_per_cycle"],
        full_precision=fp,
        accumulator_bits=v["accumulator_bits"],
        int8_unit_acc_bits=v["int8_unit.accumulator_bits"],
        keep_activations=v["residency.activations"], keep_weights=v["residency.weights"],
        fuse_pool=v["ppu.fuse_pool"], fuse_add=v["ppu.fuse_add"],
        overlap_layers=v["overlap_layers"],
        node_nm=v.get("node.nm"), node_voltage_v=v.get("node.voltage_v"),
        objective=Objective(v["mapping.objective"]),
        tech=tech,
        source=file or "",
        raw=tuple(sorted(v.items())),
    )
