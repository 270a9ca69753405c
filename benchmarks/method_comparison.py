"""Every quantisation method of the reference on one network and one training budget, with
the simulator's latency and energy for the same quantisation: the accuracy-versus-cost table
of docs/accuracy.md ("Methods side by side").

Each method is a quantisation of LFC's body (layers 2–4; 8-bit pixels into the first layer,
as FINN), trained on MNIST with the same recipe (Adam, cosine, batch 100, seed 0) for
``--steps`` optimiser steps, then simulated on ``edge`` (analytical engine) as the workload of
that quantisation.

    python benchmarks/method_comparison.py [--data-dir ../shared/data] [--steps 600]
        [--only pact inq …] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any


def _spec(w: dict[str, Any], a: dict[str, Any]) -> dict[str, Any]:
    return {"default": {"weights": w, "activations": a}}


BIN = {"kind": "binary", "quantizer": "sign"}
A2 = {"kind": "int", "bits": 2, "quantizer": "dorefa_act"}

#: (label, paper, quantisation of the body)
METHODS: tuple[tuple[str, str, Any], ...] = (
    ("bnn", "BNN (Courbariaux et al. 2016)", _spec(BIN, BIN)),
    ("bnn+", "BNN+ SignSwish (Darabi et al. 2018)",
     _spec({"kind": "binary", "quantizer": "signswish"},
           {"kind": "binary", "quantizer": "signswish"})),
    ("bireal", "Bi-Real approx-sign, magnitude-aware weights (Liu et al. 2018)",
     _spec({"kind": "binary", "quantizer": "bireal_weight"},
           {"kind": "binary", "quantizer": "approx_sign"})),
    ("xnor", "XNOR-Net (Rastegari et al. 2016)",
     _spec({"kind": "binary", "quantizer": "xnor_weight"},
           {"kind": "binary", "quantizer": "xnor_act"})),
    ("dorefa-w1a2", "DoReFa (Zhou et al. 2016)", _spec(BIN, A2)),
    ("hwgq-w1a2", "HWGQ (Cai et al. 2017)",
     _spec({"kind": "binary", "quantizer": "xnor_weight"},
           {"kind": "int", "bits": 2, "quantizer": "hwgq"})),
    ("pact-w1a2", "PACT (Choi et al. 2018)",
     _spec(BIN, {"kind": "int", "bits": 2, "quantizer": "pact"})),
    ("twn-wta2", "TWN (Li et al. 2016)",
     _spec({"kind": "ternary", "quantizer": "twn"}, A2)),
    ("ttq-wta2", "TTQ (Zhu et al. 2017)",
     _spec({"kind": "ternary", "quantizer": "ttq"}, A2)),
    ("inq-w5a2", "INQ (Zhou et al. 2017)",
     _spec({"kind": "int", "bits": 5, "quantizer": "inq"}, A2)),
    ("dorefa-w2a2", "DoReFa (Zhou et al. 2016)",
     _spec({"kind": "int", "bits": 2, "quantizer": "dorefa_weight"}, A2)),
    ("abc-wb3ab2", "ABC-Net (Lin et al. 2017)", "wb3ab2"),
)


def run(label: str, spec: Any, *, steps: int, data_dir: str | None) -> dict[str, Any]:
    from reference.train import train
    from simulator import simulate
    from workloads import get_network

    t0 = time.perf_counter()
    result = train("lfc", spec, "mnist", 1, data_dir=data_dir, max_steps=steps,
                   progress=False)
    wall = time.perf_counter() - t0
    sim = simulate(get_network("lfc", result.model.quant), "edge")
    return {"method": label, "accuracy": 100 * result.accuracy, "steps": result.steps,
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
    rows = []
    for label, paper, spec in METHODS:
        if args.only and label not in args.only:
            continue
        row = run(label, spec, steps=args.steps, data_dir=args.data_dir)
        row["paper"] = paper
        rows.append(row)
        print(f"{label}: {row['accuracy']:.2f} % in {row['train_s']:.0f} s", file=sys.stderr)
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
