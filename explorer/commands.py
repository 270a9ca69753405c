"""The ``explore`` and ``pareto`` subcommands of the ``bnnsim`` CLI.

:func:`register` adds them to the CLI's subparsers; handlers import optuna only when they run.
Bad input (a space file, a flag, a storage that cannot be opened, a study made from another
space) raises :class:`~workloads.errors.ConfigError`: one line, exit 2.
"""

from __future__ import annotations

import argparse
import csv
import io
import multiprocessing
import time
from typing import Any

from workloads.errors import ConfigError
from workloads.files import Outputs
from workloads.flags import bounded

__all__ = ["register"]

MAX_TRIALS = 10_000_000
MAX_WORKERS = 256
MAX_GRID = 1_000_000


def _count(flag: str, low: int, high: int) -> Any:
    return bounded(flag, int, low, high)


_fraction = bounded("--tolerance", float, 0.0, 10.0)


def register(subparsers: Any) -> None:
    from explorer.defaults import DEFAULT_STORAGE, SAMPLERS

    p = subparsers.add_parser(
        "explore", help="search chips and bit-widths with Optuna against accuracy, latency, "
                        "energy and area",
        description="Run (or resume) a multi-objective study over a search space.")
    p.add_argument("--space", default=None,
                   help="search-space YAML (default: the packaged default space)")
    p.add_argument("--trials", type=_count("--trials", 1, MAX_TRIALS), required=True,
                   help="finished trials the study should have (a rerun adds the missing)")
    p.add_argument("--storage", default=None,
                   help=f"journal file path (default: {DEFAULT_STORAGE}) or an RDB URL, "
                        "e.g. postgresql://user:pass@host/db")
    p.add_argument("--study", default=None, help="study name (default: the space's name)")
    p.add_argument("--workers", type=_count("--workers", 1, MAX_WORKERS), default=1,
                   help="local worker processes sharing the study (default 1)")
    p.add_argument("--engine", choices=("analytical", "event"), default=None,
                   help="timing engine (default: the chip family's first, analytical)")
    p.add_argument("--sampler", choices=SAMPLERS, default="nsga2",
                   help="nsga2 (default), nsga3, tpe, gp, random, grid")
    p.add_argument("--seed", type=_count("--seed", 0, 2**32 - 1), default=None,
                   help="sampler seed (worker i uses seed + i)")
    p.add_argument("--refine", choices=("event", "none"), default="event",
                   help="re-simulate the Pareto set with the event engine and flag designs "
                        "whose timed metrics differ by more than --tolerance (default: event)")
    p.add_argument("--tolerance", type=_fraction, default=0.05,
                   help="relative difference that flags a design (default 0.05)")
    p.add_argument("--data-dir", default=None,
                   help="datasets for a space that trains for its accuracy "
                        "(default: $BNNSIM_DATA)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", default=None, metavar="FILE",
                   help="write the Pareto set as JSON ('-': stdout)")
    p.set_defaults(func=_explore)

    p = subparsers.add_parser(
        "sweep", help="evaluate the full grid of a search space into a study",
        description="Every combination of the space's choices and stepped ranges, once, in "
                    "batches (a rerun adds only the missing points).")
    p.add_argument("--space", default=None,
                   help="search-space YAML (default: the packaged default space)")
    p.add_argument("--storage", default=None,
                   help=f"journal file path (default: {DEFAULT_STORAGE}) or an RDB URL")
    p.add_argument("--study", default=None, help="study name (default: the space's name)")
    p.add_argument("--workers", type=_count("--workers", 1, MAX_WORKERS), default=1,
                   help="worker processes evaluating chunks of the grid (default 1)")
    p.add_argument("--engine", choices=("analytical", "event"), default=None)
    p.add_argument("--max-points", type=_count("--max-points", 1, MAX_TRIALS),
                   default=100_000, help="refuse a grid larger than this (default 100,000)")
    p.add_argument("--data-dir", default=None,
                   help="datasets for a space that trains for its accuracy")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", default=None, metavar="FILE",
                   help="write the Pareto set as JSON ('-': stdout)")
    p.set_defaults(func=_sweep)

    p = subparsers.add_parser("pareto", help="print the Pareto set of a study",
                              description="The admissible, non-dominated trials of a study.")
    p.add_argument("--storage", default=None,
                   help=f"journal file or RDB URL (default: {DEFAULT_STORAGE})")
    p.add_argument("--study", required=True, help="study name")
    p.add_argument("--csv", default=None, metavar="FILE", help="write the set as CSV")
    p.add_argument("--json", default=None, metavar="FILE",
                   help="write the set as JSON ('-': stdout)")
    p.set_defaults(func=_pareto)


