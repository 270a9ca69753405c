"""Dataflow chips: a streaming pipeline on an FPGA-like device — its clock, its frame I/O, its
resources, the defaults of its units and, per layer, the folding (``pe``, ``simd``, FIFO
depth) that FINN's build flow would set.

The fixed settings are a :class:`~simulator.settings.Schema` like every family's (so
``--set`` and explorer spaces validate them the same way). The per-layer folding is keyed by
the network's layer names, which a schema cannot list, so it is a section of its own
(``folding.layers``) checked here for its form and against the network when a run starts
(:mod:`.folding`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from simulator.family import spec_digest
from simulator.settings import Schema, Setting, unflatten
from workloads.errors import ConfigError

__all__ = ["DATAFLOW", "SCHEMA", "DataflowChip", "LayerFolding", "chip_from_settings",
           "parse_layer_foldings", "split_layer_keys"]

#: The family name dataflow chip files carry (``family: dataflow``).
DATAFLOW = "dataflow"

#: Keys of one layer's folding entry.
FOLDING_KEYS = ("pe", "simd", "fifo_depth", "ram_style")
RAM_STYLES = ("auto", "block", "distributed", "ultra")


def _int(low: int, high: int, **kw: Any) -> Setting:
    return Setting("int", low, high, **kw)


def _float(low: float, high: float, **kw: Any) -> Setting:
    return Setting("float", low, high, **kw)


#: The dataflow chip file: key path → type and range (``folding.layers`` aside).
SCHEMA = Schema({
    "family": Setting("str", choices=(DATAFLOW,)),
    "name": Setting("str"),
    "description": Setting("str", required=False, default="", allow_empty=True),
    "clock_mhz": _float(1.0, 2_000.0),
    # frame I/O: the input frame streams in, the class scores stream out (a DMA each)
    "io.in_bytes_per_cycle": _float(0.001, 1 << 16),
    "io.out_bytes_per_cycle": _float(0.001, 1 << 16),
    # what the device has (a folding that needs more is infeasible)
    "device.luts": _int(1, 1 << 30),
    "device.bram18": _int(0, 1 << 24),
    "device.uram": _int(0, 1 << 24, required=False, default=0),
    # weights and thresholds on chip (BRAM, LUTRAM, URAM) or streamed from a DRAM per frame
    "weights.location": Setting("str", choices=("on_chip", "dram"), required=False,
                                default="on_chip"),
    "weights.ram_style": Setting("str", choices=RAM_STYLES, required=False, default="auto"),
    "dram.bytes_per_cycle": _float(0.001, 1 << 16, required=False, default=8.0),
    "dram.energy_pj_per_bit": _float(0.0, 10_000.0, required=False, default=30.47),
    # folding of the layers the folding.layers section does not name
    "folding.pe": _int(1, 1 << 16, required=False, default=1),
    "folding.simd": _int(1, 1 << 16, required=False, default=1),
    "folding.fifo_depth": _int(1, 1 << 16, required=False, default=2),
    # > 0: choose every layer's PE and SIMD to reach this many frames/s with the least
    # resources (bnnsim fold), overriding folding.pe / folding.simd and folding.layers
    "folding.target_fps": _float(0.0, 1e9, required=False, default=0.0),
    # power: static plus dynamic per resource and MHz [an assumption; replace with the
    # device's power report]
    "power.static_w": _float(0.0, 1000.0, required=False, default=0.1),
    "power.lut_uw_per_mhz": _float(0.0, 1000.0, required=False, default=0.01),
    "power.bram18_uw_per_mhz": _float(0.0, 10_000.0, required=False, default=0.6),
})


@dataclass(frozen=True, slots=True)
class LayerFolding:
    """One layer's folding as a file gives it (``None``: not given)."""

    pe: int | None = None
    simd: int | None = None
    fifo_depth: int | None = None
    ram_style: str | None = None
    source: str = field(default="", compare=False)  # the file it came from (errors name it)

    def items(self) -> list[tuple[str, Any]]:
        return [(k, getattr(self, k)) for k in FOLDING_KEYS if getattr(self, k) is not None]


