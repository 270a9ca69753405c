"""Typed tables first (pandas), rendered second: every figure and every page of a report is
drawn from one of these tables, and the tests check the tables.

Results come in as ``--json`` documents (``Result.to_dict()``, docs/result-schema.md) — a
report never re-runs a simulation — and studies as :class:`explorer.study.StudyRecords`.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from reports.trace import trace_track
from workloads.errors import ConfigError
from workloads.files import read_regular

__all__ = [
    "DISPLAY",
    "MAX_RESULT_BYTES",
    "cell_text",
    "compare_table",
    "cycles_table",
    "energy_table",
    "hypervolume_table",
    "layer_table",
    "load_result",
    "pareto_table",
    "refine_table",
    "result_label",
    "roofline_table",
    "roofs",
    "timeline_table",
    "to_csv",
    "to_markdown",
    "trials_table",
]

#: Largest ``--result`` file read (a traced ResNet-18 result is about 0.2 MB).
MAX_RESULT_BYTES = 256 * 2**20
#: Schema versions a report reads (4 adds ``inputs``; 3 has everything else).
READABLE_SCHEMAS = (3, 4, 5, 6)
_REQUIRED = ("family", "network", "quant", "chip", "engine", "clock_mhz", "total", "layers")

#: metric → (column name in tables, unit shown, factor from the stored unit)
DISPLAY: dict[str, tuple[str, str, float]] = {
    "accuracy": ("accuracy_pct", "%", 1.0),
    "latency": ("latency_ms", "ms", 1e3),
    "energy": ("energy_uj", "µJ", 1.0),
    "area": ("area_mm2", "mm²", 1.0),
    "fps": ("fps", "frames/s", 1.0),
    "edp": ("edp_uj_ms", "µJ·ms", 1e3),
    "luts": ("luts", "LUTs", 1.0),
    "bram18": ("bram18", "BRAM18", 1.0),
}


# --------------------------------------------------------------------------- results
def load_result(path: str | Path) -> dict[str, Any]:
    """A ``--json`` result file, checked: one :class:`ConfigError` line naming the file when
    it is not a bnnsim result of a readable schema version."""
    name = str(path)
    data = read_regular(path, limit=MAX_RESULT_BYTES, what="result file")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"is not a JSON file ({err})", key="--result", value=name,
                          has_value=True) from None
    if not isinstance(doc, dict) or "schema_version" not in doc:
        raise ConfigError("is not a bnnsim result (no schema_version; write one with "
                          "bnnsim simulate --json FILE)", key="--result", value=name,
                          has_value=True)
    if doc["schema_version"] not in READABLE_SCHEMAS:
        raise ConfigError(f"has result schema version {doc['schema_version']!r}; this bnnsim "
                          f"reads {', '.join(map(str, READABLE_SCHEMAS))}", key="--result",
                          value=name, has_value=True)
    missing = [k for k in _REQUIRED if k not in doc]
    if missing or not isinstance(doc["layers"], list) or not doc["layers"] \
            or not isinstance(doc["total"], dict):
        raise ConfigError(f"is not a complete bnnsim result (missing or empty: "
                          f"{', '.join(missing) or 'layers'})", key="--result", value=name,
                          has_value=True)
    problem = _malformed(doc)
    if not problem:
        try:  # the tables a report draws, once: what the checks above do not reach
            for table in (layer_table, cycles_table, energy_table, roofline_table):
                table(doc)
            compare_table([doc])
        except (KeyError, TypeError, ValueError, OverflowError) as err:
            problem = f"{type(err).__name__}: {err}"
    if problem:
        raise ConfigError(f"is not a well-formed bnnsim result: {problem}", key="--result",
                          value=name, has_value=True)
    return doc


def _number(value: Any, *, integer: bool = False, positive: bool = False) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if integer and not isinstance(value, int):
        return False
    return math.isfinite(value) and (value > 0 if positive else value >= 0)


def _malformed(doc: Mapping[str, Any]) -> str:
    """What makes ``doc`` unusable for a report ("" when nothing): every field a table or the
    page reads, with its type and range (counts are non-negative integers, energies and
    times finite and non-negative, the clock positive)."""
    for key in ("family", "network", "quant", "chip", "engine"):
        if not isinstance(doc[key], str):
            return f"{key} is not text"
    if not _number(doc["clock_mhz"], positive=True):
        return "clock_mhz is not a positive number"
    t = doc["total"]
    for key in ("latency_cycles", "interval_cycles", "dram_bytes", "macs"):
        if not _number(t.get(key), integer=True):
            return f"total.{key} is not a non-negative integer"
    for key in ("latency_s", "frames_per_s", "energy_pj", "energy_uj", "area_mm2"):
        if not _number(t.get(key)):
            return f"total.{key} is not a non-negative number"
    if t.get("tops_per_w") is not None and not _number(t["tops_per_w"]):
        return "total.tops_per_w is not a non-negative number"
    for key in ("energy_breakdown_pj", "area_breakdown_mm2"):
        parts = t.get(key, {})
        if not isinstance(parts, dict) or not all(_number(v) for v in parts.values()):
            return f"total.{key} is not a mapping of non-negative numbers"
    if not _number(t.get("batch", 1), integer=True, positive=True):
        return "total.batch is not a positive integer"
    for i, x in enumerate(doc["layers"]):
        where = f"layers[{i}]"
        if not isinstance(x, dict):
            return f"{where} is not a mapping"
        for key in ("name", "kind", "unit", "precision", "bound"):
            if not isinstance(x.get(key), str):
                return f"{where}.{key} is not text"
        for key in ("macs", "cycles", "dram_bytes", "weight_bits"):
            if not _number(x.get(key), integer=True):
                return f"{where}.{key} is not a non-negative integer"
        if not _number(x.get("energy_pj")) or not _number(x.get("utilization")):
            return f"{where}: energy_pj or utilization is not a non-negative number"
        parts = x.get("energy_breakdown_pj")
        if not isinstance(parts, dict) or not all(_number(v) for v in parts.values()):
            return f"{where}.energy_breakdown_pj is not a mapping of non-negative numbers"
        d = x.get("details")
        if d is None:
            continue
        if not isinstance(d, dict):
            return f"{where}.details is not a mapping"
        for key in ("compute_cycles", "stall_cycles"):
            if key in d and not (_number(d[key], integer=True) and d[key] <= x["cycles"]):
                return f"{where}.details.{key} is not an integer within the layer's cycles"
        for key in ("stall_causes", "dram_bytes_by_stream"):
            v = d.get(key, {})
            if not isinstance(v, dict) or not all(_number(n, integer=True) for n in v.values()):
                return f"{where}.details.{key} is not a mapping of non-negative integers"
        if sum(d.get("stall_causes", {}).values()) > x["cycles"]:
            return f"{where}.details.stall_causes add up to more than the layer's cycles"
        for key in ("mapping", "actions"):
            if key in d and not isinstance(d[key], dict):
                return f"{where}.details.{key} is not a mapping"
    d = doc.get("details")
    if d is not None and not isinstance(d, dict):
        return "details is not a mapping"
    for key in ("peak_binary_macs_per_cycle", "int8_macs_per_cycle", "dram_bytes_per_cycle",
                "array_utilization"):
        if isinstance(d, dict) and key in d and not _number(d[key]):
            return f"details.{key} is not a non-negative number"
    for key in ("provenance", "inputs"):
        if key in doc and not isinstance(doc[key], dict):
            return f"{key} is not a mapping"
    prov = doc.get("provenance", {})
    if not all(isinstance(v, str) for v in prov.values()):
        return "provenance holds something other than text"
    inputs = doc.get("inputs", {})
    if not isinstance(inputs.get("chip", {}), dict):
        return "inputs.chip is not a mapping"
    tech = inputs.get("tech", {})
    if not isinstance(tech, dict):
        return "inputs.tech is not a mapping"
    for key in ("node_nm", "voltage_v"):
        if key in tech and not _number(tech[key]):
            return f"inputs.tech.{key} is not a non-negative number"
    entries = tech.get("entries", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        return "inputs.tech.entries is not a list of mappings"
    trace = doc.get("trace")
    if trace is not None:
        if not isinstance(trace, list):
            return "trace is not a list"
        for i, e in enumerate(trace):
            if (not isinstance(e, dict) or not isinstance(e.get("component"), str)
                    or not isinstance(e.get("label"), str)
                    or not _number(e.get("start"), integer=True)
                    or not _number(e.get("end"), integer=True) or e["end"] < e["start"]):
                return f"trace[{i}] is not an interval (component, start ≤ end, label)"
    return ""


def result_label(doc: Mapping[str, Any]) -> str:
    return f"{doc['network']} {doc['quant']} on {doc['chip']} ({doc['engine']})"


def _details(layer: Mapping[str, Any]) -> Mapping[str, Any]:
    d = layer.get("details")
    return d if isinstance(d, Mapping) else {}


def _binary_ops(layer: Mapping[str, Any]) -> int:
    """Operations the layer's unit performed, 2 per MAC: binary MACs on the array (every bit
    plane pass), adder-tree taps (every pass), int8 MACs on an int8 unit; pool and add
    layers: 0."""
    compute = _details(layer).get("actions", {}).get("compute", {})
    if layer["unit"] == "array":
        return 2 * int(compute.get("binary_ops") or compute.get("tap_slots")
                       or compute.get("tap_adds") or compute.get("int8_macs") or layer["macs"])
    if compute.get("int8_macs"):
        return 2 * int(compute["int8_macs"])
    return 2 * int(layer["macs"]) if layer["kind"] in ("conv", "fc") else 0


def layer_table(doc: Mapping[str, Any]) -> pd.DataFrame:
    """One row per layer: the common fields, the family's cycle split, DRAM bytes by stream,
    the mapping, and operations per DRAM byte."""
    rows = []
    for x in doc["layers"]:
        d = _details(x)
        ops = _binary_ops(x)
        row: dict[str, Any] = {
            "layer": x["name"], "kind": x["kind"], "unit": x["unit"],
            "precision": x["precision"], "macs": int(x["macs"]), "ops": ops,
            "cycles": int(x["cycles"]),
            "compute_cycles": int(d.get("compute_cycles", x["cycles"])),
            "stall_cycles": int(d.get("stall_cycles", 0)),
            "utilization": float(x["utilization"]), "bound": x["bound"],
            "dram_bytes": int(x["dram_bytes"]),
            "ops_per_dram_byte": ops / x["dram_bytes"] if x["dram_bytes"] else math.inf,
            "energy_pj": float(x["energy_pj"]),
        }
        for stream, n in d.get("dram_bytes_by_stream", {}).items():
            row[f"dram_{stream}_bytes"] = int(n)
        m = d.get("mapping")
        if isinstance(m, Mapping):
            order = "".join(m.get("order", ()))
            row["mapping"] = (f"{m.get('dataflow', '')} k{m.get('tk')} c{m.get('tc')} "
                              f"{m.get('toy')}x{m.get('tox')} {order} {m.get('tiles')} tiles")
        rows.append(row)
    return pd.DataFrame(rows)


def cycles_table(doc: Mapping[str, Any]) -> pd.DataFrame:
    """Each layer's cycles split into parts that sum to its cycles: ``useful`` (its work at
    its unit's peak), ``array_overhead`` (the unit busy but not at peak: fill and drain,
    PEs a tile leaves idle, bit-plane passes' skew), then the stalls — by cause where the
    event engine measured them (``stall_dram``, ``stall_buffers``, ``stall_ppu``), else one
    ``stall`` (the analytical engine)."""
    causes = sorted({c for x in doc["layers"] for c in _details(x).get("stall_causes", {})})
    rows = []
    for x in doc["layers"]:
        d = _details(x)
        cycles = int(x["cycles"])
        compute = int(d.get("compute_cycles", cycles))
        useful = min(float(x["utilization"]) * cycles, compute)
        row: dict[str, Any] = {"layer": x["name"], "useful": useful,
                               "array_overhead": compute - useful}
        stall = cycles - compute
        measured = d.get("stall_causes") or {}
        if causes:
            for c in causes:
                row[f"stall_{c}"] = float(measured.get(c, 0))
            row["stall"] = float(stall - sum(measured.values()))  # 0 when all are measured
        else:
            row["stall"] = float(stall)
        row["cycles"] = cycles
        rows.append(row)
    return pd.DataFrame(rows)


def energy_table(doc: Mapping[str, Any]) -> pd.DataFrame:
    """Each layer's energy by part (pJ; the parts sum to its ``energy_pj``)."""
    parts: list[str] = []
    for x in doc["layers"]:
        parts += [p for p in x["energy_breakdown_pj"] if p not in parts]
    rows = [{"layer": x["name"], **{p: float(x["energy_breakdown_pj"].get(p, 0.0))
                                    for p in parts}, "energy_pj": float(x["energy_pj"])}
            for x in doc["layers"]]
    return pd.DataFrame(rows)


