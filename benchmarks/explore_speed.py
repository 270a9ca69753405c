"""Design points per second of the explorer, and where the time goes.

For one network (default bnn-cifar10) on one core, a new chip every point (the default
space's chip parameters), accuracy from a table:

* ``evaluate``: the simulator alone (Evaluator calls, no Optuna), and the share of it the
  mapping search takes;
* ``bookkeeping``: a study that records the same attributes as a real trial but evaluates
  nothing, in memory and in a journal file (the sampler's and the storage's cost per trial);
* ``explore``: a real study in the default storage, a journal file, and with
  ``--postgres URL`` in PostgreSQL;
* ``sweep``: ``bnnsim sweep``'s full grid of the space with only ``--sweep-side`` values of
  the array's rows and of its columns, into a journal file.

    python benchmarks/explore_speed.py [--network bnn-cifar10] [--points 200]
        [--engine analytical] [--postgres postgresql://…] [--sweep-side 2]
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


def _space(folder: Path, network: str, *, side: int | None = None) -> Path:
    """The default space for ``network``; ``side``: only the first ``side`` values of the
    array's rows and columns (a smaller grid, for the sweep)."""
    with as_file(files("explorer") / "spaces" / "default.yaml") as default:
        data = yaml.safe_load(Path(default).read_text())
    data["network"] = network
    data["name"] = f"speed-{network}" + (f"-{side}" if side else "")
    data.pop("constraints", None)
    if side:
        for key in ("pe_array.rows", "pe_array.cols"):
            r = data["parameters"][key]
            r["high"] = r["low"] + (side - 1) * r["step"]
    path = folder / f"space{side or ''}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


_SEARCH: list[float] = [0.0]


def _time_mapping_search(*, stop: bool = False) -> list[float]:
    """Add the mapping search's time to ``_SEARCH[0]`` while the evaluations run."""
    from simulator.overlay.mapping import search

    if stop:
        search._choose = search._choose.__wrapped__  # type: ignore[attr-defined]
        return _SEARCH
    inner = search._choose

    def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            _SEARCH[0] += time.perf_counter() - t0

    timed.__wrapped__ = inner  # type: ignore[attr-defined]
    search._choose = timed
    return _SEARCH


def _bookkeeping(space, evals, storage, name) -> float:  # type: ignore[no-untyped-def]
    """Seconds a study takes to record ``evals`` as trials, evaluating nothing."""
    import optuna

    from explorer.study import (
        _record,
        _suggest,
        _together,
        make_sampler,
        open_storage,
        open_study,
    )

    store = optuna.storages.InMemoryStorage() if storage is None else open_storage(storage)
    study = open_study(space, store, name, sampler=make_sampler("random", space, seed=0),
                       engine="analytical")
    it = iter(evals)

    def objective(trial):  # type: ignore[no-untyped-def]
        with _together(store):
            trial.set_user_attr("worker", {"host": "bench", "pid": os.getpid()})
            _suggest(trial, space)
        return _record(trial, space, next(it))

    t0 = time.perf_counter()
    study.optimize(objective, n_trials=len(evals))
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--network", default="bnn-cifar10")
    parser.add_argument("--points", type=int, default=200)
    parser.add_argument("--engine", default="analytical")
    parser.add_argument("--postgres", default=None, help="a PostgreSQL URL to time as well")
    parser.add_argument("--sweep-side", type=int, default=2,
                        help="sweep the grid with this many row and column values (0: none)")
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
        searching = _time_mapping_search()
        t0 = time.perf_counter()
        evals = [evaluate(p) for p in points]
        rows.append(("evaluate (simulator only)", args.points, time.perf_counter() - t0))
        rows.append(("  of which the mapping search", args.points, searching[0]))
        _time_mapping_search(stop=True)
        feasible = sum(ev.feasible for ev in evals)
        for label, storage_ in (("bookkeeping, in memory", None),
                                ("bookkeeping, journal file", str(Path(tmp) / "b.journal"))):
            rows.append((label, args.points,
                         _bookkeeping(space, evals, storage_, f"book-{os.getpid()}")))
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
        if args.sweep_side:  # the full grid of a smaller space, into a journal
            from explorer.sweep import sweep

            small = load_space(_space(Path(tmp), args.network, side=args.sweep_side))
            run_ = sweep(small, storage=str(Path(tmp) / "w.journal"), engine=args.engine,
                         progress=False)
            rows.append(("sweep, journal file", run_.evaluated, run_.seconds))
    print(f"{args.network}, {args.engine} engine, a new chip every point, one core "
          f"({feasible} of {args.points} points feasible)")
    print(f"{'what':32s} {'points':>7s} {'seconds':>8s} {'points/s':>9s} {'ms/point':>9s}")
    for label, n, secs in rows:
        print(f"{label:32s} {n:7d} {secs:8.2f} {n / secs:9.1f} {1e3 * secs / n:9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
