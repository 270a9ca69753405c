"""bnnsim against published binary accelerators: the table in docs/validation.md.

Each chip in ``benchmarks/validation/`` is written from what its paper's abstract publishes
(node, supply voltage, throughput, efficiency, area, energy per frame) plus assumptions stated
in the file and in docs/validation.md; each runs the workload its published figures are for.
For every published figure this prints bnnsim's value and the ratio bnnsim / published::

    python benchmarks/validation.py            # the Markdown table
    python benchmarks/validation.py --json -   # the rows as JSON

The rows are fast to compute (well under a second each, analytical engine), so
tests/simulator/overlay/test_validation.py recomputes them and checks the table in the docs.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent / "validation"


@dataclass(frozen=True)
class Row:
    chip: str
    figure: str
    unit: str
    published: float
    bnnsim: float
    source: str  # where the published figure comes from

    @property
    def ratio(self) -> float:
        return self.bnnsim / self.published


def _run(chip: str, network: str, overrides: dict[str, Any] | None = None):
    from simulator import apply_overrides, load_chip, simulate
    from workloads import load_network

    spec = load_chip(HERE / f"{chip}.yaml")
    if overrides:
        spec = apply_overrides(spec, overrides)
    return simulate(load_network(HERE / f"{network}.yaml"), spec)


def _ops_per_s(result) -> float:
    return 2 * result.macs / result.latency_s


def measure() -> list[Row]:
    rows: list[Row] = []
    # YodaNN: 1.2 V / 480 MHz for throughput and power, 0.6 V for efficiency and power; the
    # 0.6 V clock follows from 61.2 TOp/s/W x 895 uW = 54.8 GOp/s over 3,136 Op per cycle.
    y12 = _run("yodann", "yodann-conv7x7")
    y06 = _run("yodann", "yodann-conv7x7", {"node.voltage_v": 0.6, "clock_mhz": 17.5})
    yodann = "Andri et al., ISVLSI 2016 (abstract)"
    rows += [
        Row("YodaNN", "throughput at 1.2 V", "TOp/s", 1.51, _ops_per_s(y12) / 1e12, yodann),
        Row("YodaNN", "power at 1.2 V", "mW", 153.0,
            y12.energy_pj * 1e-12 / y12.latency_s * 1e3, yodann),
        Row("YodaNN", "efficiency at 0.6 V", "TOp/s/W", 61.2, y06.tops_per_w or 0.0, yodann),
        Row("YodaNN", "power at 0.6 V", "mW", 0.895,
            y06.energy_pj * 1e-12 / y06.latency_s * 1e3, yodann),
        Row("YodaNN", "core area", "mm²", 1.9, y12.area_mm2, yodann),
    ]
    x = _run("xnorbin", "xnorbin-conv3x3")
    rows.append(Row("XNORBIN", "efficiency at 0.8 V", "TOp/s/W", 95.0, x.tops_per_w or 0.0,
                    "Al Bahou et al., COOL Chips 2018 (abstract)"))
    b = _run("binareye", "binareye-cifar10")
    binareye = "Moons et al., CICC 2018 (abstract)"
    conv = next(layer for layer in b.layers if layer.name == "conv2")  # a full binary layer
    rows += [
        Row("BinarEye", "energy per CIFAR-10 frame", "µJ", 14.4, b.energy_pj * 1e-6, binareye),
        Row("BinarEye", "peak efficiency (a full binary layer)", "TOp/s/W", 230.0,
            2 * conv.macs / (conv.energy_pj * 1e-12) / 1e12, binareye),
    ]
    return rows


def breakdown() -> dict[str, dict[str, float]]:
    """Each chip's energy by part (µJ), for the explanations in docs/validation.md."""
    runs = {"YodaNN (1.2 V)": _run("yodann", "yodann-conv7x7"),
            "XNORBIN": _run("xnorbin", "xnorbin-conv3x3"),
            "BinarEye": _run("binareye", "binareye-cifar10")}
    return {name: {k: round(v * 1e-6, 3) for k, v in r.energy_breakdown_pj.items()}
            for name, r in runs.items()}