def roofs(doc: Mapping[str, Any]) -> dict[str, float]:
    """The roofline's ceilings in operations/s (2 per MAC) and bytes/s: ``array`` (the PE
    array's binary ops), ``int8_unit``, ``dram`` — the ones the result records (overlay
    totals); empty when it records none."""
    d = doc.get("details")
    if not isinstance(d, Mapping) or "peak_binary_macs_per_cycle" not in d:
        return {}
    hz = float(doc["clock_mhz"]) * 1e6
    out = {"array": 2 * float(d["peak_binary_macs_per_cycle"]) * hz}
    if d.get("int8_macs_per_cycle"):
        out["int8_unit"] = 2 * float(d["int8_macs_per_cycle"]) * hz
    if d.get("dram_bytes_per_cycle"):
        out["dram"] = float(d["dram_bytes_per_cycle"]) * hz
    return out


def roofline_table(doc: Mapping[str, Any]) -> pd.DataFrame:
    """Each layer that multiplies, placed on its unit's roofline: operational intensity
    (ops per DRAM byte; layers that move no DRAM byte are placed at the ridge's right, see
    ``intensity_plotted``), achieved ops/s over its cycles, and the roof above it."""
    ceilings = roofs(doc)
    hz = float(doc["clock_mhz"]) * 1e6
    rows = []
    for x in doc["layers"]:
        ops = _binary_ops(x)
        if not ops or not x["cycles"]:
            continue
        peak = ceilings.get(x["unit"], math.nan)
        intensity = ops / x["dram_bytes"] if x["dram_bytes"] else math.inf
        bw = ceilings.get("dram", math.nan)
        roof = min(peak, intensity * bw) if math.isfinite(intensity) else peak
        rows.append({"layer": x["name"], "unit": x["unit"], "ops": ops,
                     "dram_bytes": int(x["dram_bytes"]), "ops_per_dram_byte": intensity,
                     "ops_per_s": ops / (x["cycles"] / hz), "roof_ops_per_s": roof,
                     "of_roof": (ops / (x["cycles"] / hz)) / roof if roof else math.nan,
                     "bound": x["bound"]})
    return pd.DataFrame(rows, columns=["layer", "unit", "ops", "dram_bytes",
                                       "ops_per_dram_byte", "ops_per_s", "roof_ops_per_s",
                                       "of_roof", "bound"])


