"""Plain-text renderings for the terminal and CSV, with no heavy imports: the table and totals
``bnnsim simulate`` prints, its ``--csv`` and ``--trace FILE.csv`` texts, and the fixed-width
table every command uses."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

__all__ = ["csv_text", "fixed_table", "layer_csv_text", "result_text", "si", "trace_csv_text"]


def fixed_table(headers: Sequence[str], rows: Sequence[Sequence[Any]],
                align: str | None = None) -> str:
    """A plain fixed-width table (first column left-aligned, the rest right-aligned, unless
    ``align`` gives one ``l`` or ``r`` per column)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    align = align or "l" + "r" * (len(headers) - 1)
    out = []
    for j, r in enumerate(cells):
        out.append("  ".join(c.ljust(w) if a == "l" else c.rjust(w)
                             for c, w, a in zip(r, widths, align, strict=True)).rstrip())
        if j == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def si(value: float, unit: str) -> str:
    """``value`` with a k, M or G prefix (two decimals) before ``unit``."""
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.2f} {prefix}{unit}"
    return f"{value:.0f} {unit}"


def csv_text(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def layer_csv_text(result: Any) -> str:
    """``bnnsim simulate --csv``: one row per layer, the result's flat columns."""
    rows = result.layer_rows()
    return csv_text(list(rows[0]), [list(r.values()) for r in rows])


def trace_csv_text(result: Any) -> str:
    """``--trace FILE.csv``: the event engine's busy intervals, one per row."""
    return csv_text(("component", "start", "end", "label"),
                    [(t.component, t.start, t.end, t.label) for t in result.trace or ()])


def _align(cells: Sequence[str]) -> str:
    """Right-align a column of numbers, left-align anything else."""
    def number(text: str) -> bool:
        try:
            float(text.replace(",", ""))
        except ValueError:
            return False
        return True

    return "r" if cells and all(number(c) for c in cells) else "l"


def result_text(result: Any, family: Any) -> str:
    """The per-layer table and the totals of a simulation, with the family's own columns
    (``family.layer_columns``) and lines (``family.total_lines``)."""
    extra = [family.layer_columns(x) for x in result.layers]
    heads = list(extra[0]) if extra else []
    rows = [(x.name, x.kind, x.precision, x.unit, si(x.macs, ""), x.cycles,
             f"{100 * x.utilization:.1f}", f"{x.dram_bytes / 1024:.1f}",
             f"{x.energy_pj / 1e6:.3f}", x.bound, *(cols[h] for h in heads))
            for x, cols in zip(result.layers, extra, strict=True)]
    body = result.quant.rstrip("+")
    other = [f"{x.name} {x.precision}" for x in result.layers  # (a gate's FCs are 8-bit)
             if x.kind in ("conv", "fc") and x.precision != body.split("g")[0]
             and ".gate_" not in x.name]
    note = (f"; {', '.join(other)}" if len(other) <= 3
            else f"; {len(other)} layers differ, see prec") if other else ""
    lines = [f"{result.network} ({body}{note}) on {result.chip} ({result.family}) — "
             f"{result.engine} engine"]
    lines.append(fixed_table(
        ("layer", "kind", "prec", "unit", "MACs", "cycles", "util%", "DRAM KiB", "energy uJ",
         "bound", *heads), rows,
        "lllllrrrrl" + "".join(_align([cols[h] for cols in extra]) for h in heads)))
    parts = ", ".join(f"{k} {v / 1e6:.3f}" for k, v in result.energy_breakdown_pj.items())
    lines.append("")
    lines.append(f"latency           {result.latency_cycles:,} cycles "
                 f"({result.latency_s * 1e3:.4f} ms at {result.clock_mhz:g} MHz)")
    lines.append(f"throughput        {result.frames_per_s:,.1f} frames/s (a frame every "
                 f"{result.interval_cycles:,} cycles)")
    lines.append(f"energy/inference  {result.energy_pj / 1e6:.3f} uJ ({parts} uJ)")
    efficiency = "n/a (no energy)" if result.tops_per_w is None else \
        f"{result.tops_per_w:.3f} TOPS/W (2 ops per MAC)"
    lines.append(f"efficiency        {efficiency}")
    lines.append(f"DRAM traffic      {result.dram_bytes / 1024:,.1f} KiB; MACs {result.macs:,}; "
                 f"weights {result.weight_bits:,} bits")
    tech = result.provenance.get("tech")
    if result.area_breakdown_mm2:  # (an FPGA's resources are the family's lines below)
        lines.append(f"area              {result.area_mm2:.3f} mm²"
                     + (f" (tech {tech})" if tech else ""))
    if result.batch > 1:
        lines.append(f"batch             {result.batch} frames: {result.batch_cycles:,} "
                     f"cycles, {result.batch_energy_pj / 1e6:.3f} uJ, "
                     f"{result.batch_dram_bytes / 1024:,.1f} KiB DRAM (per-frame figures "
                     "above)")
    for label, text in family.total_lines(result):
        lines.append(f"{label:<17} {text}")
    return "\n".join(lines)