def _guard_storage(storage: str, args: argparse.Namespace) -> None:
    """A journal is read and appended to: no output may be that file (it would replace the
    study), nor may it be the space file."""
    from pathlib import Path

    if getattr(args, "json", None) == "-" and getattr(args, "csv", None) == "-":
        raise ConfigError("--json already writes to standard output", key="--csv",
                          value="-", has_value=True)
    from explorer.study import storage_file

    local = storage_file(storage)
    if local is None:
        return  # a server's database: no local file to protect
    journal = local.resolve()
    for flag, value in (("--json", getattr(args, "json", None)),
                        ("--csv", getattr(args, "csv", None)),
                        ("--space", getattr(args, "space", None))):
        if value and value != "-" and Path(value).resolve() == journal:
            if flag == "--space":
                raise ConfigError("is the space file: a study's journal is a file of its own",
                                  key="--storage", value=storage, has_value=True)
            raise ConfigError("is the study's storage (--storage): writing it would destroy "
                              "the study — choose another name", key=flag, value=value,
                              has_value=True)


def _say(args: argparse.Namespace) -> Any:
    """print, or nothing when the JSON goes to standard output (it must stay parseable)."""
    return (lambda *a, **k: None) if getattr(args, "json", None) == "-" else print


def _space(path: str | None) -> Any:
    from importlib.resources import as_file, files

    from explorer.space import load_space

    if path is not None:
        return load_space(path)
    with as_file(files("explorer") / "spaces" / "default.yaml") as default:
        return load_space(default)


def _worker(space_path: str | None, kwargs: dict[str, Any]) -> None:
    from explorer.study import run_study

    run_study(_space(space_path), progress=False, **kwargs)


def _explore(args: argparse.Namespace, out: Outputs) -> int:
    import optuna

    from explorer.defaults import DEFAULT_STORAGE
    from explorer.study import pareto_trials, run_study

    storage = args.storage or DEFAULT_STORAGE
    _guard_storage(storage, args)
    out.inputs(args.space)
    out.declare("--json", None if args.json == "-" else args.json)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    say = _say(args)
    space = _space(args.space)
    trials = args.trials
    if args.sampler == "grid" and space.grid_size() > MAX_GRID:
        raise ConfigError(f"the grid has {space.grid_size():,} points; the grid sampler lists "
                          f"them all in memory (at most {MAX_GRID:,}) — use another sampler",
                          key="--sampler", value="grid", has_value=True)
    if args.sampler == "grid" and trials > space.grid_size():
        say(f"the grid has {space.grid_size():,} points: --trials {trials:,} → "
            f"{space.grid_size():,}")
        trials = space.grid_size()
    kwargs = {"trials": trials, "storage": storage, "study_name": args.study,
              "sampler": args.sampler, "engine": args.engine, "data_dir": args.data_dir}
    procs = []
    start = time.perf_counter()
    if args.workers > 1:
        # the study exists before the helpers start (no creation race among them)
        from explorer.study import make_sampler, open_storage, open_study

        open_study(space, open_storage(storage), args.study,
                   sampler=make_sampler(args.sampler, space, seed=args.seed),
                   engine=args.engine)
        ctx = multiprocessing.get_context("spawn")
        for i in range(1, args.workers):
            seed = None if args.seed is None else args.seed + i
            proc = ctx.Process(target=_worker, args=(args.space, {**kwargs, "seed": seed}),
                               daemon=True)
            proc.start()
            procs.append(proc)
    try:
        run = run_study(space, seed=args.seed, progress=not args.quiet and args.json != "-",
                    **kwargs)
    finally:
        for proc in procs:
            proc.join()
    seconds = time.perf_counter() - start
    bad = [p.exitcode for p in procs if p.exitcode]
    if bad:
        raise ConfigError(f"{len(bad)} worker process(es) failed (exit codes "
                          f"{', '.join(map(str, bad))}); the study keeps every finished trial "
                          "— rerun to resume", key="--workers", value=args.workers,
                          has_value=True)
    from explorer.study import _redact

    study = run.study
    front = pareto_trials(study, space)
    n = len(study.trials)
    say(f"study '{study.study_name}' ({_redact(storage)}): {n} trials, {run.ran} run here in "
        f"{seconds:.1f} s ({run.ran / seconds if seconds else 0:.1f} trials/s)"
        f"{f' by {args.workers} workers' if args.workers > 1 else ''}")
    _print_front(front, space.objectives, say)
    records: list[dict[str, Any]] | None = None
    if args.refine != "none" and args.engine != args.refine and front:
        from explorer.study import refine

        records = refine(study, space, engine=args.refine, tolerance=args.tolerance,
                         data_dir=args.data_dir)
        flagged = [r for r in records if r["flagged"]]
        worst = max((abs(d) for r in records for d in r["differences"].values()), default=0.0)
        say(f"refined the {len(records)} Pareto designs with the {args.refine} engine: "
            f"{len(flagged)} differ by more than {100 * args.tolerance:g} % (largest "
            f"difference {100 * worst:.1f} %)"
            + (f"; flagged trials {', '.join(str(r['trial']) for r in flagged)}"
               if flagged else ""))
    if args.json:
        _write_json(out, args.json, study.study_name, front, study, records)
    return 0


