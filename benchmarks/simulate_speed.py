"""Wall time per zoo network for both engines, their ratio, and peak memory.

Each network runs in a fresh Python process (so peak RSS and the "cold" mapping search are
honest): ``cold`` is the first analytical run, including the mapper's search; ``warm`` the
median of repeated runs with the mapping cache filled; ``event`` the median of event-engine
runs (mapping cached, as in a sweep). Targets (one core): event < 1 s for bnn-cifar10 and
< 5 s for resnet18, analytical < 10 ms per network, peak memory < 500 MB.

    python benchmarks/simulate_speed.py [--chip edge] [--repeat 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time


def one(network: str, chip_name: str, repeat: int) -> dict:
    from simulator import load_chip, simulate
    from workloads import get_network

    chip = load_chip(chip_name)
    net = get_network(network)
    t0 = time.perf_counter()
    ana = simulate(net, chip, engine="analytical")
    cold = time.perf_counter() - t0
    warm = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        simulate(net, chip, engine="analytical")
        warm.append(time.perf_counter() - t0)
    event = []
    for _ in range(max(1, repeat // 2)):
        t0 = time.perf_counter()
        ev = simulate(net, chip, engine="event")
        event.append(time.perf_counter() - t0)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "network": network, "layers": len(net),
        "tiles": sum(x.details.mapping.tiles for x in ana.layers),
        "analytical_cold_s": cold, "analytical_warm_s": statistics.median(warm),
        "event_s": statistics.median(event), "peak_rss_mb": rss_mb,
        "cycles_analytical": ana.latency_cycles, "cycles_event": ev.latency_cycles,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chip", default="edge")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", help="write the measurements as JSON")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.chip, args.repeat)))
        return 0

    from workloads import zoo_names

    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    rows = []
    for name in zoo_names():
        proc = subprocess.run([sys.executable, __file__, "--one", name, "--chip", args.chip,
                               "--repeat", str(args.repeat)], capture_output=True, text=True,
                              env=env, check=True)
        rows.append(json.loads(proc.stdout))
    head = (f"{'network':12s} {'layers':>6s} {'tiles':>6s} {'ana cold ms':>11s} "
            f"{'ana warm ms':>11s} {'event s':>8s} {'event/ana':>9s} {'cyc ev/ana':>10s} "
            f"{'peak MB':>8s}")
    print(f"chip {args.chip}, one process per network, single-threaded\n{head}")
    print("-" * len(head))
    for r in rows:
        print(f"{r['network']:12s} {r['layers']:6d} {r['tiles']:6d} "
              f"{r['analytical_cold_s'] * 1e3:11.1f} {r['analytical_warm_s'] * 1e3:11.2f} "
              f"{r['event_s']:8.3f} {r['event_s'] / r['analytical_warm_s']:9.0f} "
              f"{r['cycles_event'] / r['cycles_analytical']:10.4f} {r['peak_rss_mb']:8.0f}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(rows, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
