"""Figures (matplotlib), each drawn from one table of :mod:`reports.tables` and nothing else:
a Pareto front's 2-D projections and parallel coordinates, a study's hypervolume, per-layer
stacked cycles and energy, a roofline, the event engine's timeline, pipeline stages against
the initiation interval, and results side by side.

Every function returns a :class:`matplotlib.figure.Figure` — made directly, never through
pyplot, so no display or GUI backend is involved — with labelled axes and units;
:func:`render` turns it into PNG and SVG.
"""

from __future__ import annotations

import io
import itertools
import math
import re
from collections.abc import Sequence
from typing import Any

import matplotlib
import pandas as pd
from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from reports.tables import DISPLAY

__all__ = ["compare_figure", "cycles_figure", "energy_figure", "hypervolume_figure",
           "parallel_figure", "pareto_figure", "render", "roofline_figure", "stages_figure",
           "timeline_figure"]

STYLE: Any = {"font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "legend.fontsize": 8,
         "xtick.labelsize": 8, "ytick.labelsize": 8, "svg.fonttype": "none",
         "axes.spines.top": False, "axes.spines.right": False}
#: layers a timeline's legend names (more would not fit; its colours then cycle)
MAX_LEGEND_LAYERS = 24
FRONT = "#d62728"
OTHERS = "#7f7f7f"
#: colours of stacked parts, in a fixed order so a part keeps its colour across figures
PART_COLOURS = {
    "useful": "#2ca02c", "array_overhead": "#98df8a", "stall_dram": "#d62728",
    "stall_buffers": "#ff9896", "stall_ppu": "#9467bd", "stall": "#c5b0d5",
    "compute": "#1f77b4", "ports": "#aec7e8", "ppu": "#9467bd", "input_buffer": "#ff7f0e",
    "weight_buffer": "#ffbb78", "output_buffer": "#bcbd22", "dram": "#d62728",
    "leakage": "#7f7f7f",
}
PART_LABELS = {"useful": "useful work at peak", "array_overhead": "fill/drain, idle PEs",
               "stall_dram": "stall: DRAM", "stall_buffers": "stall: buffer slots",
               "stall_ppu": "stall: post-processing", "stall": "stall"}


def _figure(width: float, height: float) -> Figure:
    with rc_context(STYLE):
        return Figure(figsize=(width, height), layout="constrained")


def _axis_label(metric: str) -> str:
    _, unit, _ = DISPLAY.get(metric, (metric, "", 1.0))
    return f"{metric} ({unit})" if unit else metric


def _column(metric: str) -> str:
    return DISPLAY.get(metric, (metric, "", 1.0))[0]


# --------------------------------------------------------------------------- studies
def pareto_figure(trials: pd.DataFrame, objectives: Sequence[tuple[str, str]]) -> Figure:
    """Every pair of objectives: admissible designs faded, the Pareto set in colour and
    labelled with its trial numbers (the front of all objectives, so a projection may show
    front points that look dominated in that plane)."""
    if len(objectives) == 1:
        return _single_objective_figure(trials, objectives[0])
    pairs = list(itertools.combinations(objectives, 2))
    n = len(pairs)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    with rc_context(STYLE):
        fig = _figure(4.2 * cols, 3.6 * rows)
        axes = fig.subplots(rows, cols, squeeze=False)
        ok = trials[trials["admissible"]]
        front = ok[ok["pareto"]]
        for ax, ((mx, dx), (my, dy)) in zip(axes.flat, pairs, strict=False):
            cx, cy = _column(mx), _column(my)
            ax.scatter(ok[cx], ok[cy], s=14, color=OTHERS, alpha=0.35, label="admissible",
                       linewidths=0)
            f = front.sort_values(cx)
            ax.scatter(f[cx], f[cy], s=30, color=FRONT, label="Pareto set", zorder=3)
            if len(f) <= 25:
                for _, r in f.iterrows():
                    ax.annotate(str(int(r["trial"])), (r[cx], r[cy]), fontsize=7,
                                xytext=(3, 3), textcoords="offset points")
            ax.set_xlabel(f"{_axis_label(mx)} — {'lower' if dx == 'min' else 'higher'} "
                          "is better")
            ax.set_ylabel(f"{_axis_label(my)} — {'lower' if dy == 'min' else 'higher'} "
                          "is better")
            ax.grid(alpha=0.3)
        for ax in list(axes.flat)[n:]:
            ax.set_visible(False)
        axes.flat[0].legend(loc="best")
        fig.suptitle(f"Pareto set: {len(front)} of {len(ok)} admissible designs "
                     f"({len(trials)} trials)")
    return fig