def timeline_table(doc: Mapping[str, Any], *, merge_gap: int = 0) -> pd.DataFrame:
    """The event engine's busy intervals (``trace``): component (the track: see
    :func:`reports.trace.trace_track`), start, end (cycles), layer and item (a stream or a
    tile); with ``merge_gap`` ≥ 0, back-to-back intervals of one layer on one component (gaps
    ≤ ``merge_gap`` cycles) merge into one. Empty without a trace."""
    rows = []
    names = [str(x["name"]) for x in doc["layers"]]
    for t in doc.get("trace") or []:
        track, layer, item = trace_track(t, names)
        rows.append({"component": track, "start": int(t["start"]),
                     "end": int(t["end"]), "layer": layer, "item": item})
    df = pd.DataFrame(rows, columns=["component", "start", "end", "layer", "item"])
    if df.empty or merge_gap < 0:
        return df
    merged: list[dict[str, Any]] = []
    last: dict[tuple[str, str], dict[str, Any]] = {}
    for r in df.sort_values(["component", "start", "end"], kind="stable").to_dict("records"):
        key = (r["component"], r["layer"])
        prev = last.get(key)
        if prev is not None and r["start"] - prev["end"] <= merge_gap and merged[-1] is prev:
            prev["end"] = max(prev["end"], r["end"])
            prev["item"] = "…" if prev["item"] != r["item"] else prev["item"]
            continue
        r = dict(r)
        merged.append(r)
        last[key] = r
    return pd.DataFrame(merged, columns=df.columns)


