"""``bnnsim explore`` and ``bnnsim pareto`` through the real CLI: results, one-line errors,
local workers sharing a journal, a SIGKILLed worker, and two workers on one PostgreSQL study."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import optuna
import pytest
from conftest import write_space

from bnnsim.cli import main
from explorer.space import load_space
from explorer.study import _retry_dead_local, make_sampler, open_storage, open_study

ENV = {**os.environ, "BNNSIM_NO_PROGRESS": "1"}


def bnnsim(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bnnsim", *args], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_explore_then_pareto(small_space, tmp_path, capsys):
    store, out = tmp_path / "s.journal", tmp_path / "front.json"
    assert main(["explore", "--space", str(small_space), "--trials", "32", "--sampler", "grid",
                 "--storage", str(store), "--quiet", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "study 'small'" in text and "32 trials" in text and "Pareto set" in text
    front = json.loads(out.read_text())["pareto"]
    assert front and all(p["metrics"]["area"] <= 1.2 for p in front)
    csv_path = tmp_path / "p.csv"
    assert main(["pareto", "--storage", str(store), "--study", "small", "--csv",
                 str(csv_path)]) == 0
    lines = csv_path.read_text().splitlines()
    assert len(lines) == len(front) + 1 and lines[0].startswith("trial,")


@pytest.mark.parametrize(("args", "words"), [
    (["explore", "--trials", "0"], "--trials: 0 is out of range"),
    (["explore", "--trials", "5", "--sampler", "annealing"], "invalid choice"),
    (["explore", "--trials", "5", "--tolerance", "nan"], "--tolerance: nan is out of range"),
    (["explore", "--trials", "5", "--workers", "999"], "--workers: 999 is out of range"),
    (["explore", "--trials", "5", "--space", "/no/such.yaml"], "no such space file"),
    (["explore", "--trials", "5", "--storage", "redis://x/0"], "unknown storage URL scheme"),
    (["pareto", "--study", "nope", "--storage", "/no/such.journal"], "no such journal file"),
])
def test_bad_input_is_one_line(args, words, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1


def test_storage_that_is_the_space_file_is_refused(small_space, capsys):
    before = small_space.read_bytes()
    assert main(["explore", "--space", str(small_space), "--trials", "2", "--storage",
                 str(small_space)]) == 2
    assert "is the space file" in capsys.readouterr().err
    assert small_space.read_bytes() == before


def test_unknown_study_names_the_studies(small_space, tmp_path, capsys):
    store = tmp_path / "s.journal"
    assert main(["explore", "--space", str(small_space), "--trials", "2", "--storage",
                 str(store), "--quiet"]) == 0
    assert main(["pareto", "--storage", str(store), "--study", "nope"]) == 2
    assert "studies: small" in capsys.readouterr().err


def test_local_workers_share_a_journal(small_space, tmp_path):
    store = tmp_path / "s.journal"
    proc = bnnsim("explore", "--space", str(small_space), "--trials", "150", "--storage",
                  str(store), "--workers", "2", "--seed", "3", "--engine", "event", "--quiet")
    _out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    study = optuna.load_study(study_name="small", storage=open_storage(str(store)))
    done = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert 150 <= len(done) <= 151  # a worker may finish one trial past the target
    assert len({t.number for t in study.trials}) == len(study.trials)
    pids = {t.user_attrs["worker"]["pid"] for t in done}
    assert len(pids) == 2  # both workers ran trials


def test_a_killed_worker_loses_nothing_and_its_trial_is_retried(tmp_path):
    # BNN CIFAR-10 on the event engine: about 0.1 s a trial, so the kill lands mid-trial
    small_space = write_space(tmp_path, network="bnn-cifar10",
                              constraints={"area": {"max": 2.0}})
    store = tmp_path / "s.journal"
    proc = bnnsim("explore", "--space", str(small_space), "--trials", "100000", "--engine",
                  "event", "--storage", str(store), "--quiet", "--seed", "1")
    try:
        deadline = time.time() + 120
        done: list = []
        while time.time() < deadline:
            time.sleep(0.3)
            if store.exists():
                with _quiet():
                    study = optuna.load_study(study_name="small",
                                              storage=open_storage(str(store)))
                    done = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
                if len(done) >= 5:
                    break
        assert len(done) >= 5
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    study = optuna.load_study(study_name="small", storage=open_storage(str(store)))
    before = {t.number: t.values for t in study.get_trials(
        states=(optuna.trial.TrialState.COMPLETE,))}
    running = [t.number for t in study.get_trials(states=(optuna.trial.TrialState.RUNNING,))]
    target = len(before) + 3
    assert main(["explore", "--space", str(small_space), "--trials", str(target),
                 "--engine", "event", "--storage", str(store), "--quiet"]) == 0
    study = optuna.load_study(study_name="small", storage=open_storage(str(store)))
    after = {t.number: t.values for t in study.get_trials(
        states=(optuna.trial.TrialState.COMPLETE,))}
    assert all(after[n] == v for n, v in before.items())  # nothing completed was lost
    assert len(after) >= target
    retried = {t.user_attrs.get("retry_of") for t in study.trials} - {None}
    assert retried == set(running)  # the interrupted trial (if any) ran again
    assert not study.get_trials(states=(optuna.trial.TrialState.RUNNING,))


def test_a_running_trial_of_a_dead_process_is_retried(small_space, tmp_path):
    space = load_space(small_space)
    store = open_storage(str(tmp_path / "s.journal"))
    study = open_study(space, store, None, sampler=make_sampler("random", space, seed=0))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    trial = study.ask()
    trial.suggest_categorical("quant", ["w1a1", "w1a2"])
    import socket

    trial.set_user_attr("worker", {"host": socket.gethostname(), "pid": int(dead.stdout)})
    alive = study.ask()
    alive.set_user_attr("worker", {"host": socket.gethostname(), "pid": os.getpid()})
    assert _retry_dead_local(study) == [trial.number]
    states = {t.number: t.state for t in study.trials}
    assert states[trial.number] == optuna.trial.TrialState.FAIL
    assert states[alive.number] == optuna.trial.TrialState.RUNNING
    queued = study.get_trials(states=(optuna.trial.TrialState.WAITING,))
    assert [t.user_attrs["retry_of"] for t in queued] == [trial.number]


def test_two_workers_share_one_postgresql_study(small_space, postgres_url):
    name = f"dist{os.getpid()}"
    procs = [bnnsim("explore", "--space", str(small_space), "--trials", "24", "--storage",
                    postgres_url, "--study", name, "--seed", str(i), "--quiet")
             for i in range(2)]  # started together: one creates the study, one loads it
    for proc in procs:
        _out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    study = optuna.load_study(study_name=name, storage=open_storage(postgres_url))
    done = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert 24 <= len(done) <= 25
    assert len({t.number for t in study.trials}) == len(study.trials)
    assert len({t.user_attrs["worker"]["pid"] for t in done}) == 2
    # the same name with another space is refused by the server-side study too
    other = small_space.with_name("other.yaml")
    other.write_text(small_space.read_text().replace("w1a2", "wta2"))
    proc = bnnsim("explore", "--space", str(other), "--trials", "2", "--storage", postgres_url,
                  "--study", name)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "another space" in err and err.count("\n") == 1


class _quiet:
    def __enter__(self) -> None:
        optuna.logging.set_verbosity(optuna.logging.WARNING)

    def __exit__(self, *exc: object) -> None:
        return None


def test_sweep_through_the_cli(small_space, tmp_path, capsys):
    store = tmp_path / "s.journal"
    assert main(["sweep", "--space", str(small_space), "--storage", str(store),
                 "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "grid of 32 points, 32 evaluated" in text and "Pareto set" in text
    assert main(["sweep", "--space", str(small_space), "--storage", str(store), "--quiet",
                 "--max-points", "10"]) == 2
    err = capsys.readouterr().err
    assert "more than --max-points 10" in err and err.count("\n") == 1


def test_outputs_never_overwrite_the_journal(small_space, tmp_path, capsys):
    store = tmp_path / "s.journal"
    assert main(["explore", "--space", str(small_space), "--trials", "3", "--storage",
                 str(store), "--quiet", "--refine", "none"]) == 0
    before = store.read_bytes()
    for args in (["explore", "--space", str(small_space), "--trials", "3", "--json",
                  str(store)],
                 ["sweep", "--space", str(small_space), "--json", str(store)],
                 ["pareto", "--study", "small", "--csv", str(store)]):
        assert main([*args, "--storage", str(store)]) == 2
        err = capsys.readouterr().err
        assert "is the study's storage" in err and err.count("\n") == 1
    assert store.read_bytes() == before


def test_a_file_that_is_not_a_journal_is_refused_untouched(small_space, tmp_path, capsys):
    other = tmp_path / "acc.csv"
    other.write_text("quant,accuracy\n")
    assert main(["explore", "--space", str(small_space), "--trials", "2", "--storage",
                 str(other)]) == 2
    assert "not an Optuna journal" in capsys.readouterr().err
    assert other.read_text() == "quant,accuracy\n"


def test_json_to_stdout_is_parseable(small_space, tmp_path, capsys):
    store = tmp_path / "s.journal"
    assert main(["explore", "--space", str(small_space), "--trials", "6", "--storage",
                 str(store), "--json", "-"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["study"] == "small" and doc["pareto"]
    assert main(["pareto", "--study", "small", "--storage", str(store), "--json", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["pareto"] == doc["pareto"]


def test_study_rules(small_space, tmp_path, capsys):
    store = str(tmp_path / "s.journal")
    base = ["explore", "--space", str(small_space), "--storage", store, "--quiet"]
    assert main([*base, "--trials", "2", "--study", "bnnsim-accuracies"]) == 2
    assert "bnnsim's own" in capsys.readouterr().err
    assert main([*base, "--trials", "2", "--refine", "none"]) == 0
    capsys.readouterr()
    assert main([*base, "--trials", "3", "--engine", "event"]) == 2  # the study's engine
    assert "made with the analytical engine" in capsys.readouterr().err
    # the grid sampler stops at the grid
    assert main([*base, "--trials", "500", "--sampler", "grid", "--study", "g",
                 "--refine", "none"]) == 0
    assert "--trials 500 → 32" in capsys.readouterr().out
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    assert len(optuna.load_study(study_name="g", storage=open_storage(store)).trials) == 32


def test_pareto_of_a_study_bnnsim_did_not_make(tmp_path, capsys):
    store = tmp_path / "s.journal"
    study = optuna.create_study(storage=open_storage(str(store)), study_name="plain")
    study.set_user_attr("space", "not a dict")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    assert main(["pareto", "--study", "plain", "--storage", str(store)]) == 2
    err = capsys.readouterr().err
    assert "not made by bnnsim" in err and err.count("\n") == 1


def test_a_sqlite_database_is_guarded_too(small_space, tmp_path, capsys):
    db = tmp_path / "x.db"
    url = f"sqlite:///{db}"
    assert main(["explore", "--space", str(small_space), "--trials", "2", "--storage", url,
                 "--quiet", "--refine", "none"]) == 0
    before = db.read_bytes()
    assert main(["explore", "--space", str(small_space), "--trials", "2", "--storage", url,
                 "--json", str(db)]) == 2
    assert "is the study's storage" in capsys.readouterr().err
    assert db.read_bytes() == before
    assert main(["pareto", "--storage", url, "--study", "small", "--json", "-",
                 "--csv", "-"]) == 2
    assert "already writes to standard output" in capsys.readouterr().err


def test_explore_json_carries_this_runs_refine_verdicts(small_space, tmp_path):
    store, out = str(tmp_path / "s.journal"), tmp_path / "f.json"
    assert main(["explore", "--space", str(small_space), "--trials", "8", "--storage", store,
                 "--quiet", "--tolerance", "0"]) == 0
    assert main(["explore", "--space", str(small_space), "--trials", "8", "--storage", store,
                 "--quiet", "--tolerance", "10", "--json", str(out)]) == 0
    refined = [p["refined"] for p in json.loads(out.read_text())["pareto"] if "refined" in p]
    assert refined and all(r["tolerance"] == 10 and not r["flagged"] for r in refined)


def test_the_default_spaces_digest_is_stable():
    # studies made before per-layer choices existed must still resume
    from importlib.resources import as_file, files

    with as_file(files("explorer") / "spaces" / "default.yaml") as path:
        assert load_space(path).digest == "5e1315d9e644cb28"


def test_a_dataflow_chip_space_sweeps_and_explores(tmp_path, capsys):
    """The same space form on the dataflow family: target frame rates and bit-widths of LFC
    on pynq-z1 against LUTs and frames/s, the device's LUTs a constraint (the fastest
    target does not fit, so some points are inadmissible)."""
    space = write_space(tmp_path, name="fold", network="lfc", chip="pynq-z1",
                        parameters={"folding.target_fps": {"choices": [1e3, 1e4, 1e5]},
                                    "folding.fifo_depth": {"choices": [1, 4]}},
                        objectives={"accuracy": "max", "luts": "min", "fps": "max"},
                        constraints={"luts": {"max": 53200}})
    store = tmp_path / "f.journal"
    assert main(["sweep", "--space", str(space), "--storage", str(store), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "grid of 12 points, 12 evaluated" in text and "Pareto set" in text
    assert main(["explore", "--space", str(space), "--storage", str(tmp_path / "e.journal"),
                 "--trials", "4", "--quiet", "--seed", "0", "--sampler", "random"]) == 0
    capsys.readouterr()
    assert main(["pareto", "--storage", str(store), "--study", "fold"]) == 0
    text = capsys.readouterr().out
    # 2 quantisations × 2 FIFO depths × the two targets that fit (1e5 needs 77k LUTs)
    assert "12 trials, 8 on the Pareto front" in text and "100000" not in text


@pytest.mark.parametrize(("chip", "objectives", "words"), [
    ("edge", {"luts": "min", "energy": "min"}, "an overlay chip has no luts"),
    ("pynq-z1", {"area": "min", "fps": "max"}, "a dataflow chip has no area"),
])
def test_a_metric_the_chips_family_lacks_is_one_line(tmp_path, capsys, chip, objectives, words):
    space = write_space(tmp_path, name="m", network="lfc", chip=chip, parameters={},
                        objectives=objectives, constraints={})
    assert main(["explore", "--space", str(space), "--storage", str(tmp_path / "x.journal"),
                 "--trials", "1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1