#: What each design's modelled features and assumed memories are worth: the headline figure
#: with one choice undone at a time (the overrides on the chip file).
SENSITIVITY: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
    ("YodaNN", "power at 1.2 V (mW)", "as in the file", {}),
    ("YodaNN", "power at 1.2 V (mW)", "XNOR lanes, 12 bit-serial planes (12 × 32 PEs)",
     {"pe_array.pe_type": "xnor", "pe_array.rows": 12}),
    ("YodaNN", "power at 1.2 V (mW)", "a 4 KiB line buffer (window buffer)",
     {"pe_array.window_buffer_kib": 4}),
    ("YodaNN", "power at 1.2 V (mW)", "SRAM image memory and filter bank, unbanked",
     {"buffers.input.kind": "sram", "buffers.weight.kind": "sram", "buffers.input.banks": 1,
      "buffers.weight.banks": 1}),
    ("XNORBIN", "efficiency (TOp/s/W)", "as in the file", {}),
    ("XNORBIN", "efficiency (TOp/s/W)", "no window buffer", {"pe_array.window_buffer_kib": 0}),
    ("XNORBIN", "efficiency (TOp/s/W)", "memories unbanked",
     {"buffers.input.banks": 1, "buffers.weight.banks": 1}),
    ("XNORBIN", "efficiency (TOp/s/W)", "64 KiB latch memories (4× the area, and its leakage)",
     {"buffers.input.size_kib": 64, "buffers.weight.size_kib": 64}),
    ("XNORBIN", "efficiency (TOp/s/W)", "SRAM memories, banked alike",
     {"buffers.input.kind": "sram", "buffers.weight.kind": "sram"}),
    ("XNORBIN", "efficiency (TOp/s/W)", "SRAM memories, unbanked, no window buffer",
     {"buffers.input.kind": "sram", "buffers.weight.kind": "sram", "buffers.input.banks": 1,
      "buffers.weight.banks": 1, "pe_array.window_buffer_kib": 0}),
)


def sensitivity() -> list[tuple[str, str, str, float]]:
    """(chip, figure, what changed, value) for each line of :data:`SENSITIVITY`."""
    out = []
    for chip, figure, what, overrides in SENSITIVITY:
        if chip == "YodaNN":
            r = _run("yodann", "yodann-conv7x7", overrides)
            value = r.energy_pj * 1e-12 / r.latency_s * 1e3
        else:
            value = _run("xnorbin", "xnorbin-conv3x3", overrides).tops_per_w or 0.0
        out.append((chip, figure, what, value))
    return out


def markdown(rows: list[Row]) -> str:
    lines = ["| chip | figure | published | bnnsim | bnnsim ÷ published | within 2× |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        ok = "yes" if 0.5 <= r.ratio <= 2.0 else "no"
        lines.append(f"| {r.chip} | {r.figure} | {r.published:g} {r.unit} | "
                     f"{r.bnnsim:.3g} {r.unit} | {r.ratio:.2f} | {ok} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", metavar="FILE", help="write the rows as JSON (- = stdout)")
    args = parser.parse_args(argv)
    rows = measure()
    if args.json:
        text = json.dumps([{**asdict(r), "ratio": r.ratio} for r in rows], indent=1)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n")
        return 0
    print(markdown(rows))
    print()
    for name, parts in breakdown().items():
        print(f"{name}: " + ", ".join(f"{k} {v:g}" for k, v in parts.items()) + " µJ")
    print()
    print("| chip | figure | the chip file with | bnnsim |")
    print("|---|---|---|---|")
    for chip, figure, what, value in sensitivity():
        print(f"| {chip} | {figure} | {what} | {value:.3g} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