def compare_table(docs: Sequence[Mapping[str, Any]],
                  labels: Sequence[str] | None = None) -> pd.DataFrame:
    """Several results side by side, one row each: what ran and its totals of one frame."""
    rows = []
    for i, doc in enumerate(docs):
        t = doc["total"]
        rows.append({
            "result": labels[i] if labels else result_label(doc),
            "network": doc["network"], "quant": doc["quant"], "chip": doc["chip"],
            "engine": doc["engine"], "clock_mhz": float(doc["clock_mhz"]),
            "latency_cycles": int(t["latency_cycles"]),
            "latency_ms": float(t["latency_s"]) * 1e3, "fps": float(t["frames_per_s"]),
            "energy_uj": float(t["energy_uj"]),
            "tops_per_w": float(t["tops_per_w"]) if t.get("tops_per_w") is not None
            else math.nan,
            "area_mm2": float(t["area_mm2"]), "dram_kib": float(t["dram_bytes"]) / 1024,
            "macs": int(t["macs"]),
            **{f"energy_{k}_uj": float(v) * 1e-6
               for k, v in t.get("energy_breakdown_pj", {}).items()},
        })
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- studies
def _display(metric: str) -> tuple[str, float]:
    column, _, factor = DISPLAY.get(metric, (metric, "", 1.0))
    return column, factor


