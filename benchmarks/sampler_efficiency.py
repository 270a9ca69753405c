"""Sample efficiency of the samplers on the packaged default space: hypervolume after 100
and 300 trials for NSGA-II, TPE and GP against random search, over five seeds.

The hypervolume is over the admissible designs' (accuracy, energy, latency), each objective
scaled to [0, 1] by the best and worst values the full grid reaches (so every run is measured
in the same box; 1 would be a single design best in all three at once).

    python benchmarks/sampler_efficiency.py [--seeds 5] [--trials 100 300] [--samplers ...]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import time
from importlib.resources import as_file, files
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0,
                        help="seeds first-seed … first-seed + seeds − 1 (to add seeds later)")
    parser.add_argument("--trials", type=int, nargs="+", default=[100, 300])
    parser.add_argument("--samplers", nargs="+", default=["random", "nsga2", "tpe", "gp"])
    args = parser.parse_args(argv)
    os.environ["BNNSIM_NO_PROGRESS"] = "1"

    from explorer.evaluate import QUANT, Evaluator, pareto_front
    from explorer.space import load_space
    from explorer.study import _admissible, hypervolume, run_study

    with as_file(files("explorer") / "spaces" / "default.yaml") as path:
        space = load_space(path)
    # the box: the best and worst admissible value of each objective over the whole grid
    evaluate = Evaluator(space)
    names = [p.path for p in space.parameters]
    lows = [float("inf")] * len(space.objectives)
    highs = [float("-inf")] * len(space.objectives)
    t0 = time.perf_counter()
    grid = list(itertools.product(*(p.grid() for p in space.parameters), space.quants))
    every = []
    for values in grid:
        ev = evaluate(dict(zip([*names, QUANT], values, strict=True)))
        if ev.admissible(space):
            every.append([ev.metrics[m] for m, _ in space.objectives])
            for i, (m, _) in enumerate(space.objectives):
                lows[i] = min(lows[i], ev.metrics[m])
                highs[i] = max(highs[i], ev.metrics[m])
    grid_s = time.perf_counter() - t0
    front = pareto_front(list(enumerate(
        dict(zip([m for m, _ in space.objectives], row, strict=True)) for row in every)),
        space.objectives)
    best = hypervolume([every[i] for i in front], space.objectives, (lows, highs))
    print(f"default space: {len(grid)} grid points evaluated in {grid_s:.0f} s; box "
          + ", ".join(f"{m} [{lo:.4g}, {hi:.4g}]" for (m, _), lo, hi
                      in zip(space.objectives, lows, highs, strict=True))
          + f"; the grid's own Pareto set ({len(front)} designs) has hypervolume {best:.4f}")
    table: dict[str, dict[int, list[float]]] = {}
    times: dict[str, list[float]] = {}
    last = max(args.trials)
    with tempfile.TemporaryDirectory() as tmp:
        for sampler in args.samplers:
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                store = str(Path(tmp) / f"{sampler}-{seed}.journal")
                t0 = time.perf_counter()
                study = run_study(space, trials=last, storage=store, sampler=sampler,
                                  seed=seed, progress=False).study
                times.setdefault(sampler, []).append(time.perf_counter() - t0)
                ok = _admissible(study)
                for n in args.trials:
                    first = [t for t in ok if t.number < n]
                    points = [[t.user_attrs["metrics"][m] for m, _ in space.objectives]
                              for t in first]
                    hv = hypervolume(points, space.objectives, (lows, highs))
                    table.setdefault(sampler, {}).setdefault(n, []).append(hv)
                print(f"  {sampler} seed {seed}: " + ", ".join(
                    f"{n}: {table[sampler][n][-1]:.4f}" for n in args.trials), flush=True)
    print()
    header = "| sampler | " + " | ".join(f"hypervolume after {n}" for n in args.trials)
    print(header + " | seconds per run |")
    print("|---|" + "---|" * len(args.trials) + "---|")
    for sampler in args.samplers:
        cells = []
        for n in args.trials:
            vals = table[sampler][n]
            cells.append(f"{statistics.mean(vals):.4f} ± {statistics.stdev(vals):.4f}"
                         if len(vals) > 1 else f"{vals[0]:.4f}")
        print(f"| {sampler} | " + " | ".join(cells)
              + f" | {statistics.mean(times[sampler]):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
