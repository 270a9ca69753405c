"""Every quantisation method of the reference on one network and one training budget, with
the simulator's latency and energy for the same quantisation: the accuracy-versus-cost table
of docs/accuracy.md ("Methods side by side").

Each method of ``reference.methods`` is a quantisation of LFC's body (layers 2–4; 8-bit pixels
into the first layer, as FINN), trained on MNIST with the same recipe (Adam, cosine, batch 100,
seed 0) for ``--steps`` optimiser steps — a staged method (Real-to-Binary) for ``--steps`` in
each stage — then simulated on ``edge`` (analytical engine) as the workload of that
quantisation.

    python benchmarks/method_comparison.py [--data-dir ../shared/data] [--steps 600]
        [--only pact inq …] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any


def run(method: Any, *, steps: int, data_dir: str | None) -> dict[str, Any]:
    """Train one method (a staged one: every stage ``steps``) and simulate its quantisation."""
    from reference.train import real_to_binary, train
    from simulator import simulate
    from workloads import get_network
    from workloads.quant import parse_quant

    t0 = time.perf_counter()
    if method.train.get("staged"):  # Real-to-Binary: teacher, then w32a1 (gated), then target
        gate = parse_quant(method.quant).default.gate
        result = real_to_binary("lfc", method.quant, "mnist", data_dir=data_dir,
                                intermediate=f"w32a1g{gate}" if gate else "w32a1",
                                max_steps=steps, progress=False).final
    else:
        result = train("lfc", method.quant, "mnist", 1, data_dir=data_dir, max_steps=steps,
                       progress=False)
    wall = time.perf_counter() - t0
    sim = simulate(get_network("lfc", result.model.quant), "edge")
    return {"method": method.label, "accuracy": 100 * result.accuracy, "steps": result.steps,
            "train_s": wall, "quant": sim.quant,
            "latency_us": sim.latency_s * 1e6, "energy_uj": sim.energy_pj * 1e-6,
            "tops_per_w": sim.tops_per_w or 0.0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--steps", type=int, default=600, help="optimiser steps per method")
    parser.add_argument("--only", nargs="+", metavar="LABEL")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    from reference.methods import METHODS

    rows = []
    for method in METHODS.values():
        if args.only and method.label not in args.only:
            continue
        row = run(method, steps=args.steps, data_dir=args.data_dir)
        row["paper"] = method.paper
        rows.append(row)
        print(f"{method.label}: {row['accuracy']:.2f} % in {row['train_s']:.0f} s",
              file=sys.stderr)
    print("| method | paper | workload | test accuracy | latency on edge | energy on edge | "
          "TOPS/W | training |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['method']} | {r['paper']} | {r['quant']} | {r['accuracy']:.2f} % | "
              f"{r['latency_us']:.1f} µs | {r['energy_uj']:.2f} µJ | {r['tops_per_w']:.2f} | "
              f"{r['train_s']:.0f} s |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