def _single_objective_figure(trials: pd.DataFrame, objective: tuple[str, str]) -> Figure:
    """One objective: every admissible design's value by trial, the best marked."""
    metric, direction = objective
    column = _column(metric)
    with rc_context(STYLE):
        fig = _figure(5.5, 3.4)
        ax = fig.subplots()
        ok = trials[trials["admissible"]]
        ax.scatter(ok["trial"], ok[column], s=14, color=OTHERS, alpha=0.5, linewidths=0,
                   label="admissible")
        best = ok[ok["pareto"]]
        ax.scatter(best["trial"], best[column], s=30, color=FRONT, zorder=3, label="best")
        for _, r in best.iterrows():
            ax.annotate(str(int(r["trial"])), (r["trial"], r[column]), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")
        ax.set_xlabel("trial")
        ax.set_ylabel(f"{_axis_label(metric)} — {'lower' if direction == 'min' else 'higher'} "
                      "is better")
        ax.legend(loc="best")
        ax.grid(alpha=0.3)
        ax.set_title(f"Best of {len(ok)} admissible designs ({len(trials)} trials)")
    return fig


def parallel_figure(trials: pd.DataFrame, objectives: Sequence[tuple[str, str]]) -> Figure:
    """Parallel coordinates of three or more objectives: each axis scaled to the admissible
    designs' range with the better end up; the Pareto set in colour over the rest."""
    with rc_context(STYLE):
        fig = _figure(max(5.0, 1.8 * len(objectives)), 3.8)
        ax = fig.subplots()
        ok = trials[trials["admissible"]]
        xs = list(range(len(objectives)))
        scaled = {}
        for m, d in objectives:
            c = ok[_column(m)].astype(float)
            lo, hi = float(c.min()), float(c.max())
            s = (c - lo) / (hi - lo) if hi > lo else c * 0 + 0.5
            scaled[m] = s if d == "max" else 1 - s
            i = [o for o, _ in objectives].index(m)
            better, worse = (hi, lo) if d == "max" else (lo, hi)
            ax.annotate(f"{better:.4g}", (i, 1.0), xytext=(0, 4), textcoords="offset points",
                        ha="center", fontsize=7)
            ax.annotate(f"{worse:.4g}", (i, 0.0), xytext=(0, -11),
                        textcoords="offset points", ha="center", fontsize=7)
        for idx in ok.index:
            on_front = bool(ok.at[idx, "pareto"])
            ys = [scaled[m][idx] for m, _ in objectives]
            ax.plot(xs, ys, color=FRONT if on_front else OTHERS,
                    alpha=0.9 if on_front else 0.2, linewidth=1.4 if on_front else 0.7,
                    zorder=3 if on_front else 1)
        ax.set_xticks(xs, [_axis_label(m) for m, _ in objectives])
        ax.set_ylim(-0.08, 1.08)
        ax.set_yticks([0, 1], ["worse", "better"])
        ax.set_ylabel("scaled to the admissible range")
        for x in xs:
            ax.axvline(x, color="black", linewidth=0.6)
        ax.plot([], [], color=FRONT, label="Pareto set")
        ax.plot([], [], color=OTHERS, alpha=0.5, label="other admissible designs")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
        ax.set_title("Objectives of every admissible design")
    return fig


def hypervolume_figure(hv: pd.DataFrame) -> Figure:
    """The hypervolume of the admissible designs found so far, by trial."""
    with rc_context(STYLE):
        fig = _figure(5.5, 3.2)
        ax = fig.subplots()
        ax.step(hv["trial"], hv["hypervolume"], where="post", color="#1f77b4")
        ax.set_xlabel("trial")
        ax.set_ylabel("hypervolume (share of the scaled box)")
        ax.set_ylim(0, max(1e-9, float(hv["hypervolume"].max()) * 1.1))
        ax.grid(alpha=0.3)
        ax.set_title("Search progress")
    return fig


# --------------------------------------------------------------------------- one design
def _stacked(table: pd.DataFrame, parts: list[str], *, scale: float, ylabel: str,
             title: str, labels: dict[str, str] | None = None) -> Figure:
    with rc_context(STYLE):
        fig = _figure(max(6.0, 0.45 * len(table) + 2.5), 3.8)
        ax = fig.subplots()
        x = list(range(len(table)))
        bottom = [0.0] * len(table)
        for part in parts:
            values = [float(v) * scale for v in table[part]]
            if not any(values):
                continue
            ax.bar(x, values, bottom=bottom, color=PART_COLOURS.get(part),
                   label=(labels or {}).get(part, part.replace("_", " ")), width=0.75)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        ax.set_xticks(x, list(table["layer"]), rotation=60, ha="right")
        ax.set_xlabel("layer (execution order)")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
        ax.grid(axis="y", alpha=0.3)
    return fig


def cycles_figure(cycles: pd.DataFrame) -> Figure:
    """Per-layer cycles stacked: useful work at the unit's peak, fill/drain and idle PEs, and
    each stall cause (the table of :func:`reports.tables.cycles_table`)."""
    parts = [c for c in cycles.columns if c not in ("layer", "cycles")]
    return _stacked(cycles, parts, scale=1.0, ylabel="cycles", labels=PART_LABELS,
                    title="Where each layer's cycles go")


def energy_figure(energy: pd.DataFrame) -> Figure:
    """Per-layer energy stacked by part (µJ)."""
    parts = [c for c in energy.columns if c not in ("layer", "energy_pj")]
    return _stacked(energy, parts, scale=1e-6, ylabel="energy (µJ)",
                    title="Where each layer's energy goes")


def roofline_figure(roof: pd.DataFrame, ceilings: dict[str, float]) -> Figure:
    """The chip's roofline — each unit's peak (ops/s, 2 per MAC) and the DRAM's slope — with
    every layer that multiplies placed at its ops per DRAM byte and achieved ops/s. A layer
    that moves no DRAM byte sits at the right edge."""
    with rc_context(STYLE):
        fig = _figure(6.4, 4.2)
        ax = fig.subplots()
        finite = roof["ops_per_dram_byte"].replace(math.inf, math.nan).dropna()
        bw = ceilings.get("dram")
        ridges = [peak / bw for unit, peak in ceilings.items() if unit != "dram" and bw]
        lo = max(min([*finite, *ridges, 1.0]) / 4, 1e-3)
        hi = max([*finite, *ridges, 1.0]) * 8  # the flat roofs always show
        xs = [lo * (hi / lo) ** (i / 200) for i in range(201)]
        markers = {"array": "o", "int8_unit": "s"}
        for unit, peak in ceilings.items():
            if unit == "dram":
                continue
            ys = [min(peak, x * bw) if bw else peak for x in xs]
            ax.plot(xs, ys, label=f"{unit.replace('_', ' ')} roof ({peak / 1e12:.3g} Tops/s)",
                    color="#1f77b4" if unit == "array" else "#ff7f0e")
        for _, r in roof.iterrows():
            x = r["ops_per_dram_byte"] if math.isfinite(r["ops_per_dram_byte"]) else hi
            ax.scatter([x], [r["ops_per_s"]], marker=markers.get(r["unit"], "^"), s=28,
                       color=FRONT if r["bound"] == "dram" else "#2ca02c", zorder=3)
            ax.annotate(str(r["layer"]), (x, r["ops_per_s"]), fontsize=7, xytext=(3, 2),
                        textcoords="offset points")
        ax.scatter([], [], color="#2ca02c", label="layer (compute-bound)")
        ax.scatter([], [], color=FRONT, label="layer (DRAM-bound)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("operational intensity (ops per DRAM byte)")
        ax.set_ylabel("performance (ops/s)")
        title = "Roofline"
        if bw:
            title += f" — DRAM {bw / 1e9:.3g} GB/s"
        ax.set_title(title)
        ax.legend(loc="lower right")
        ax.grid(alpha=0.3, which="both")
    return fig


def timeline_figure(timeline: pd.DataFrame, *, layers: Sequence[str], clock_mhz: float,
                    title: str = "Busy units over one frame") -> Figure:
    """Utilisation timeline (Gantt) of the event engine's trace: one row per component, each
    busy interval coloured by its layer (a legend up to :data:`MAX_LEGEND_LAYERS` layers;
    beyond, the colours cycle and the trace names them)."""
    present = set(timeline["component"])
    dram = sorted(c for c in present if c.startswith("dram"))
    components = [*dram, *(c for c in ("array", "int8_unit", "ppu") if c in present)]
    components += [c for c in dict.fromkeys(timeline["component"]) if c not in components]
    cmap = matplotlib.colormaps["tab20"]
    colour = {layer: cmap(i % 20) for i, layer in enumerate(layers)}
    legend = len(layers) <= MAX_LEGEND_LAYERS
    with rc_context(STYLE):
        fig = _figure(9.0, 1.4 + 0.6 * len(components)
                      + (0.25 * math.ceil(len(layers) / 8) if legend else 0))
        ax = fig.subplots()
        for row, comp in enumerate(components):
            part = timeline[timeline["component"] == comp]
            for layer, group in part.groupby("layer", sort=False):
                ax.broken_barh(list(zip(group["start"], group["end"] - group["start"],
                                        strict=True)), (row - 0.38, 0.76),
                               color=colour.get(str(layer), "#999999"), linewidth=0)
        ax.set_yticks(range(len(components)), [c.replace("_", " ") for c in components])
        ax.invert_yaxis()
        end = int(timeline["end"].max()) if len(timeline) else 1
        ax.set_xlim(0, end)
        ax.set_xlabel(f"cycles (at {clock_mhz:g} MHz: {end / clock_mhz:,.1f} µs in all)")
        ax.set_title(title)
        if legend:
            handles = [Patch(color=colour[x], label=x) for x in layers
                       if x in set(timeline["layer"])]
            fig.legend(handles=handles, loc="outside lower center",
                       ncol=min(8, max(1, len(handles))), fontsize=7, frameon=False)
    return fig


def stages_figure(layers: pd.DataFrame, *, interval_cycles: int) -> Figure:
    """A pipeline's layers (stages): each one's cycles per frame against the initiation
    interval, the slowest stage marked."""
    with rc_context(STYLE):
        fig = _figure(max(6.0, 0.45 * len(layers) + 2.5), 3.6)
        ax = fig.subplots()
        x = list(range(len(layers)))
        cycles = list(layers["cycles"])
        slowest = max(cycles) if cycles else 0
        ax.bar(x, cycles, color=[FRONT if c == slowest else "#1f77b4" for c in cycles])
        ax.axhline(interval_cycles, color="black", linestyle="--",
                   label=f"initiation interval ({interval_cycles:,} cycles)")
        ax.set_xticks(x, list(layers["layer"]), rotation=60, ha="right")
        ax.set_xlabel("stage (layer)")
        ax.set_ylabel("cycles per frame")
        ax.set_title("Pipeline stages against the initiation interval")
        ax.legend(loc="upper right")
        ax.grid(axis="y", alpha=0.3)
    return fig


def compare_figure(compare: pd.DataFrame) -> Figure:
    """Several results side by side: latency, energy per frame and area."""
    metrics = [("latency_ms", "latency (ms)"), ("energy_uj", "energy per frame (µJ)"),
               ("area_mm2", "area (mm²)")]
    with rc_context(STYLE):
        longest = max(len(str(r)) for r in compare["result"])
        fig = _figure(7.5 + 0.07 * min(longest, 80), 1.6 + 0.35 * len(compare))
        axes = fig.subplots(1, len(metrics))
        y = list(range(len(compare)))
        for ax, (column, label) in zip(axes, metrics, strict=True):
            ax.barh(y, compare[column], color="#1f77b4")
            names = [str(r) if len(str(r)) <= 80 else str(r)[:79] + "…"
                     for r in compare["result"]]
            ax.set_yticks(y, names if ax is axes[0] else [""] * len(y))
            ax.invert_yaxis()
            ax.set_xlabel(label)
            ax.grid(axis="x", alpha=0.3)
        fig.suptitle("Results side by side")
    return fig


# --------------------------------------------------------------------------- output
def render(fig: Figure, *, salt: str) -> tuple[bytes, str]:
    """The figure as PNG bytes and SVG text (no XML prolog, to inline in HTML; ids salted by
    ``salt`` so several figures in one page never share one)."""
    png, svg = io.BytesIO(), io.StringIO()
    with rc_context({**STYLE, "svg.hashsalt": salt}):
        fig.savefig(png, format="png", dpi=110)
        fig.savefig(svg, format="svg", metadata={"Date": None})
    text = svg.getvalue()
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text[text.index("<svg"):], flags=re.S)
    return png.getvalue(), _prefix_ids(text, salt)


def _prefix_ids(svg: str, prefix: str) -> str:
    """Every id of the SVG, and every reference to one, prefixed: matplotlib numbers its
    groups ``figure_1``, ``axes_1``… in every figure, and one HTML page needs unique ids."""
    p = re.sub(r"[^A-Za-z0-9_-]", "-", prefix)
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{p}-{m.group(1)}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{p}-{m.group(1)})", svg)
    return re.sub(r'href="#([^"]+)"', lambda m: f'href="#{p}-{m.group(1)}"', svg)
