"""Optuna studies over a space: storage, samplers, trials, the Pareto set.

Storage: a local journal file by default (``bnnsim-studies.journal``; Optuna's file journal,
safe for several local processes through its file lock, flushed to disk once per trial:
:mod:`explorer.journal`), or an RDB URL
(``postgresql://…``, ``sqlite:///…``) that processes on many machines share. A study is
created once — a second worker that loses the creation race loads it — and keeps its space's
digest: the same name with another space is refused.

Each trial stores everything reports need as user attributes: ``point`` (parameters and
quantisation), ``chip`` (the chip's validated settings), ``metrics``, ``totals`` (the
simulator's network totals), ``feasible`` and ``reason``, and ``constraints`` (one value per
constraint and one for feasibility, ≤ 0 satisfied; also set with ``Trial.set_constraint``,
which the constraint-aware samplers read). A design that cannot run is a trial like any
other, infeasible, with its reason — not a failure — and its objectives at their worst (±inf).
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
import warnings
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from explorer.defaults import DEFAULT_STORAGE, SAMPLERS
from explorer.evaluate import Evaluation, Evaluator, pareto_front
from explorer.space import Space, TrainSpec
from workloads.errors import ConfigError

__all__ = ["DEFAULT_STORAGE", "SAMPLERS", "StudyRecords", "StudyRun", "hypervolume",
           "load_existing_study", "make_sampler", "open_storage", "open_study",
           "pareto_trials", "refine", "run_study", "storage_file", "study_records"]

#: RDB storages: a running trial beats every HEARTBEAT_S; one silent for GRACE_S (its worker
#: killed) is failed and retried by the next worker that starts or asks for a trial
HEARTBEAT_S = 5
GRACE_S = 20
_RDB_SCHEMES = ("postgresql", "postgres", "sqlite", "mysql")


def open_storage(url: str | None) -> optuna.storages.BaseStorage:
    """The storage ``url`` names: an RDB URL, or a journal file path (the default). An RDB
    server that cannot be reached is one line within seconds, not a hang."""
    from optuna.storages import JournalStorage, RDBStorage

    from explorer.journal import CommitSyncedJournal

    text = url or DEFAULT_STORAGE
    scheme = text.split(":", 1)[0].split("+", 1)[0].lower() if "://" in text else ""
    if scheme in _RDB_SCHEMES:
        kwargs: dict[str, Any] = {}
        url_ = text
        if scheme in ("postgresql", "postgres"):
            kwargs = {"connect_args": {"connect_timeout": 5}}
            head, rest = text.split("://", 1)
            if "+" not in head:  # SQLAlchemy 2.1 would look for psycopg 3; we ship psycopg2
                url_ = f"postgresql+psycopg2://{rest}"
        for attempt in range(5):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    return RDBStorage(
                        url_, engine_kwargs=kwargs, heartbeat_interval=HEARTBEAT_S,
                        grace_period=GRACE_S,
                        heartbeat_stale_trial_callback=(
                            optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3)))
            except Exception as err:  # sqlalchemy / driver errors: one line
                text_ = str(err).strip()
                # two workers creating the schema of a new database at once: the loser
                # retries and finds the tables made
                racing = "already exists" in text_ or "UniqueViolation" in text_
                if racing and attempt < 4:
                    time.sleep(0.2 + 0.3 * attempt)
                    continue
                reason = text_.splitlines()[0] if text_ else type(err).__name__
                raise ConfigError(f"cannot open the storage: {reason[:300]}",
                                  key="--storage", value=_redact(text), has_value=True
                                  ) from None
        raise AssertionError("unreachable")
    if scheme:
        raise ConfigError(f"unknown storage URL scheme; use a journal file path or one of "
                          f"{', '.join(_RDB_SCHEMES)}://…", key="--storage",
                          value=_redact(text), has_value=True)
    path = Path(text)
    if path.is_dir():
        raise ConfigError("is a directory; a journal storage is a file", key="--storage",
                          value=text, has_value=True)
    if not path.parent.exists() and str(path.parent) not in ("", "."):
        raise ConfigError("its folder does not exist", key="--storage", value=text,
                          has_value=True)
    if path.is_file() and path.stat().st_size:
        with path.open("rb") as f:
            first = f.read(1)
        if first != b"{":
            raise ConfigError("exists and is not an Optuna journal; a study's journal is a "
                              "file of its own", key="--storage", value=text, has_value=True)
    try:
        return JournalStorage(CommitSyncedJournal(str(path)))
    except (KeyError, TypeError):
        raise ConfigError("exists and is not an Optuna journal; a study's journal is a file "
                          "of its own", key="--storage", value=text, has_value=True) from None
    except (OSError, ValueError) as err:
        raise ConfigError(f"cannot open the journal: {err}", key="--storage", value=text,
                          has_value=True) from None


def storage_file(url: str | None) -> Path | None:
    """The local file a storage URL keeps its data in — the journal, or an SQLite database
    (any ``sqlite`` scheme and driver, query arguments aside) — or None (a server)."""
    text = url or DEFAULT_STORAGE
    if "://" not in text:
        return Path(text)
    scheme = text.split("://", 1)[0].split("+", 1)[0].lower()
    if scheme != "sqlite":
        return None
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        database = make_url(text).database
    except ArgumentError:  # a URL SQLAlchemy cannot parse (open_storage says so)
        database = text.split("://", 1)[1].lstrip("/").split("?", 1)[0]
    return Path(database) if database and database != ":memory:" else None


def _redact(url: str) -> str:
    """A URL without its password, for error lines."""
    if "://" in url and "@" in url:
        head, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        if ":" in creds:
            return f"{head}://{creds.split(':', 1)[0]}:***@{host}"
    return url


def make_sampler(name: str, space: Space, *, seed: int | None) -> optuna.samplers.BaseSampler:
    """The sampler by name — always explicit, as Optuna's default changed between versions.
    NSGA-II/III, TPE and GP read each trial's constraints (``Trial.set_constraint``); ``grid``
    walks the whole grid (choices, and ranges by their step) in a seeded order."""
    s = optuna.samplers
    if name == "nsga2":
        return s.NSGAIISampler(seed=seed)
    if name == "nsga3":
        with warnings.catch_warnings():  # (experimental in Optuna: stable enough here)
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return s.NSGAIIISampler(seed=seed)
    if name == "tpe":
        return s.TPESampler(seed=seed)
    if name == "gp":
        return s.GPSampler(seed=seed)
    if name == "random":
        return s.RandomSampler(seed=seed)
    if name == "grid":
        grid: dict[str, list[Any]] = {p.path: p.grid() for p in space.parameters}
        grid.update({name: list(choices) for name, choices in space.quant_choices()})
        return s.GridSampler(grid, seed=seed)
    raise ConfigError(f"unknown sampler; allowed: {', '.join(SAMPLERS)}", key="--sampler",
                      value=name, has_value=True)


RESERVED_PREFIX = "bnnsim-"


def open_study(space: Space, storage: optuna.storages.BaseStorage, name: str | None, *,
               sampler: optuna.samplers.BaseSampler, engine: str | None = None
               ) -> optuna.Study:
    """Create the study (or load it when it exists, also when another worker created it
    first) and check it was made from this space and timing engine."""
    study_name = name or space.name
    if study_name.startswith(RESERVED_PREFIX):
        raise ConfigError(f"study names starting with {RESERVED_PREFIX!r} are bnnsim's own "
                          "(accuracies, claims)", key="--study", value=study_name,
                          has_value=True)
    engine_name = engine or "analytical"
    directions: list[optuna.study.StudyDirection] = [
        optuna.study.StudyDirection.MINIMIZE if d == "min"
        else optuna.study.StudyDirection.MAXIMIZE for _, d in space.objectives]
    try:
        study = optuna.create_study(storage=storage, study_name=study_name, sampler=sampler,
                                    directions=directions)
        study.set_user_attr("space_digest", space.digest)
        study.set_user_attr("engine", engine_name)
        study.set_user_attr("space", {"source": space.source, "name": space.name,
                                      "network": space.network, "chip": space.chip,
                                      "objectives": [list(o) for o in space.objectives],
                                      "constraints": [c.describe() for c in space.constraints]})
        return study
    except optuna.exceptions.DuplicatedStudyError:
        pass
    study = optuna.load_study(storage=storage, study_name=study_name, sampler=sampler)
    for _ in range(50):  # the creator sets the digest just after creating the study
        digest = study.user_attrs.get("space_digest")
        if digest is not None:
            break
        time.sleep(0.1)
    if digest != space.digest:
        raise ConfigError(f"study '{study_name}' exists in this storage with another space "
                          f"(digest {digest}, this space {space.digest}); choose another "
                          "--study name or storage", key="--study", value=study_name,
                          has_value=True)
    if study.user_attrs.get("engine", engine_name) != engine_name:
        raise ConfigError(f"study '{study_name}' was made with the "
                          f"{study.user_attrs['engine']} engine; use --engine "
                          f"{study.user_attrs['engine']} or another --study name",
                          key="--engine", value=engine_name, has_value=True)
    if list(study.directions) != directions:
        raise ConfigError(f"study '{study_name}' has other objectives", key="--study",
                          value=study_name, has_value=True)
    return study


def _suggest(trial: optuna.Trial, space: Space) -> dict[str, Any]:
    from optuna.distributions import CategoricalDistribution, IntDistribution

    point: dict[str, Any] = {}
    for name, dist in distributions(space).items():
        if isinstance(dist, CategoricalDistribution):
            point[name] = trial.suggest_categorical(name, dist.choices)
        elif isinstance(dist, IntDistribution):
            point[name] = trial.suggest_int(name, dist.low, dist.high, step=dist.step,
                                            log=dist.log)
        else:
            point[name] = trial.suggest_float(name, dist.low, dist.high, step=dist.step,
                                              log=dist.log)
    return point


def trial_record(space: Space, ev: Evaluation) -> tuple[list[float], dict[str, Any],
                                                         dict[str, float]]:
    """(objective values, user attributes, constraints) of an evaluated point — what a trial
    of a study, or a point of a sweep, stores."""
    violations = ev.violations(space)
    attrs = {
        "point": ev.point, "feasible": ev.feasible, "reason": ev.reason,
        "metrics": ev.metrics, "chip": ev.chip,
        "totals": {k: v for k, v in ev.totals.items()
                   if not isinstance(v, float) or math.isfinite(v)},
        "constraints": violations,
    }
    names = [c.metric for c in space.constraints] + ["feasible"]
    constraints = dict(zip(names, violations, strict=True))
    if not ev.feasible:
        values = [math.inf if d == "min" else -math.inf for _, d in space.objectives]
    else:
        values = [ev.metrics[m] for m, _ in space.objectives]
    return values, attrs, constraints


def _record(trial: optuna.Trial, space: Space, ev: Evaluation) -> list[float]:
    values, attrs, constraints = trial_record(space, ev)
    with _together(trial.study._storage):
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        for key, value in constraints.items():
            trial.set_constraint(key, value)
    return values


def _together(storage: optuna.storages.BaseStorage) -> Any:
    """A journal file's block of records written as one append (``CommitSyncedJournal
    .together``); other storages write each as it comes."""
    from explorer.journal import CommitSyncedJournal

    backend = getattr(storage, "_backend", None)
    return backend.together() if isinstance(backend, CommitSyncedJournal) else nullcontext()


def distributions(space: Space) -> dict[str, Any]:
    """Optuna's distribution of each parameter (and ``quant``), as :func:`_suggest` draws."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    out: dict[str, Any] = {}
    for p in space.parameters:
        if p.kind == "choice":
            out[p.path] = CategoricalDistribution(list(p.choices))
        elif p.kind == "int":
            assert p.low is not None and p.high is not None
            out[p.path] = IntDistribution(int(p.low), int(p.high), step=int(p.step or 1),
                                          log=p.log)
        else:
            assert p.low is not None and p.high is not None
            out[p.path] = FloatDistribution(p.low, p.high, step=p.step, log=p.log)
    for name, choices in space.quant_choices():
        out[name] = CategoricalDistribution(list(choices))
    return out


