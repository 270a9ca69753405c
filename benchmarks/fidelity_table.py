"""Every zoo network on `edge` and `int8-baseline`: the numbers docs/fidelity.md tracks.

Per network and chip: cycles, useful-work utilisation of the array, energy by part, DRAM bytes
against the unique data (each layer's weights, inputs and outputs once), and the XNOR-vs-int8
cycle ratio at equal area. Run it on two trees to get a before/after table::

    python benchmarks/fidelity_table.py --json after.json
    PYTHONPATH=/path/to/old/tree python benchmarks/fidelity_table.py --json before.json
    python benchmarks/fidelity_table.py --compare before.json after.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

CHIPS = ("edge", "int8-baseline")


def measure() -> dict[str, Any]:
    from simulator import simulate
    from workloads import get_network, zoo_names

    out: dict[str, Any] = {}
    for name in zoo_names():
        net = get_network(name)
        unique = sum((layer.weight_bits + layer.input_bits + layer.output_bits) // 8
                     for layer in net.layers)
        for chip in CHIPS:
            r = simulate(net, chip)
            e = r.energy_breakdown_pj
            buffers = sum(v for k, v in e.items() if k.endswith("_buffer"))
            out[f"{name}|{chip}"] = {
                "cycles": r.latency_cycles,
                "utilization": r.details.array_utilization,
                "energy_uj": r.energy_pj * 1e-6,
                "compute_uj": e.get("compute", 0.0) * 1e-6,
                "buffers_uj": buffers * 1e-6,
                "dram_uj": e.get("dram", 0.0) * 1e-6,
                "other_uj": (r.energy_pj - e.get("compute", 0.0) - buffers
                             - e.get("dram", 0.0)) * 1e-6,
                "dram_bytes": r.dram_bytes,
                "unique_bytes": unique,
            }
    return out


def table(data: dict[str, Any], before: dict[str, Any] | None = None) -> str:
    head = ("| network | chip | cycles | util % | energy µJ (compute / buffers / DRAM / other) "
            "| DRAM KB / unique KB | int8 ÷ XNOR cycles |")
    lines = [head, "|" + "---|" * 7]
    names = list(dict.fromkeys(k.split("|")[0] for k in data))
    for name in names:
        ratio = data[f"{name}|int8-baseline"]["cycles"] / data[f"{name}|edge"]["cycles"]
        for chip in CHIPS:
            d = data[f"{name}|{chip}"]
            b = before.get(f"{name}|{chip}") if before else None

            def was(key: str, fmt: str, d: dict = d, b: dict | None = b) -> str:
                now = format(d[key], fmt)
                return now if b is None else f"{format(b[key], fmt)} → {now}"

            r_txt = ""
            if chip == "edge":
                r_txt = f"{ratio:.1f}×"
                if before:
                    old = (before[f"{name}|int8-baseline"]["cycles"]
                           / before[f"{name}|edge"]["cycles"])
                    r_txt = f"{old:.1f}× → {ratio:.1f}×"
            split = (f"{d['compute_uj']:.0f} / {d['buffers_uj']:.0f} / {d['dram_uj']:.0f} / "
                     f"{d['other_uj']:.0f}")
            energy = was("energy_uj", ".0f") + f" ({split})"
            dram = f"{was('dram_bytes', ',')} / {d['unique_bytes']:,}".replace(",", " ")
            lines.append(f"| {name} | {chip} | {was('cycles', ',')} | "
                         f"{was('utilization', '.1%').replace('%', '')} | {energy} | {dram} | "
                         f"{r_txt} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, help="write the measurements here")
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"),
                    help="print a before → after table of two --json files")
    args = ap.parse_args()
    if args.compare:
        before, after = (json.loads(p.read_text()) for p in args.compare)
        print(table(after, before))
        return 0
    data = measure()
    if args.json:
        args.json.write_text(json.dumps(data, indent=1))
    print(table(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
