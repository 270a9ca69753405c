"""Design points per second of the explorer, and where the time goes.

For one network (default bnn-cifar10) on one core, a new chip every point (the default
space's chip parameters), accuracy from a table:

* ``evaluate``: the simulator alone (Evaluator calls, no Optuna);
* ``in-memory``: an Optuna study in memory (the sampler's and the trial bookkeeping's cost);
* ``journal``: the default storage, a journal file;
* ``postgresql``: with ``--postgres URL``, a PostgreSQL study.

    python benchmarks/explore_speed.py [--network bnn-cifar10] [--points 200]
        [--engine analytical] [--postgres postgresql://…]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from importlib.resources import as_file, files
from pathlib import Path

import yaml


def _space(folder: Path, network: str) -> Path:
    with as_file(files("explorer") / "spaces" / "default.yaml") as default:
        data = yaml.safe_load(Path(default).read_text())
    data["network"] = network
    data["name"] = f"speed-{network}"
    data.pop("constraints", None)
    path = folder / "space.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--network", default="bnn-cifar10")
    parser.add_argument("--points", type=int, default=200)
    parser.add_argument("--engine", default="analytical")
    parser.add_argument("--postgres", default=None, help="a PostgreSQL URL to time as well")
    args = parser.parse_args(argv)
    os.environ["BNNSIM_NO_PROGRESS"] = "1"

    import optuna

    from explorer.evaluate import Evaluator
    from explorer.space import load_space
    from explorer.study import _suggest, run_study

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        space = load_space(_space(Path(tmp), args.network))
        # the simulator alone, on the points a random sampler picks
        sampler = optuna.samplers.RandomSampler(seed=0)
        study = optuna.create_study(directions=["minimize"] * len(space.objectives),
                                    sampler=sampler)
        points = []
        for _ in range(args.points):
            trial = study.ask()
            points.append(_suggest(trial, space))
        evaluate = Evaluator(space, engine=args.engine)
        t0 = time.perf_counter()
        feasible = sum(evaluate(p).feasible for p in points)
        rows.append(("evaluate (simulator only)", args.points, time.perf_counter() - t0))
        if args.engine != "event":  # the second opinion's rate, on the first 50 points
            n = min(50, len(points))
            event = Evaluator(space, engine="event")
            t0 = time.perf_counter()
            for p in points[:n]:
                event(p)
            rows.append(("evaluate, event engine", n, time.perf_counter() - t0))
        # (other seeds: other chips, so the mapping cache starts cold as it did above)
        for seed, (label, storage) in enumerate((("journal file", str(Path(tmp) / "s.journal")),
                                                 ("postgresql", args.postgres)), start=1):
            if storage is None:
                continue
            name = f"speed-{os.getpid()}-{label.split()[0]}"
            t0 = time.perf_counter()
            run = run_study(space, trials=args.points, storage=storage, study_name=name,
                            sampler="random", seed=seed, engine=args.engine,
                            progress=False)
            rows.append((f"explore, {label}", run.ran, time.perf_counter() - t0))
    print(f"{args.network}, {args.engine} engine, a new chip every point, one core "
          f"({feasible} of {args.points} points feasible)")
    print(f"{'what':32s} {'points':>7s} {'seconds':>8s} {'points/s':>9s} {'ms/point':>9s}")
    for label, n, secs in rows:
        print(f"{label:32s} {n:7d} {secs:8.2f} {n / secs:9.1f} {1e3 * secs / n:9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
