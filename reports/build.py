"""Reports assembled from tables and figures: one design (or several side by side) from
``--json`` results, or a design-space study from its storage.

A :class:`Report` is the page and every file beside it, held in memory until written whole
into a folder (``index.html``; ``tables/`` as CSV and Markdown; ``figures/`` as PNG, SVG and
each figure's data as CSV; a Chrome trace per traced result). A report reads results and
studies; it never runs a simulation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from reports import figures as F
from reports import tables as T
from reports.html import Block, Page, Section, render
from reports.trace import chrome_trace
from workloads.version import package_version

__all__ = ["Report", "result_report", "study_report"]

#: merge a trace's back-to-back intervals closer than this share of the frame (the timeline
#: figure cannot show them apart; the Chrome trace keeps every one)
TIMELINE_RESOLUTION = 1 / 4000


@dataclass
class Report:
    """A page and its files (relative path → bytes)."""

    page: Page
    files: dict[str, bytes] = field(default_factory=dict)

    @property
    def html(self) -> str:
        return render(self.page)

    def write(self, folder: Path) -> None:
        """Write the page and its files into ``folder`` (which exists)."""
        for name, data in {**self.files, "index.html": self.html.encode("utf-8")}.items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


class _Builder:
    def __init__(self, title: str) -> None:
        self.report = Report(Page(title, f"bnnsim {package_version()} · generated {_now()}"))

    def section(self, ident: str, title: str, *, level: int = 2) -> Section:
        s = Section(ident, title, level=level)
        self.report.page.sections.append(s)
        return s

    def text(self, section: Section, text: str, *, note: bool = False) -> None:
        section.blocks.append(Block("text", text=text, ident="note" if note else ""))

    def table(self, section: Section, name: str, df: pd.DataFrame, caption: str = "", *,
              highlight: str = "", details: bool = False, max_rows: int = 500) -> None:
        self.report.files[f"tables/{name}.csv"] = T.to_csv(df).encode("utf-8")
        self.report.files[f"tables/{name}.md"] = T.to_markdown(df).encode("utf-8")
        section.blocks.append(Block(
            "details" if details else "table", text=caption, table=df, highlight=highlight,
            max_rows=max_rows, links=[("CSV", f"tables/{name}.csv"),
                                      ("Markdown", f"tables/{name}.md")]))

    def figure(self, section: Section, name: str, fig: Any, data: pd.DataFrame,
               caption: str) -> None:
        png, svg = F.render(fig, salt=name)
        self.report.files[f"figures/{name}.png"] = png
        self.report.files[f"figures/{name}.svg"] = svg.encode("utf-8")
        self.report.files[f"figures/{name}.csv"] = T.to_csv(data).encode("utf-8")
        section.blocks.append(Block("figure", text=caption, svg=svg, ident=f"fig-{name}",
                                    links=[("PNG", f"figures/{name}.png"),
                                           ("SVG", f"figures/{name}.svg"),
                                           ("data (CSV)", f"figures/{name}.csv")]))


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _flat(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping):
        for k, v in value.items():
            _flat(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(value, list):
        out[prefix] = ", ".join(str(v) for v in value)
    else:
        out[prefix] = value


def _settings(value: Mapping[str, Any]) -> pd.DataFrame:
    flat: dict[str, Any] = {}
    _flat("", value, flat)
    return pd.DataFrame({"setting": list(flat), "value": [str(v) for v in flat.values()]})


def _key_values(pairs: Sequence[tuple[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame({"": [k for k, _ in pairs],
                         "value": [T.cell_text(v) if not isinstance(v, str) else v
                                   for _, v in pairs]})


# --------------------------------------------------------------------------- results
def result_report(docs: Sequence[Mapping[str, Any]], *, labels: Sequence[str] | None = None,
                  sources: Sequence[str] | None = None) -> Report:
    """The report of one result, or of several side by side (each with its own section).
    ``sources`` name where each came from (files), shown with its inputs."""
    if not docs:
        raise ValueError("a report needs at least one result")
    names = list(labels) if labels else [T.result_label(d) for d in docs]
    title = (f"bnnsim report — {names[0]}" if len(docs) == 1
             else f"bnnsim report — {len(docs)} results side by side")
    b = _Builder(title)
    if len(docs) > 1:
        s = b.section("compare", "Side by side")
        table = T.compare_table(docs, names)
        b.table(s, "compare", table, "One frame of each result.")
        b.figure(s, "compare", F.compare_figure(table), table[["result", "latency_ms",
                                                               "energy_uj", "area_mm2"]],
                 "Latency, energy per frame and area of each result.")
    for i, doc in enumerate(docs):
        prefix = "" if len(docs) == 1 else f"r{i + 1}-"
        _one_result(b, doc, names[i], prefix, sources[i] if sources else "")
    return b.report


def _one_result(b: _Builder, doc: Mapping[str, Any], label: str, prefix: str,
                source: str) -> None:
    t = doc["total"]
    head = b.section(f"{prefix}summary", label if prefix else "Summary")
    details = _mapping(doc.get("details"))
    pairs: list[tuple[str, Any]] = [
        ("latency", f"{t['latency_cycles']:,} cycles = {float(t['latency_s']) * 1e3:.4g} ms "
                    f"at {float(doc['clock_mhz']):g} MHz"),
        ("throughput", f"{float(t['frames_per_s']):,.1f} frames/s (a frame every "
                       f"{t['interval_cycles']:,} cycles)"),
        ("energy per frame", f"{float(t['energy_uj']):.4g} µJ"),
        ("efficiency", "n/a" if t.get("tops_per_w") is None
         else f"{float(t['tops_per_w']):.4g} TOPS/W (2 ops per MAC)"),
        ("area", f"{float(t['area_mm2']):.4g} mm²"),
        ("DRAM traffic", f"{float(t['dram_bytes']) / 1024:,.1f} KiB per frame"),
        ("MACs", f"{int(t['macs']):,}"),
    ]
    if "device_luts" in details:  # an FPGA pipeline: resources, not area
        pairs[4] = ("resources", f"{int(details['luts']):,} of {int(details['device_luts']):,} "
                                 f"LUTs, {int(details['bram18']):,} of "
                                 f"{int(details['device_bram18']):,} BRAM18")
    if "array_utilization" in details:
        pairs.append(("array utilisation",
                      f"{100 * float(details['array_utilization']):.1f} % of "
                      f"{int(details['peak_binary_macs_per_cycle']):,} binary MACs/cycle"))
    if t.get("batch", 1) != 1:
        pairs.append(("batch", f"{t['batch']} frames"))
    b.table(head, f"{prefix}totals", _key_values(pairs))
    batch = int(t.get("batch", 1))
    frames = "one frame" if batch == 1 else f"all {batch} frames of the batch together"
    layers = T.layer_table(doc)
    b.table(head, f"{prefix}layers", layers, f"Per layer ({frames}).")

    s = b.section(f"{prefix}figures", "Where the time and energy go", level=3 if prefix else 2)
    cycles = T.cycles_table(doc)
    b.figure(s, f"{prefix}cycles", F.cycles_figure(cycles), cycles,
             f"Each layer's cycles ({frames}): useful work at its unit's peak, the unit "
             "busy below peak (fill and drain, idle PEs), and stalls by cause"
             + (" as the event engine measured them." if doc["engine"] == "event"
                else " (the analytical engine does not split stalls by cause)."))
    energy = T.energy_table(doc)
    b.figure(s, f"{prefix}energy", F.energy_figure(energy), energy,
             f"Each layer's energy by part ({frames}).")
    ceilings = T.roofs(doc)
    roof = T.roofline_table(doc)
    if ceilings and not roof.empty:
        slope = ("and the DRAM bandwidth's slope, " if "dram" in ceilings else
                 "(this result does not record the DRAM's bandwidth: no slope), ")
        b.figure(s, f"{prefix}roofline", F.roofline_figure(roof, ceilings), roof,
                 f"Roofline: each unit's peak {slope}with every layer that multiplies at its "
                 "operations per DRAM byte and achieved operations per second. A layer may "
                 "sit just above the DRAM slope when part of its weights loaded during the "
                 "previous layer (overlap_layers).")
    if doc.get("trace"):
        span = max(int(x["end"]) for x in doc["trace"])
        timeline = T.timeline_table(doc, merge_gap=int(span * TIMELINE_RESOLUTION))
        b.figure(s, f"{prefix}timeline",
                 F.timeline_figure(timeline, layers=[x["name"] for x in doc["layers"]],
                                   clock_mhz=float(doc["clock_mhz"]),
                                   title="Busy units over one frame" if batch == 1
                                   else f"Busy units over the run ({batch} frames)"),
                 timeline,
                 "Busy units (the event engine's trace; intervals closer than the figure "
                 "can show are merged — the Chrome trace has every one)"
                 + ("." if len(doc["layers"]) <= F.MAX_LEGEND_LAYERS else
                    f"; {len(doc['layers'])} layers: the colours cycle, the trace names "
                    "each interval's layer."))
        name = f"{prefix}trace.json"
        b.report.files[name] = json.dumps(chrome_trace(doc), allow_nan=False).encode()
        b.text(s, f"The full trace ({len(doc['trace']):,} intervals) is {name}: a Chrome "
                  "trace that opens in ui.perfetto.dev or chrome://tracing.", note=True)
    else:
        b.text(s, "No timeline: this result has no trace (the analytical engine times no "
                  "units). bnnsim simulate --engine event --report DIR draws one.", note=True)
    interval, latency = int(t["interval_cycles"]), int(t["latency_cycles"])
    if doc["family"] != "overlay" or interval * int(t.get("batch", 1)) < latency:
        b.figure(s, f"{prefix}stages", F.stages_figure(layers, interval_cycles=interval),
                 layers[["layer", "cycles"]],
                 "A pipeline's stages: cycles per frame of each against the initiation "
                 "interval (the slowest stage sets it).")

    inp = b.section(f"{prefix}inputs", "Inputs", level=3 if prefix else 2)
    prov = doc.get("provenance", {})
    inputs = _mapping(doc.get("inputs"))
    tech = _mapping(inputs.get("tech"))
    what = [("result file", source or "—"), ("network", doc["network"]),
            ("workload", f"{prov.get('workload_source', '?')} "
                         f"(digest {prov.get('workload_digest', '?')})"),
            ("quantisation", doc["quant"] + "; per layer in the table above"),
            ("chip", f"{doc['chip']} from {prov.get('chip_source', '?')} "
                     f"(digest {prov.get('chip_digest', '?')})"),
            ("family, engine", f"{doc['family']}, {doc['engine']}"),
            ("technology table", (f"{prov.get('tech', '?')} from {prov.get('tech_source', '?')}"
                                  + (f", {float(tech['node_nm']):g} nm, "
                                     f"{float(tech['voltage_v']):g} V"
                                     if tech.get("node_nm") else ""))
             if "tech" in prov else "none (the family prices no technology table)"),
            ("simulated by", f"bnnsim {prov.get('bnnsim_version', '?')}, Python "
                             f"{prov.get('python', '?')}"),
            ("result schema", str(doc.get("schema_version")))]
    b.table(inp, f"{prefix}inputs", _key_values(what))
    if isinstance(inputs.get("chip"), Mapping):
        b.table(inp, f"{prefix}chip", _settings(inputs["chip"]),
                "The chip's settings (as a chip file gives them, after any --set).",
                details=True)
    if tech.get("entries"):
        b.table(inp, f"{prefix}tech", pd.DataFrame(tech["entries"]),
                f"Technology table {tech.get('name', '')}: energy and area per action.",
                details=True)
    if not inputs:
        b.text(inp, "This result predates schema version 4: its chip settings and "
                    "technology table are not recorded.", note=True)


# --------------------------------------------------------------------------- studies
def study_report(records: Any) -> Report:
    """The report of a design-space study (:class:`explorer.study.StudyRecords`)."""
    b = _Builder(f"bnnsim report — study {records.name}")
    trials = T.trials_table(records)
    objectives = records.objectives
    admissible = trials[trials["admissible"]]
    s = b.section("summary", "Summary")
    space = records.space
    hv = T.hypervolume_table(records)
    pairs: list[tuple[str, Any]] = [
        ("study", records.name), ("storage", records.storage or "—"),
        ("space", f"{space.get('name', '?')} from {space.get('source', '?')}"),
        ("network, base chip", f"{space.get('network', '?')}, {space.get('chip', '?')}"),
        ("objectives", ", ".join(f"{m} {d}" for m, d in objectives)),
        ("constraints", "; ".join(space.get("constraints", [])) or "none"),
        ("timing engine", records.engine),
        ("trials", f"{len(trials):,} finished: {int(trials['feasible'].sum()):,} feasible, "
                   f"{len(admissible):,} admissible, {int(trials['pareto'].sum()):,} on the "
                   "Pareto set"),
        ("hypervolume", f"{float(hv['hypervolume'].iloc[-1]):.4f} (objectives scaled to the "
                        "admissible designs' ranges)" if len(hv) else "—"),
    ]
    b.table(s, "summary", _key_values(pairs))
    front = T.pareto_table(records)
    b.table(s, "pareto", front, "The Pareto set: no admissible design is at least as good in "
                                "every objective and better in one.")
    changing = _changing_chip_settings(records)
    if not changing.empty:
        b.table(s, "pareto_chips", changing, "The Pareto designs' chip settings that differ "
                                             "between them.", details=True)
    f = b.section("figures", "Figures")
    if len(admissible):
        cols = ["trial", "pareto", *(T.DISPLAY.get(m, (m,))[0] for m, _ in objectives)]
        b.figure(f, "pareto", F.pareto_figure(trials, objectives), admissible[cols],
                 "Every pair of objectives: admissible designs in grey, the Pareto set in red "
                 "with trial numbers.")
        if len(objectives) >= 3:
            b.figure(f, "parallel", F.parallel_figure(trials, objectives), admissible[cols],
                     "Parallel coordinates: each objective scaled to the admissible range, "
                     "better up.")
        b.figure(f, "hypervolume", F.hypervolume_figure(hv), hv,
                 "Hypervolume of the admissible designs found by each trial.")
    else:
        b.text(f, "No admissible design: every trial is infeasible or outside the "
                  "constraints — no front to draw.", note=True)
    if records.refined:
        r = b.section("refined", "Second opinion (event engine)")
        b.table(r, "refined", T.refine_table(records),
                "The Pareto set re-simulated by the event engine: relative differences from "
                "the screening engine; flagged beyond the tolerance.", highlight="flagged")
    a = b.section("trials", "All trials")
    b.table(a, "trials", trials, "Every finished trial (Pareto rows highlighted); "
                                 "infeasible designs give their reason.", highlight="pareto")
    return b.report


def _changing_chip_settings(records: Any) -> pd.DataFrame:
    rows = []
    for t in records.trials:
        if t["pareto"]:
            flat: dict[str, Any] = {}
            _flat("", t.get("chip") or {}, flat)
            rows.append({"trial": t["number"], **flat})
    if not rows:
        return pd.DataFrame()
    df = pd.DataFrame(rows)
    keep = ["trial"] + [c for c in df.columns if c != "trial"
                        and df[c].astype(str).nunique() > 1]
    return df[keep] if len(keep) > 1 else pd.DataFrame()

