"""The full grid of a space, evaluated in batches and stored as a study.

A sweep visits every combination of the space's choices and stepped ranges once — the table
of a paper, a small space's ground truth — without a sampler's per-trial bookkeeping: points
are evaluated in chunks (in worker processes with ``workers`` > 1), and each chunk's trials
are added to the study at once, in the same form :mod:`explorer.study` gives its trials, so
``bnnsim pareto`` and reports read a sweep like any study. A rerun evaluates only the points
the study does not have yet.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import TrialState

from explorer.evaluate import Evaluation, Evaluator
from explorer.space import Space
from explorer.study import (
    _accuracy_source,
    distributions,
    make_sampler,
    open_storage,
    open_study,
    trial_record,
)

__all__ = ["SweepRun", "grid_points", "sweep"]

CHUNK = 64


@dataclass
class SweepRun:
    study: optuna.Study
    evaluated: int  # points this call evaluated
    skipped: int  # points the study had already
    seconds: float


def grid_points(space: Space, *, reuse: bool = False) -> Iterator[dict[str, Any]]:
    """Every point of the space's grid. ``reuse``: in the order the chip family names
    (``Family.reuse_order``: the quantisation and what changes the simulator's kept work
    slowest, the buffers fastest), so consecutive points share the most of it."""
    axes: list[tuple[str, Sequence[Any]]] = [(p.path, p.grid()) for p in space.parameters]
    quants: list[tuple[str, Sequence[Any]]] = list(space.quant_choices())
    if reuse:
        from simulator.api import get_family, load_chip

        order = get_family(load_chip(space.chip).family).reuse_order([n for n, _ in axes])
        axes = quants + sorted(axes, key=lambda axis: order.index(axis[0]))
    else:
        axes = axes + quants
    names = [name for name, _ in axes]
    for values in itertools.product(*(values for _, values in axes)):
        yield dict(zip(names, values, strict=True))


def _key(point: dict[str, Any]) -> str:
    return json.dumps(point, sort_keys=True, default=str)


# -- worker processes: one evaluator each, built once
_EVALUATE: Evaluator | None = None


def _init(space: Space, engine: str | None, storage: str | None,
          data_dir: str | None) -> None:
    global _EVALUATE
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    accuracy = _accuracy_source(space, open_storage(storage), data_dir)
    _EVALUATE = Evaluator(space, engine=engine, accuracy=accuracy)


def _evaluate_chunk(points: list[dict[str, Any]]) -> list[Evaluation]:
    assert _EVALUATE is not None
    return [_EVALUATE(p) for p in points]


def sweep(space: Space, *, storage: str | None = None, study_name: str | None = None,
          engine: str | None = None, workers: int = 1, data_dir: str | None = None,
          progress: bool = True) -> SweepRun:
    """Evaluate every grid point of ``space`` not yet in its study and store them."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    store = open_storage(storage)
    study = open_study(space, store, study_name, sampler=make_sampler("grid", space, seed=0),
                       engine=engine)
    have = {_key(t.user_attrs["point"]) for t in study.get_trials(
        deepcopy=False, states=(TrialState.COMPLETE,)) if "point" in t.user_attrs}
    todo = [p for p in grid_points(space, reuse=True) if _key(p) not in have]
    dists = distributions(space)
    start = time.perf_counter()
    bar = None
    if progress and todo and os.environ.get("BNNSIM_NO_PROGRESS") != "1":
        from tqdm import tqdm

        bar = tqdm(total=len(todo), unit="point", dynamic_ncols=True)
    chunks = [todo[i:i + CHUNK] for i in range(0, len(todo), CHUNK)]

    def store_chunk(evals: list[Evaluation]) -> None:
        trials = []
        for ev in evals:
            values, attrs, constraints = trial_record(space, ev)
            trials.append(optuna.trial.create_trial(
                values=values, params=dict(ev.point), distributions=dists, user_attrs=attrs,
                constraints=constraints))
        study.add_trials(trials)
        if bar is not None:
            bar.update(len(evals))

    try:
        if workers > 1 and len(chunks) > 1:
            import multiprocessing

            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init,
                                     initargs=(space, engine, storage, data_dir)) as pool:
                for evals in pool.map(_evaluate_chunk, chunks):
                    store_chunk(evals)
        else:
            _init(space, engine, storage, data_dir)
            for chunk in chunks:
                store_chunk(_evaluate_chunk(chunk))
    finally:
        if bar is not None:
            bar.close()
    return SweepRun(study, len(todo), sum(1 for _ in grid_points(space)) - len(todo),
                    time.perf_counter() - start)