def _sweep(args: argparse.Namespace, out: Outputs) -> int:
    from explorer.defaults import DEFAULT_STORAGE
    from explorer.study import pareto_trials

    storage = args.storage or DEFAULT_STORAGE
    _guard_storage(storage, args)
    out.inputs(args.space)
    out.declare("--json", None if args.json == "-" else args.json)
    say = _say(args)
    space = _space(args.space)
    size = space.grid_size()
    if size > args.max_points:
        raise ConfigError(f"the grid has {size:,} points, more than --max-points "
                          f"{args.max_points:,}; narrow the space or use bnnsim explore",
                          key="--space", value=args.space or "default", has_value=True)
    from explorer.study import _redact
    from explorer.sweep import sweep

    run = sweep(space, storage=storage, study_name=args.study, engine=args.engine,
                workers=args.workers, data_dir=args.data_dir,
                progress=not args.quiet and args.json != "-")
    study = run.study
    rate = run.evaluated / run.seconds if run.seconds else 0.0
    say(f"study '{study.study_name}' ({_redact(storage)}): grid of {size:,} points, "
        f"{run.evaluated:,} evaluated in {run.seconds:.1f} s ({rate:.0f} points/s), "
        f"{run.skipped:,} already there")
    front = pareto_trials(study, space)
    _print_front(front, space.objectives, say)
    if args.json:
        _write_json(out, args.json, study.study_name, front, study)
    return 0


def _pareto(args: argparse.Namespace, out: Outputs) -> int:
    from explorer.defaults import DEFAULT_STORAGE
    from explorer.study import _objectives, load_existing_study, pareto_trials

    storage = args.storage or DEFAULT_STORAGE
    _guard_storage(storage, args)
    out.declare("--csv", args.csv)
    out.declare("--json", None if args.json == "-" else args.json)
    say = _say(args)
    study = load_existing_study(storage, args.study)
    objectives = _objectives(study, None)
    front = pareto_trials(study)
    say(f"study '{study.study_name}': {len(study.trials)} trials, {len(front)} on the "
        "Pareto front")
    _print_front(front, objectives, say)
    if args.csv:
        rows = _rows(front)
        header = list(rows[0]) if rows else ["trial"]
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=header)
        w.writeheader()
        w.writerows(rows)
        out.stage_text("--csv", buf.getvalue())
    if args.json:
        _write_json(out, args.json, study.study_name, front, study)
    return 0


def _rows(front: list[Any]) -> list[dict[str, Any]]:
    rows = []
    for t in front:
        row: dict[str, Any] = {"trial": t.number}
        row.update(t.user_attrs["point"])
        row.update(t.user_attrs["metrics"])
        rows.append(row)
    return rows


def _print_front(front: list[Any], objectives: tuple[tuple[str, str], ...],
                 print: Any = print) -> None:
    from explorer.space import METRICS

    if not front:
        print("no admissible design yet (every trial infeasible or outside the constraints)")
        return
    params = list(front[0].user_attrs["point"])
    metric_names = [m for m, _ in objectives]
    others = [m for m in ("area", "latency", "energy") if m not in metric_names]
    cols = metric_names + others
    header = ["trial", *params, *(f"{m} {METRICS[m][0]}" for m in cols)]
    lines = [header]
    for t in sorted(front, key=lambda t: t.user_attrs["metrics"][cols[0]]):
        point, m = t.user_attrs["point"], t.user_attrs["metrics"]
        lines.append([str(t.number), *(_short(point[p]) for p in params),
                      *(f"{m[c]:.4g}" for c in cols)])
    widths = [max(len(r[i]) for r in lines) for i in range(len(header))]
    print(f"Pareto set ({len(front)}; {', '.join(f'{m} {d}' for m, d in objectives)}):")
    for j, r in enumerate(lines):
        print("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)))
        if j == 0:
            print("  ".join("-" * w for w in widths))


def _short(value: Any) -> str:
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return {"output_stationary": "OS", "weight_stationary": "WS",
            "input_stationary": "IS"}.get(text, text)


def _write_json(out: Outputs, target: str, name: str, front: list[Any],
                study: Any = None, records: list[dict[str, Any]] | None = None) -> None:
    refined = {} if study is None else {
        int(k.rsplit(":", 1)[1]): v for k, v in study.user_attrs.items()
        if k.startswith("refined:")}
    refined.update({r["trial"]: r for r in records or ()})  # this run's verdicts
    payload = {"study": name, "pareto": [
        {"trial": t.number, **{k: t.user_attrs[k] for k in ("point", "metrics", "chip",
                                                           "totals")},
         **({"refined": refined[t.number]} if t.number in refined else {})} for t in front]}
    if target == "-":
        from workloads.files import strict_json

        print(strict_json(payload))
    else:
        out.stage_json("--json", payload)
