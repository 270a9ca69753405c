"""Accuracy in the loop: each (network, quantisation, dataset, budget) trained once per
storage — across trials, reruns, studies and concurrent workers — under exclusive claims."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import optuna
import pytest
import yaml

from explorer.accuracy import AccuracyStore, trained_accuracy
from explorer.space import TrainSpec, load_space
from explorer.study import open_storage, run_study
from workloads.errors import ConfigError

TRAIN = {"dataset": "synthetic-mnist", "epochs": 1, "batch_size": 50, "max_steps": 2}


def train_space(folder, **changes):
    data = {"name": "train-small", "network": "lfc", "chip": "edge",
            "parameters": {"pe_array.rows": {"choices": [8, 16]},
                           "pe_array.cols": {"choices": [8, 16]}},
            "quant": {"choices": ["w1a1", "w1a2"]},
            "objectives": {"accuracy": "max", "energy": "min"},
            "accuracy": {"train": dict(TRAIN)}}
    data.update(changes)
    path = folder / f"{data['name']}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def trainings(storage) -> dict[str, int]:
    """Training runs per key, from the store's log lines."""
    store = AccuracyStore(storage)
    counts: dict[str, int] = {}
    for name in store.study.user_attrs:
        if name.startswith("training:"):
            key = name.split(":")[1]
            counts[key] = counts.get(key, 0) + 1
    return counts


def test_each_quantisation_trains_once_per_storage(tmp_path):
    space = load_space(train_space(tmp_path))
    path = str(tmp_path / "s.journal")
    run = run_study(space, trials=8, storage=path, seed=0, progress=False)
    accs = {t.user_attrs["point"]["quant"]: t.user_attrs["metrics"]["accuracy"]
            for t in run.study.trials if t.user_attrs["feasible"]}
    assert set(accs) == {"w1a1", "w1a2"} and all(0 <= a <= 100 for a in accs.values())
    counts = trainings(open_storage(path))
    assert sorted(counts.values()) == [1, 1]
    # a rerun, and another study with the same budget, train nothing more
    run_study(space, trials=12, storage=path, seed=0, progress=False)
    other = load_space(train_space(tmp_path, name="other",
                                   objectives={"accuracy": "max", "latency": "min"}))
    run_study(other, trials=4, storage=path, seed=1, progress=False)
    assert trainings(open_storage(path)) == counts
    # another budget is another key
    third = load_space(train_space(tmp_path, name="third",
                                   accuracy={"train": {**TRAIN, "seed": 1}}))
    run_study(third, trials=4, storage=path, seed=0, progress=False)
    assert len(trainings(open_storage(path))) == 4


def test_claims_are_exclusive_and_stale_ones_are_taken_over(tmp_path):
    storage = open_storage(str(tmp_path / "s.journal"))
    store = AccuracyStore(storage)
    assert store.claim("k") and not store.claim("k")
    gen, beat = store.current("k")
    assert gen == 0 and beat is not None and time.time() - beat < 5
    # two waiters that see the same stale claim: exactly one takes it over
    assert store.claim("k", 1) and not store.claim("k", 1)
    assert store.current("k")[0] == 1  # (and the stale one is gone)
    assert [g for g, _ in store._claims("k")] == [1]
    store.release("k", 0)  # a worker removes only its own claim: #1 stays
    assert store.current("k")[0] == 1
    store.release("k", 1)
    assert store.current("k") is None


def test_a_dead_workers_claim_is_taken_over_and_trained(tmp_path):
    storage = open_storage(str(tmp_path / "s.journal"))
    store = AccuracyStore(storage)
    spec = TrainSpec(**TRAIN)
    key = spec.key("lfc", "w1a1")
    assert store.claim(key)  # … and its worker died an hour ago
    sid = storage.get_study_id_from_name(f"bnnsim-claim:{key}#0")
    storage.set_study_user_attr(sid, "beat", time.time() - 3600)
    value = trained_accuracy(store, spec, "lfc", "w1a1", grace_s=1.0, poll_s=0.05)
    assert 0 <= value <= 100 and store.get(key) == value
    assert store.current(key) is None  # the taker removed both claims
    assert trainings(storage) == {key: 1}


def test_a_claim_that_never_beat_goes_stale_too(tmp_path):
    storage = open_storage(str(tmp_path / "s.journal"))
    store = AccuracyStore(storage)
    spec = TrainSpec(**TRAIN)
    key = spec.key("lfc", "w1a2")
    optuna.create_study(storage=storage, study_name=f"bnnsim-claim:{key}#0")  # no beat
    start = time.perf_counter()
    value = trained_accuracy(store, spec, "lfc", "w1a2", grace_s=1.0, poll_s=0.05)
    assert 0 <= value <= 100 and time.perf_counter() - start < 120


@pytest.mark.parametrize(("changes", "words"), [
    ({"network": "lfc.yaml"}, "training needs a zoo network"),
    ({"accuracy": {"train": {"dataset": "imagenet"}}}, "allowed: mnist"),
    ({"accuracy": {"train": {"dataset": "mnist", "epochs": 0}}}, "an integer in [1,"),
    ({"accuracy": {"train": {"dataset": "mnist", "lr": -1}}}, "a learning rate"),
    ({"accuracy": {"train": {"dataset": "mnist"}, "table": {"w1a1": 1}}}, "expected {table"),
])
def test_bad_train_blocks_are_one_line(tmp_path, changes, words):
    (tmp_path / "lfc.yaml").write_text(yaml.safe_dump({
        "name": "lfc2", "input": [1, 28, 28],
        "layers": [{"name": "fc", "type": "fc", "out_features": 10}]}))
    with pytest.raises(ConfigError) as info:
        load_space(train_space(tmp_path, **changes))
    assert words in str(info.value) and "\n" not in str(info.value)


def test_two_postgresql_workers_train_each_quantisation_once(tmp_path, postgres_url):
    name = f"train{os.getpid()}"
    space = train_space(tmp_path, name=name)
    env = {**os.environ, "BNNSIM_NO_PROGRESS": "1"}
    procs = [subprocess.Popen([sys.executable, "-m", "bnnsim", "explore", "--space", str(space),
                               "--trials", "10", "--storage", postgres_url, "--seed", str(i),
                               "--quiet"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
    storage = open_storage(postgres_url)
    study = optuna.load_study(study_name=name, storage=storage)
    assert len({t.number for t in study.trials}) == len(study.trials) >= 10
    keys = {TrainSpec(**TRAIN).key("lfc", q) for q in ("w1a1", "w1a2")}
    counts = trainings(storage)
    assert {k: counts.get(k) for k in keys} == dict.fromkeys(keys, 1)


def test_per_layer_labels_train_with_their_overrides(tmp_path):
    from explorer.accuracy import _config

    config = _config("w1a2 fc4=w8a8")
    assert config.default.compact() == "w1a2" and dict(config.layers)["fc4"].compact() == "w8a8"
    assert _config("w1a1") == "w1a1" and _config("") is None
    store = AccuracyStore(open_storage(str(tmp_path / "s.journal")))
    value = trained_accuracy(store, TrainSpec(**TRAIN), "lfc", "w1a2 fc4=w8a8")
    assert 0 <= value <= 100