@dataclass
class StudyRun:
    study: optuna.Study
    ran: int  # trials this call finished
    seconds: float


def finished(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))


def run_study(space: Space, *, trials: int, storage: str | None = None,
              study_name: str | None = None, sampler: str = "nsga2", seed: int | None = None,
              engine: str | None = None, progress: bool = True,
              data_dir: str | None = None) -> StudyRun:
    """Run ``space`` until its study has ``trials`` finished trials (a rerun resumes: it
    adds only the missing ones). A space that trains for its accuracy trains each
    quantisation once per storage (``explorer.accuracy``), with datasets from ``data_dir``
    (default ``$BNNSIM_DATA``)."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    store = open_storage(storage)
    smp = make_sampler(sampler, space, seed=seed)
    study = open_study(space, store, study_name, sampler=smp, engine=engine)
    evaluate = Evaluator(space, engine=engine, accuracy=_accuracy_source(space, store, data_dir))
    start = time.perf_counter()
    missing = max(trials - finished(study), 0)
    bar = _Progress(study, space, missing, enabled=progress)

    if isinstance(store, optuna.storages.JournalStorage):
        _retry_dead_local(study)
        study.set_user_attr(f"worker:{socket.gethostname()}:{os.getpid()}", time.time())

    def objective(trial: optuna.Trial) -> list[float]:
        with _together(study._storage):  # (on disk before the evaluation starts)
            trial.set_user_attr("worker", {"host": socket.gethostname(), "pid": os.getpid()})
            point = _suggest(trial, space)
        return _record(trial, space, evaluate(point))

    callbacks: list[Callable[[optuna.Study, FrozenTrial], None]] = [
        optuna.study.MaxTrialsCallback(trials, states=(TrialState.COMPLETE,)), bar.update]
    try:
        if missing:
            study.optimize(objective, n_trials=missing, callbacks=callbacks,
                           catch=())
    finally:
        bar.close()
    return StudyRun(study, bar.count, time.perf_counter() - start)


#: metrics the two engines may disagree on (accuracy and area do not depend on timing)
TIMED = ("latency", "energy", "fps", "edp")


def refine(study: optuna.Study, space: Space, *, engine: str = "event",
           tolerance: float = 0.05, data_dir: str | None = None) -> list[dict[str, Any]]:
    """Multi-fidelity: re-simulate the Pareto set with ``engine`` and keep both. Each design's
    second opinion goes into the study as user attribute ``refined:<engine>:<trial>`` —
    its metrics, totals, relative differences from the screening engine, and ``flagged``
    when a timed metric differs by more than ``tolerance``. A design already refined is not
    simulated again. Returns one record per Pareto design."""
    evaluate = Evaluator(space, engine=engine,
                         accuracy=_accuracy_source(space, study._storage, data_dir))
    out = []
    for t in pareto_trials(study, space):
        key = f"refined:{engine}:{t.number}"
        record = study.user_attrs.get(key)
        if record is None:
            ev = evaluate(t.user_attrs["point"])
            first = t.user_attrs["metrics"]
            diffs = ({m: (ev.metrics[m] - first[m]) / first[m] if first[m] else 0.0
                      for m in TIMED} if ev.feasible else {})
            record = {"trial": t.number, "engine": engine, "feasible": ev.feasible,
                      "reason": ev.reason, "metrics": ev.metrics,
                      "totals": {k: v for k, v in ev.totals.items()
                                 if not isinstance(v, float) or math.isfinite(v)},
                      "differences": diffs, "tolerance": tolerance,
                      "flagged": (not ev.feasible
                                  or any(abs(d) > tolerance for d in diffs.values()))}
            study.set_user_attr(key, record)
        else:  # simulated before: judge its differences by this call's tolerance
            record = {**record, "tolerance": tolerance,
                      "flagged": (not record["feasible"] or any(
                          abs(d) > tolerance for d in record["differences"].values()))}
        out.append(record)
    return out


def _accuracy_source(space: Space, store: optuna.storages.BaseStorage,
                     data_dir: str | None) -> Callable[[str], float] | None:
    """Training in the loop when the space asks for it (None: the space's table, if any)."""
    spec = space.accuracy
    if not isinstance(spec, TrainSpec):
        return None
    from explorer.accuracy import AccuracyStore, trained_accuracy

    results = AccuracyStore(store)
    network = space.network
    cache: dict[str, float] = {}

    def accuracy(quant: str) -> float:
        if quant not in cache:
            cache[quant] = trained_accuracy(results, spec, network, quant, data_dir=data_dir)
        return cache[quant]

    return accuracy


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return True  # unknown: leave it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _retry_dead_local(study: optuna.Study) -> list[int]:
    """The journal storage's stand-in for the RDB heartbeat: a trial still RUNNING whose
    worker was a process on this machine that no longer exists (killed) is failed and its
    point queued again. (The journal is a local file, so its workers are local processes.)
    Returns the numbers of the trials retried."""
    host = socket.gethostname()
    storage = study._storage
    retried = []
    # the workers that ran here (each registers before its first trial): a trial killed
    # before it recorded its worker belongs to one of them
    local = [int(k.rsplit(":", 1)[1]) for k in study.user_attrs
             if k.startswith(f"worker:{host}:")]
    any_local_alive = any(_alive(pid) for pid in local if pid != os.getpid())
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = t.user_attrs.get("worker")
        if worker is None:
            if any_local_alive or not local:
                continue
        elif worker.get("host") != host or _alive(worker.get("pid")):
            continue
        try:
            storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        except (RuntimeError, optuna.exceptions.UpdateFinishedTrialError):
            continue  # another worker got there first
        study.enqueue_trial(t.params, user_attrs={"retry_of": t.number})
        retried.append(t.number)
    return retried


def load_existing_study(storage: str | None, name: str) -> optuna.Study:
    """The study ``name`` in ``storage`` (default: the default journal), which must exist:
    a missing journal file or study is one line naming what is there."""
    text = storage or DEFAULT_STORAGE
    if "://" not in text and not Path(text).exists():
        raise ConfigError("no such journal file", key="--storage", value=text, has_value=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    store = open_storage(text)
    try:
        return optuna.load_study(study_name=name, storage=store, sampler=None)
    except KeyError:
        names = [s.study_name for s in optuna.get_all_study_summaries(store)
                 if not s.study_name.startswith(RESERVED_PREFIX)]
        raise ConfigError(f"no such study here; studies: {', '.join(names) or 'none'}",
                          key="--study", value=name, has_value=True) from None


@dataclass(frozen=True)
class StudyRecords:
    """A study as plain data, for reports (no Optuna types): its space as recorded, and one
    record per finished or failed trial."""

    name: str
    storage: str  # as given, any password shown as ***
    engine: str
    objectives: tuple[tuple[str, str], ...]
    space: dict[str, Any]  # source, name, network, chip, objectives, constraints
    trials: list[dict[str, Any]]  # see study_records
    refined: dict[int, dict[str, Any]]  # trial number → the second opinion (``refine``)


def study_records(study: optuna.Study, *, storage: str = "") -> StudyRecords:
    """``study`` as :class:`StudyRecords`. Each trial record: ``number``, ``state``
    (``COMPLETE``, ``FAIL``, …), ``point``, ``metrics``, ``feasible``, ``reason``,
    ``constraints``, ``chip``, ``totals``, ``admissible`` (feasible and every constraint
    met), ``pareto`` (on the Pareto set of :func:`pareto_trials`), ``values`` (the objectives
    as Optuna stored them), ``seconds`` (start to finish)."""
    objectives = _objectives(study, None)
    admissible = {t.number for t in _admissible(study)}
    front = {t.number for t in pareto_trials(study)}
    trials = []
    for t in study.get_trials(deepcopy=False):
        if t.state is TrialState.RUNNING or t.state is TrialState.WAITING:
            continue
        a = t.user_attrs
        seconds = ((t.datetime_complete - t.datetime_start).total_seconds()
                   if t.datetime_complete and t.datetime_start else None)
        trials.append({
            "number": t.number, "state": t.state.name, "point": a.get("point", t.params),
            "metrics": a.get("metrics", {}), "feasible": a.get("feasible", False),
            "reason": a.get("reason", "" if t.state is TrialState.COMPLETE else "failed"),
            "constraints": a.get("constraints", []), "chip": a.get("chip", {}),
            "totals": a.get("totals", {}), "admissible": t.number in admissible,
            "pareto": t.number in front, "values": t.values, "seconds": seconds,
        })
    refined = {int(k.rsplit(":", 1)[1]): v for k, v in study.user_attrs.items()
               if k.startswith("refined:") and k.rsplit(":", 1)[1].isdigit()}
    space = study.user_attrs.get("space")
    return StudyRecords(study.study_name, _redact(storage), str(study.user_attrs.get(
        "engine", "analytical")), objectives, space if isinstance(space, dict) else {},
        trials, refined)


def pareto_trials(study: optuna.Study, space: Space | None = None) -> list[FrozenTrial]:
    """The admissible trials (feasible, every constraint met) that no other admissible trial
    dominates, in trial order; a point sampled again (the same parameters and quantisation)
    appears once, as its first trial."""
    objectives = _objectives(study, space)
    seen: set[str] = set()
    items = []
    for t in _admissible(study):
        if any(not isinstance(t.user_attrs["metrics"].get(m), int | float)
               for m, _ in objectives):
            continue  # (not a trial of this space)
        key = json.dumps(t.user_attrs["point"], sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            items.append((t, t.user_attrs["metrics"]))
    return pareto_front(items, objectives)


def _objectives(study: optuna.Study, space: Space | None) -> tuple[tuple[str, str], ...]:
    if space is not None:
        return space.objectives
    from explorer.space import METRICS

    space_attr = study.user_attrs.get("space")
    saved = space_attr.get("objectives") if isinstance(space_attr, dict) else None
    ok = (isinstance(saved, list) and saved
          and all(isinstance(o, list) and len(o) == 2 and o[0] in METRICS
                  and o[1] in ("min", "max") for o in saved))
    if not ok or saved is None:
        raise ConfigError("this study was not made by bnnsim explore or sweep (no space "
                          "recorded)", key="--study", value=study.study_name, has_value=True)
    return tuple((str(m), str(d)) for m, d in saved)


def _admissible(study: optuna.Study) -> list[FrozenTrial]:
    return [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if t.user_attrs.get("feasible") is True
            and isinstance(t.user_attrs.get("metrics"), dict)
            and isinstance(t.user_attrs.get("point"), dict)
            and all(v <= 0 for v in t.user_attrs.get("constraints", [1.0]))]


def hypervolume(points: list[list[float]], objectives: tuple[tuple[str, str], ...],
                bounds: tuple[list[float], list[float]]) -> float:
    """The hypervolume of ``points`` (metric values in objective order) after scaling each
    objective to [0, 1] by ``bounds`` (lows, highs) so that 1 is the worst: the dominated
    share of the unit box, reference point (1, …, 1)."""
    if not points:
        return 0.0
    lows, highs = bounds
    scaled = []
    for p in points:
        row = []
        for v, (_, d), lo, hi in zip(p, objectives, lows, highs, strict=True):
            x = (v - lo) / (hi - lo) if hi > lo else 0.0
            row.append(x if d == "min" else 1.0 - x)
        scaled.append(row)
    return _hv(sorted(scaled), 1.0)


def _hv(points: list[list[float]], ref: float) -> float:
    """Exact hypervolume of minimisation points against (ref, …, ref), by slicing the first
    objective (fine for the few-hundred-point fronts of a study)."""
    if not points:
        return 0.0
    if len(points[0]) == 1:
        return max(ref - min(p[0] for p in points), 0.0)
    total = 0.0
    pts = sorted(points)
    for i, p in enumerate(pts):
        nxt = pts[i + 1][0] if i + 1 < len(pts) else ref
        width = min(nxt, ref) - p[0]
        if width > 0:
            total += width * _hv([q[1:] for q in pts[:i + 1]], ref)
    return total


class _Progress:
    """A tqdm bar over the trials this call runs: trials/s, admissible designs, the Pareto
    set's size and its hypervolume (objectives scaled to the ranges seen so far)."""

    def __init__(self, study: optuna.Study, space: Space, total: int, *, enabled: bool) -> None:
        self.count = 0
        self.space = space
        self.bar = None
        if enabled and total:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="trial", dynamic_ncols=True,
                            disable=os.environ.get("BNNSIM_NO_PROGRESS") == "1")

    def update(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self.count += 1
        if self.bar is None:
            return
        self.bar.update(1)
        if self.count % 10 and self.count != self.bar.total:
            return
        ok = _admissible(study)
        if not ok:
            self.bar.set_postfix_str("no admissible design yet")
            return
        objectives = self.space.objectives
        front = pareto_front([(i, t.user_attrs["metrics"]) for i, t in enumerate(ok)],
                             objectives)
        rows = [[t.user_attrs["metrics"][m] for m, _ in objectives] for t in ok]
        cols = list(zip(*rows, strict=True))
        hv = hypervolume([rows[i] for i in front], objectives,
                         ([min(c) for c in cols], [max(c) for c in cols]))
        self.bar.set_postfix_str(f"admissible {len(ok)} pareto {len(front)} hv {hv:.3f}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