@dataclass(frozen=True, slots=True)
class DataflowChip:
    """A validated dataflow chip. ``layers`` is the per-layer folding by layer name (or
    ``#<index>`` of a matrix layer, ``#0`` the first), checked against a network when run."""

    name: str
    clock_mhz: float
    in_bytes_per_cycle: float
    out_bytes_per_cycle: float
    luts: int
    bram18: int
    uram: int
    weights_on_chip: bool
    ram_style: str
    dram_bytes_per_cycle: float
    dram_pj_per_bit: float
    pe: int
    simd: int
    fifo_depth: int
    target_fps: float
    static_w: float
    lut_uw_per_mhz: float
    bram18_uw_per_mhz: float
    layers: tuple[tuple[str, LayerFolding], ...] = ()
    source: str = ""
    raw: tuple[tuple[str, Any], ...] = ()
    description: str = ""

    family = DATAFLOW

    def layer(self, key: str) -> LayerFolding | None:
        return dict(self.layers).get(key)

    def with_layers(self, layers: tuple[tuple[str, LayerFolding], ...]) -> DataflowChip:
        """The chip with ``layers`` as its per-layer folding (its settings kept)."""
        flat = {k: v for k, v in self.raw if not k.startswith("folding.layers.")}
        return chip_from_settings(flat, layers, file=self.source or None)

    def to_dict(self) -> dict[str, Any]:
        """The chip file's mapping (layer names kept whole: they may hold dots)."""
        flat, layers = split_layer_keys(dict(self.raw))
        out = unflatten(flat)
        if layers:
            out.setdefault("folding", {})["layers"] = layers
        return out

    def digest(self) -> str:
        return spec_digest(self.raw)


def split_layer_keys(flat: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str,
                                                                                      Any]]]:
    """Flat settings → (the schema's, the per-layer folding as ``{layer: {key: value}}``):
    ``folding.layers.<layer>.<key>`` split at its last dot, so a layer name may hold dots
    (``layer1.0.add``)."""
    rest: dict[str, Any] = {}
    layers: dict[str, dict[str, Any]] = {}
    for key, value in flat.items():
        if key.startswith("folding.layers."):
            name, _, leaf = key[len("folding.layers."):].rpartition(".")
            if not name:
                raise ConfigError(f"expected folding.layers.<layer>.<{'|'.join(FOLDING_KEYS)}>",
                                  key=key)
            layers.setdefault(name, {})[leaf] = value
        else:
            rest[key] = value
    return rest, layers


def parse_layer_foldings(data: Any, *, file: str | None) -> tuple[tuple[str, LayerFolding], ...]:
    """``folding.layers`` of a chip file: layer name (or ``#<index>``) → ``{pe, simd,
    fifo_depth, ram_style}``, each optional; their form checked (the network checks the
    rest)."""
    if data is None:
        return ()
    if not isinstance(data, Mapping):
        raise ConfigError("expected a mapping of layer name to {pe, simd, fifo_depth, "
                          "ram_style}", file=file, key="folding.layers", value=data,
                          has_value=True)
    out = []
    for name, entry in data.items():
        where = f"folding.layers.{name}"
        if not isinstance(name, str | int) or isinstance(name, bool) or not str(name):
            raise ConfigError("a layer name or #index", file=file, key=where)
        if not isinstance(entry, Mapping):
            raise ConfigError("expected a mapping with pe, simd, fifo_depth or ram_style",
                              file=file, key=where, value=entry, has_value=True)
        unknown = sorted(set(map(str, entry)) - set(FOLDING_KEYS))
        if unknown:
            raise ConfigError(f"unknown key; allowed here: {', '.join(FOLDING_KEYS)}",
                              file=file, key=f"{where}.{unknown[0]}")
        values: dict[str, Any] = {}
        for key in ("pe", "simd", "fifo_depth"):
            if key in entry:
                values[key] = _int(1, 1 << 16).check(f"{where}.{key}", entry[key], file=file)
        if "ram_style" in entry:
            values["ram_style"] = Setting("str", choices=RAM_STYLES).check(
                f"{where}.ram_style", entry["ram_style"], file=file)
        out.append((str(name), LayerFolding(**values, source=file or "")))
    return tuple(out)


def chip_from_settings(v: Mapping[str, Any], layers: tuple[tuple[str, LayerFolding], ...], *,
                       file: str | None) -> DataflowChip:
    """A :class:`DataflowChip` from validated flat settings and its per-layer foldings."""
    raw = dict(v)
    for name, entry in layers:
        for key, value in entry.items():
            raw[f"folding.layers.{name}.{key}"] = value
    return DataflowChip(
        name=v["name"], clock_mhz=v["clock_mhz"],
        in_bytes_per_cycle=v["io.in_bytes_per_cycle"],
        out_bytes_per_cycle=v["io.out_bytes_per_cycle"],
        luts=v["device.luts"], bram18=v["device.bram18"], uram=v["device.uram"],
        weights_on_chip=v["weights.location"] == "on_chip", ram_style=v["weights.ram_style"],
        dram_bytes_per_cycle=v["dram.bytes_per_cycle"],
        dram_pj_per_bit=v["dram.energy_pj_per_bit"],
        pe=v["folding.pe"], simd=v["folding.simd"], fifo_depth=v["folding.fifo_depth"],
        target_fps=v["folding.target_fps"], static_w=v["power.static_w"],
        lut_uw_per_mhz=v["power.lut_uw_per_mhz"],
        bram18_uw_per_mhz=v["power.bram18_uw_per_mhz"], layers=layers, source=file or "",
        raw=tuple(sorted(raw.items())), description=v["description"],
    )