def trials_table(records: Any) -> pd.DataFrame:
    """One row per finished trial of a study (``StudyRecords``): number, state, feasible,
    admissible, on the Pareto set, the reason a design cannot run, its parameters and
    quantisation, and every metric in display units (``latency_ms``, ``energy_uj``, …)."""
    params: list[str] = []
    metrics: list[str] = []
    for t in records.trials:
        params += [p for p in t["point"] if p not in params]
        metrics += [m for m in t["metrics"] if m not in metrics]
    rows = []
    for t in records.trials:
        row: dict[str, Any] = {"trial": t["number"], "state": t["state"],
                               "feasible": bool(t["feasible"]),
                               "admissible": bool(t["admissible"]),
                               "pareto": bool(t["pareto"]), "reason": t["reason"]}
        row.update({p: t["point"].get(p) for p in params})
        for m in metrics:
            column, factor = _display(m)
            v = t["metrics"].get(m)
            row[column] = float(v) * factor if isinstance(v, int | float) else math.nan
        rows.append(row)
    columns = ["trial", "state", "feasible", "admissible", "pareto", "reason", *params,
               *(_display(m)[0] for m in metrics)]
    return pd.DataFrame(rows, columns=columns)


def pareto_table(records: Any) -> pd.DataFrame:
    """The Pareto set's rows of :func:`trials_table`: the trial, the objectives, then the
    parameters and the other metrics; by the first objective."""
    df = trials_table(records)
    front = df[df["pareto"]].drop(columns=["state", "feasible", "admissible", "pareto",
                                           "reason"])
    if front.empty:
        return front.reset_index(drop=True)
    first, direction = records.objectives[0]
    column = _display(first)[0]
    front = front.sort_values(column, ascending=direction == "min", kind="stable")
    lead = ["trial", *(c for m, _ in records.objectives
                       if (c := _display(m)[0]) in front.columns)]
    front = front[lead + [c for c in front.columns if c not in lead]]
    return front.reset_index(drop=True)


