"""Chip descriptions: strict YAML files → frozen, validated dataclasses.

Every number a user can set lives in the file and is checked on load; a bad value raises
:class:`~workloads.files.ConfigError` naming the file, the key path, the value and what is
allowed. ``--set key.path=value`` overrides go through the same validation.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from workloads.errors import ConfigError
from workloads.files import loads_yaml

__all__ = [
    "BufferSpec",
    "Chip",
    "Dataflow",
    "DramSpec",
    "PeArraySpec",
    "PeType",
    "apply_overrides",
    "builtin_chips",
    "chip_from_dict",
    "load_chip",
]


class PeType(enum.Enum):
    XNOR = "xnor"  # lane_bits-wide XNOR + popcount + accumulator
    INT8 = "int8"  # one int8 multiply-accumulate per PE-cycle (baseline)


class Dataflow(enum.Enum):
    OUTPUT_STATIONARY = "output_stationary"
    WEIGHT_STATIONARY = "weight_stationary"
    INPUT_STATIONARY = "input_stationary"


class FullPrecision(enum.Enum):
    INT8_UNIT = "int8_unit"  # 8-bit layers run on the separate int8 MAC unit
    BIT_SERIAL = "bit_serial"  # 8-bit layers run bit-serially on the XNOR array


class Objective(enum.Enum):
    LATENCY = "latency"  # fewest cycles, then least DRAM traffic (default: monotone)
    DRAM = "dram"  # least DRAM traffic, then fewest cycles


@dataclass(frozen=True, slots=True)
class PeArraySpec:
    rows: int
    cols: int
    lane_bits: int
    pe_type: PeType

    @property
    def pes(self) -> int:
        return self.rows * self.cols


@dataclass(frozen=True, slots=True)
class BufferSpec:
    size_kib: float
    port_bits: int
    double_buffered: bool

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
    bandwidth_gbps: float  # GB/s, all channels together
    latency_ns: float
    burst_bytes: int
    channels: int


@dataclass(frozen=True, slots=True)
class Chip:
    """A chip of the overlay template (see ../docs/design.md)."""

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
    accumulator_bits: int
    objective: Objective
    tech: str  # built-in table name or a path
    source: str = ""  # file it came from
    raw: tuple[tuple[str, Any], ...] = ()  # the validated mapping, for --set and provenance

    # ---------------------------------------------------------------- derived
    @property
    def dram_bytes_per_cycle(self) -> float:
        return self.dram.bandwidth_gbps * 1e9 / (self.clock_mhz * 1e6)

    @property
    def dram_latency_cycles(self) -> int:
        return round(self.dram.latency_ns * self.clock_mhz / 1e3)

    @property
    def peak_binary_macs_per_cycle(self) -> int:
        """Binary MACs per cycle of the whole array (int8 PEs: int8 MACs per cycle)."""
        lane = self.pe_array.lane_bits if self.pe_array.pe_type is PeType.XNOR else 1
        return self.pe_array.pes * lane

    def to_dict(self) -> dict[str, Any]:
        return _unflatten(dict(self.raw))

    def digest(self) -> str:
        return hashlib.sha256(repr(sorted(self.raw)).encode()).hexdigest()[:16]


# ------------------------------------------------------------------------- schema
# key path → (type, low, high or allowed values, required)
_INT, _FLOAT, _BOOL, _STR = "int", "float", "bool", "str"
_SCHEMA: dict[str, tuple[str, Any, Any, bool]] = {
    "name": (_STR, None, None, True),
    "description": (_STR, None, None, False),
    "clock_mhz": (_FLOAT, 1.0, 10_000.0, True),
    "pe_array.rows": (_INT, 1, 4096, True),
    "pe_array.cols": (_INT, 1, 4096, True),
    "pe_array.lane_bits": (_INT, 1, 4096, True),
    "pe_array.pe_type": (_STR, None, [t.value for t in PeType], True),
    "dataflow": (_STR, None, [d.value for d in Dataflow], True),
    "buffers.input.size_kib": (_FLOAT, 0.0625, 1 << 20, True),
    "buffers.input.port_bits": (_INT, 1, 1 << 20, True),
    "buffers.input.double_buffered": (_BOOL, None, None, True),
    "buffers.weight.size_kib": (_FLOAT, 0.0625, 1 << 20, True),
    "buffers.weight.port_bits": (_INT, 1, 1 << 20, True),
    "buffers.weight.double_buffered": (_BOOL, None, None, True),
    "buffers.output.size_kib": (_FLOAT, 0.0625, 1 << 20, True),
    "buffers.output.port_bits": (_INT, 1, 1 << 20, True),
    "buffers.output.double_buffered": (_BOOL, None, None, True),
    "dram.bandwidth_gbps": (_FLOAT, 0.001, 100_000.0, True),
    "dram.latency_ns": (_FLOAT, 0.0, 100_000.0, True),
    "dram.burst_bytes": (_INT, 1, 1 << 16, True),
    "dram.channels": (_INT, 1, 64, True),
    "ppu.lanes": (_INT, 1, 1 << 16, True),
    "int8_unit.macs_per_cycle": (_INT, 0, 1 << 20, True),
    "full_precision": (_STR, None, [f.value for f in FullPrecision], True),
    "accumulator_bits": (_INT, 8, 64, True),
    "mapping.objective": (_STR, None, [o.value for o in Objective], False),
    "tech": (_STR, None, None, True),
}
_DEFAULTS = {"mapping.objective": "latency", "description": ""}
_SECTIONS = {"pe_array", "buffers", "buffers.input", "buffers.weight", "buffers.output", "dram",
             "ppu", "int8_unit", "mapping"}


def _flatten(data: Mapping[str, Any], *, file: str | None, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if not isinstance(key, str):
            raise ConfigError("keys must be strings", file=file, key=f"{prefix}{key}")
        path = f"{prefix}{key}"
        if path in _SECTIONS:
            if not isinstance(value, Mapping):
                raise ConfigError("expected a mapping (a section of keys)", file=file, key=path,
                                  value=value, has_value=True)
            out.update(_flatten(value, file=file, prefix=f"{path}."))
        elif path in _SCHEMA:
            out[path] = value
        else:
            siblings = sorted({k[len(prefix):].split(".")[0] for k in (*_SCHEMA, *_SECTIONS)
                               if k.startswith(prefix)})
            raise ConfigError(f"unknown key; allowed here: {', '.join(siblings)}", file=file,
                              key=path)
    return out


def _unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, value in flat.items():
        node = out
        *parents, leaf = path.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


def _check_value(path: str, value: Any, *, file: str | None) -> Any:
    kind, low, high, _ = _SCHEMA[path]
    if kind == _BOOL:
        if not isinstance(value, bool):
            raise ConfigError("must be true or false", file=file, key=path, value=value,
                              has_value=True)
        return value
    if kind == _STR:
        if not isinstance(value, str) or (not value and path != "description"):
            raise ConfigError("must be a non-empty string", file=file, key=path, value=value,
                              has_value=True)
        if isinstance(high, list) and value not in high:
            raise ConfigError(f"allowed: {', '.join(high)}", file=file, key=path, value=value,
                              has_value=True)
        return value
    if isinstance(value, str):  # YAML 1.1 reads 1e3 as a string
        with contextlib.suppress(ValueError):
            value = float(value) if kind == _FLOAT or not value.isdigit() else int(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"must be a number in [{low}, {high}]", file=file, key=path,
                          value=value, has_value=True)
    if kind == _INT:
        if isinstance(value, float) and not value.is_integer():
            raise ConfigError(f"must be an integer in [{low}, {high}]", file=file, key=path,
                              value=value, has_value=True)
        value = int(value)
    if not low <= value <= high:
        what = "an integer" if kind == _INT else "a number"
        raise ConfigError(f"must be {what} in [{low}, {high}]", file=file, key=path,
                          value=value, has_value=True)
    return float(value) if kind == _FLOAT else value


def chip_from_dict(data: Any, *, file: str | Path | None = None) -> Chip:
    """Validate a chip mapping (as read from YAML) into a :class:`Chip`."""
    src = str(file) if file is not None else None
    if not isinstance(data, Mapping):
        raise ConfigError("a chip file must be a mapping of keys", file=src)
    flat = {**_DEFAULTS, **_flatten(data, file=src)}
    for path, (_, _, _, required) in _SCHEMA.items():
        if required and path not in flat:
            raise ConfigError("missing required key", file=src, key=path)
    v = {path: _check_value(path, value, file=src) for path, value in flat.items()}
    if v["dram.burst_bytes"] & (v["dram.burst_bytes"] - 1):
        raise ConfigError("must be a power of two", file=src, key="dram.burst_bytes",
                          value=v["dram.burst_bytes"], has_value=True)
    pe_type = PeType(v["pe_array.pe_type"])
    if pe_type is PeType.INT8 and v["pe_array.lane_bits"] != 8:
        raise ConfigError("an int8 PE has an 8-bit lane", file=src, key="pe_array.lane_bits",
                          value=v["pe_array.lane_bits"], has_value=True)
    fp = FullPrecision(v["full_precision"])
    if fp is FullPrecision.INT8_UNIT and v["int8_unit.macs_per_cycle"] == 0:
        raise ConfigError("full_precision: int8_unit needs int8_unit.macs_per_cycle ≥ 1 "
                          "(or set full_precision: bit_serial)", file=src,
                          key="int8_unit.macs_per_cycle", value=0, has_value=True)

    def buf(name: str) -> BufferSpec:
        return BufferSpec(v[f"buffers.{name}.size_kib"], v[f"buffers.{name}.port_bits"],
                          v[f"buffers.{name}.double_buffered"])

    tech = v["tech"]
    if file is not None and ("/" in tech or tech.endswith((".yaml", ".yml"))):
        candidate = Path(file).parent / tech
        if candidate.exists():
            tech = str(candidate)
    return Chip(
        name=v["name"],
        clock_mhz=v["clock_mhz"],
        pe_array=PeArraySpec(v["pe_array.rows"], v["pe_array.cols"], v["pe_array.lane_bits"],
                             pe_type),
        dataflow=Dataflow(v["dataflow"]),
        input_buffer=buf("input"),
        weight_buffer=buf("weight"),
        output_buffer=buf("output"),
        dram=DramSpec(v["dram.bandwidth_gbps"], v["dram.latency_ns"], v["dram.burst_bytes"],
                      v["dram.channels"]),
        ppu_lanes=v["ppu.lanes"],
        int8_unit_macs=v["int8_unit.macs_per_cycle"],
        full_precision=fp,
        accumulator_bits=v["accumulator_bits"],
        objective=Objective(v["mapping.objective"]),
        tech=tech,
        source=src or "",
        raw=tuple(sorted(v.items())),
    )


def _chip_dir() -> Any:
    return resources.files("simulator") / "chips"


def builtin_chips() -> list[str]:
    """Names of the chips shipped with bnnsim."""
    return sorted(p.name[:-5] for p in _chip_dir().iterdir() if p.name.endswith(".yaml"))


def load_chip(name_or_path: str | Path) -> Chip:
    """A built-in chip by name, or a chip YAML file by path."""
    text = str(name_or_path)
    path = Path(text)
    if text in builtin_chips():
        res = _chip_dir() / f"{text}.yaml"
        return chip_from_dict(loads_yaml(res.read_text(encoding="utf-8"), source=text), file=text)
    if not path.exists():
        raise ConfigError(f"no such chip file or built-in chip; built-in: "
                          f"{', '.join(builtin_chips())}", key="--chip", value=text,
                          has_value=True)
    from workloads.files import load_yaml

    return chip_from_dict(load_yaml(path), file=path)


def parse_override(text: str) -> tuple[str, Any]:
    """``key.path=value`` → (path, YAML-typed value)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError("expected KEY=VALUE, e.g. pe_array.rows=32", key="--set", value=text,
                          has_value=True)
    return key.strip(), loads_yaml(raw, source="--set") if raw.strip() else raw


def apply_overrides(chip: Chip, overrides: Sequence[str] | Mapping[str, Any]) -> Chip:
    """A new chip with dotted-path overrides, validated exactly like the file."""
    pairs = dict(overrides.items() if isinstance(overrides, Mapping)
                 else map(parse_override, overrides))
    flat = dict(chip.raw)
    for key, value in pairs.items():
        if key not in _SCHEMA:
            close = [k for k in _SCHEMA if k.endswith("." + key.split(".")[-1])]
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(f"not a chip setting{hint}", file="--set", key=key)
        flat[key] = value
    where = f"{chip.source} + --set" if chip.source else "--set"
    new = chip_from_dict(_unflatten(flat), file=where)
    if "tech" not in pairs:
        new = dataclasses.replace(new, tech=chip.tech)
    return dataclasses.replace(new, source=where)
