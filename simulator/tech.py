"""Technology tables: energy per action and area per component, from a YAML file.

The table is a list of entries ``{component, action, width?, size_kib?, energy_pj?, area_um2?,
source}`` (the shape of an Accelergy energy reference table). Lookups interpolate linearly in
width and in log2(size) between entries. Every entry names its source.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from workloads.errors import ConfigError
from workloads.files import check_keys, load_yaml, loads_yaml
from workloads.memo import per_object

__all__ = ["TechEntry", "TechTable", "builtin_tech", "load_tech"]



@dataclass(frozen=True, slots=True)
class TechEntry:
    component: str
    action: str
    width: float | None
    size_kib: float | None
    energy_pj: float | None
    area_um2: float | None
    source: str


def _interp(points: list[tuple[float, float]], x: float, *, log: bool) -> float:
    """Piecewise-linear interpolation (in log2(x) when ``log``), extrapolating the end slopes,
    floored at 10 % of the smallest value."""
    pts = sorted(points)
    if len(pts) == 1:
        return pts[0][1] * (x / pts[0][0] if not log else 1.0)
    f = (lambda v: math.log2(v)) if log else (lambda v: v)
    xs = [f(p[0]) for p in pts]
    ys = [p[1] for p in pts]
    t = f(x)
    i = 1
    while i < len(xs) - 1 and t > xs[i]:
        i += 1
    x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
    y = y0 + (y1 - y0) * (t - x0) / (x1 - x0)
    return max(y, 0.1 * min(ys))


@dataclass(frozen=True, slots=True)
class TechTable:
    name: str
    node_nm: float
    voltage_v: float
    leakage_mw_per_mm2: float
    entries: tuple[TechEntry, ...]
    source: str = ""

    def __hash__(self) -> int:  # (the entries decide equality; hashing them all is slow)
        return hash((self.name, self.source, self.node_nm, self.voltage_v,
                     len(self.entries)))

    @per_object
    def to_dict(self) -> dict[str, Any]:
        """The table as its file's keys (what a result records of the table it used; shared
        between calls: do not modify it)."""
        entries = [{k: v for k, v in dataclasses.asdict(e).items() if v is not None}
                   for e in self.entries]
        return {"name": self.name, "node_nm": self.node_nm, "voltage_v": self.voltage_v,
                "leakage_mw_per_mm2": self.leakage_mw_per_mm2, "source": self.source,
                "entries": entries}

    def _points(self, component: str, action: str, attr: str, by: str) -> list[tuple[float,
                                                                                    float]]:
        pts = [(getattr(e, by), getattr(e, attr)) for e in self.entries
               if e.component == component and e.action == action
               and getattr(e, attr) is not None and getattr(e, by) is not None]
        if not pts:
            raise ConfigError(f"no '{attr}' entry for component '{component}' action "
                              f"'{action}'", file=self.source or self.name)
        return pts

    @per_object
    def energy_pj(self, component: str, action: str, width: float) -> float:
        """Energy of one action at a bit width (interpolated linearly in width)."""
        return _interp(self._points(component, action, "energy_pj", "width"), width, log=False)

    @per_object
    def area_um2(self, component: str, action: str, width: float) -> float:
        return _interp(self._points(component, action, "area_um2", "width"), width, log=False)

    def _memory_points(self, kind: str) -> list[tuple[float, float]]:
        pts = [(e.size_kib, e.energy_pj / (e.width or 64)) for e in self.entries
               if e.component == kind and e.action == "read" and e.size_kib
               and e.energy_pj is not None]
        if not pts:
            raise ConfigError(f"no {kind} read entries", file=self.source or self.name)
        return pts

    @per_object
    def memory_energy_pj_per_bit(self, kind: str, size_kib: float) -> float:
        """Read (= write) energy per bit of an on-chip memory of ``kind`` (the table's
        component: ``sram``, ``latch``) holding ``size_kib``, interpolated in log2(size);
        below the table's smallest size, the smallest's (a smaller memory, a small bank, is
        never cheaper per bit than the smallest the table measured)."""
        pts = self._memory_points(kind)
        return _interp(pts, max(size_kib, min(x for x, _ in pts)), log=True)

    @per_object
    def memory_area_um2(self, kind: str, size_kib: float) -> float:
        """Area of an on-chip memory of ``kind`` holding ``size_kib`` — at least the table's
        smallest area entry's size (a memory has decoders, sense amplifiers or multiplexers
        whatever its size, so many tiny banks are not free)."""
        pts = [(e.size_kib, e.area_um2) for e in self.entries
               if e.component == kind and e.action == "area" and e.size_kib
               and e.area_um2 is not None]
        if not pts:
            raise ConfigError(f"no {kind} area entry", file=self.source or self.name)
        size_kib = max(size_kib, min(x for x, _ in pts))
        if len(pts) == 1:
            return pts[0][1] * size_kib / pts[0][0]
        return _interp(pts, size_kib, log=False)

    def sram_energy_pj_per_bit(self, size_kib: float) -> float:
        """Read (= write) energy per bit of an SRAM of ``size_kib``."""
        return self.memory_energy_pj_per_bit("sram", size_kib)

    def sram_area_um2(self, size_kib: float) -> float:
        return self.memory_area_um2("sram", size_kib)

    def require(self, entries: Iterable[tuple[str, str]]) -> None:
        """Fail unless the table has an entry for every (component, action) a family's cost
        model reads: one line naming the table and the missing entries."""
        have = {(e.component, e.action) for e in self.entries}
        missing = sorted(set(entries) - have)
        if missing:
            raise ConfigError("missing entries for " + ", ".join(f"{c}/{a}" for c, a in missing),
                              file=self.source or self.name, key="entries")


#: Largest value of each number a technology table holds (finite, well inside float64).
LIMITS = {"width": 1 << 16, "size_kib": float(1 << 30), "energy_pj": 1e9, "area_um2": 1e12,
          "node_nm": 1e4, "voltage_v": 100.0, "leakage_mw_per_mm2": 1e6}


def _number(value: Any, *, file: str, key: str, minimum: float = 0.0) -> float:
    high = LIMITS[key.rsplit(".", 1)[-1]]
    if isinstance(value, str) and value.isascii():  # YAML 1.1 reads 1e9 as a string
        with contextlib.suppress(ValueError):
            value = float(value)
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or not minimum <= value <= high):  # NaN fails both comparisons
        raise ConfigError(f"must be a finite number in [{minimum:g}, {high:g}]", file=file,
                          key=key, value=value, has_value=True)
    return float(value)


def _text(value: Any, *, file: str, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError("must be a non-empty string", file=file, key=key, value=value,
                          has_value=True)
    return value


def _check_unique(entries: list[TechEntry], *, file: str) -> None:
    """Interpolation needs distinct points: one entry per width (per size for memories, whose
    entries carry ``size_kib``) for each component, action and quantity."""
    seen: dict[tuple[str, str, str, float], int] = {}
    for i, e in enumerate(entries):
        x = e.size_kib if e.size_kib is not None else e.width
        for quantity in ("energy_pj", "area_um2"):
            if getattr(e, quantity) is None or x is None:
                continue
            key = (e.component, e.action, quantity, x)
            if key in seen:
                at = "size_kib" if e.size_kib is not None else "width"
                raise ConfigError(f"a second {quantity} of {e.component}/{e.action} at {at} "
                                  f"{x:g} (first in entries[{seen[key]}]); interpolation "
                                  "needs one entry per point", file=file, key=f"entries[{i}]")
            seen[key] = i


def tech_from_dict(data: Any, *, file: str) -> TechTable:
    if not isinstance(data, Mapping):
        raise ConfigError("a technology table must be a mapping", file=file)
    check_keys(data, allowed=("name", "node_nm", "voltage_v", "leakage_mw_per_mm2", "entries"),
               required=("name", "leakage_mw_per_mm2", "entries"), file=file)
    raw = data["entries"]
    if not isinstance(raw, list) or not raw:
        raise ConfigError("must be a non-empty list of entries", file=file, key="entries")
    entries = []
    for i, e in enumerate(raw):
        key = f"entries[{i}]"
        if not isinstance(e, Mapping):
            raise ConfigError("must be a mapping", file=file, key=key)
        check_keys(e, allowed=("component", "action", "width", "size_kib", "energy_pj",
                               "area_um2", "source"),
                   required=("component", "action", "source"), file=file, prefix=f"{key}.")
        if "energy_pj" not in e and "area_um2" not in e:
            raise ConfigError("needs energy_pj or area_um2", file=file, key=key)
        opt = {k: (_number(e[k], file=file, key=f"{key}.{k}",
                           minimum=1e-12 if k in ("width", "size_kib") else 0.0)
                   if k in e else None)
               for k in ("width", "size_kib", "energy_pj", "area_um2")}
        entries.append(TechEntry(_text(e["component"], file=file, key=f"{key}.component"),
                                 _text(e["action"], file=file, key=f"{key}.action"),
                                 opt["width"], opt["size_kib"], opt["energy_pj"],
                                 opt["area_um2"], _text(e["source"], file=file,
                                                        key=f"{key}.source")))
    _check_unique(entries, file=file)
    return TechTable(_text(data["name"], file=file, key="name"),
                     _number(data.get("node_nm", 0), file=file, key="node_nm"),
                     _number(data.get("voltage_v", 0), file=file, key="voltage_v"),
                     _number(data["leakage_mw_per_mm2"], file=file, key="leakage_mw_per_mm2"),
                     tuple(entries), file)


def builtin_tech() -> list[str]:
    d = resources.files("simulator") / "tech"
    return sorted(p.name[:-5] for p in d.iterdir() if p.name.endswith(".yaml"))


@cache
def load_tech(name_or_path: str) -> TechTable:
    """A built-in technology table by name (``45nm``) or a table file by path."""
    if name_or_path in builtin_tech():
        res = resources.files("simulator") / "tech" / f"{name_or_path}.yaml"
        return tech_from_dict(loads_yaml(res.read_text(encoding="utf-8"), source=name_or_path),
                              file=name_or_path)
    path = Path(name_or_path)
    if not path.exists():
        raise ConfigError(f"no such technology table; built-in: {', '.join(builtin_tech())}",
                          key="tech", value=name_or_path, has_value=True)
    return tech_from_dict(load_yaml(path), file=str(path))