def hypervolume_table(records: Any) -> pd.DataFrame:
    """The hypervolume of the admissible designs found by each trial (objectives scaled to
    the ranges of all admissible designs, 1 = the whole box): a study's progress. The front
    is kept incrementally: a trial changes it (and its hypervolume) only when no design on
    it dominates the trial's."""
    from explorer.study import hypervolume

    objectives = tuple(records.objectives)
    ordered = sorted(records.trials, key=lambda t: t["number"])
    ok = [t for t in ordered if t["admissible"]]
    rows: list[dict[str, Any]] = []
    if not ok:
        return pd.DataFrame(rows, columns=["trial", "admissible", "hypervolume"])
    signs = [1.0 if d == "min" else -1.0 for _, d in objectives]
    values = {t["number"]: [float(t["metrics"][m]) for m, _ in objectives] for t in ok}
    cols = list(zip(*values.values(), strict=True))
    bounds = ([min(c) for c in cols], [max(c) for c in cols])

    def dominates(a: list[float], b: list[float]) -> bool:
        pa = [s * v for s, v in zip(signs, a, strict=True)]
        pb = [s * v for s, v in zip(signs, b, strict=True)]
        return all(x <= y for x, y in zip(pa, pb, strict=True)) and pa != pb

    front: list[list[float]] = []
    hv = 0.0
    seen = 0
    for t in ordered:
        p = values.get(t["number"])
        if p is not None:
            seen += 1
            if not any(dominates(q, p) or q == p for q in front):
                front = [q for q in front if not dominates(p, q)] + [p]
                hv = hypervolume(front, objectives, bounds)
        rows.append({"trial": t["number"], "admissible": seen, "hypervolume": hv})
    return pd.DataFrame(rows)


def refine_table(records: Any) -> pd.DataFrame:
    """The event engine's second opinion on the current Pareto set (``bnnsim explore``
    refines its front; designs refined on an earlier front and dominated since are left
    out): relative differences per timed metric and whether the design was flagged."""
    rows = []
    front = {t["number"] for t in records.trials if t["pareto"]}
    for number, r in sorted(records.refined.items()):
        if number not in front:  # refined when it was on the front; dominated since
            continue
        row: dict[str, Any] = {"trial": number, "engine": r.get("engine", ""),
                               "flagged": bool(r.get("flagged")),
                               "tolerance": r.get("tolerance")}
        row.update({f"{m}_difference": v for m, v in (r.get("differences") or {}).items()})
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- writers
def to_csv(df: pd.DataFrame) -> str:
    """CSV text (full precision, no index)."""
    buf = io.StringIO()
    df.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue()


def cell_text(value: Any) -> str:
    """One table cell as text: numbers to four significant digits, booleans as yes or
    blank, NaN blank."""
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        return f"{value:.4g}" if abs(value) < 1e6 or value == 0 else f"{value:.4e}"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    return str(value).replace("\n", " ")


def to_markdown(df: pd.DataFrame) -> str:
    """A GitHub Markdown table (numbers to four significant digits)."""
    head = [str(c).replace("|", "\\|") for c in df.columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(cell_text(v).replace("|", "\\|") for v in row) + " |")
    return "\n".join(lines) + "\n"
