"""Studies end to end on the analytical engine with accuracies from a table: the grid's
Pareto set equals brute force, seeds reproduce, infeasible designs are trials with a reason,
reruns resume, and a study refuses another space."""

from __future__ import annotations

import functools
import itertools
import json
import math

import optuna
import pytest
from conftest import write_space

from explorer.evaluate import QUANT, Evaluator, pareto_front
from explorer.space import load_space
from explorer.study import hypervolume, open_storage, pareto_trials, run_study
from workloads.errors import ConfigError


def _grid(space):
    names = [p.path for p in space.parameters]
    for values in itertools.product(*(p.grid() for p in space.parameters), space.quants):
        yield dict(zip([*names, QUANT], values, strict=True))


def test_grid_study_pareto_set_equals_brute_force(small_space, tmp_path):
    space = load_space(small_space)
    run = run_study(space, trials=space.grid_size(), storage=str(tmp_path / "s.journal"),
                    sampler="grid", seed=0, progress=False)
    study = run.study
    assert len(study.trials) == 32 and run.ran == 32
    seen = {tuple(sorted(t.user_attrs["point"].items())) for t in study.trials}
    assert len(seen) == 32  # the whole grid, each point once

    evaluate = Evaluator(space)
    evals = [evaluate(point) for point in _grid(space)]
    admissible = [(tuple(sorted(e.point.items())), e.metrics) for e in evals
                  if e.admissible(space)]
    brute = set(pareto_front(admissible, space.objectives))
    found = {tuple(sorted(t.user_attrs["point"].items())) for t in pareto_trials(study, space)}
    assert found == brute and found
    # every trial keeps what reports need
    t = study.trials[0]
    assert {"point", "chip", "metrics", "totals", "feasible", "reason", "constraints"} <= set(
        t.user_attrs)


def test_infeasible_designs_are_trials_with_a_reason(small_space, tmp_path):
    space = load_space(small_space)
    run = run_study(space, trials=32, storage=str(tmp_path / "s.journal"), sampler="grid",
                    seed=0, progress=False)
    bad = [t for t in run.study.trials if not t.user_attrs["feasible"]]
    assert len(bad) == 16  # every point with an 8-bit accumulator
    for t in bad:
        assert t.state == optuna.trial.TrialState.COMPLETE
        assert t.params["accumulator_bits"] == 8
        assert "accumulator" in t.user_attrs["reason"]
        assert all(math.isinf(v) for v in t.values)
        assert all(v > 0 for v in t.user_attrs["constraints"])
    assert not {t.number for t in pareto_trials(run.study, space)} & {t.number for t in bad}


def test_same_seed_same_trials_and_front(small_space, tmp_path):
    space = load_space(small_space)
    runs = [run_study(space, trials=20, storage=str(tmp_path / f"{i}.journal"),
                      sampler="nsga2", seed=7, progress=False).study for i in range(2)]
    points = [[t.user_attrs["point"] for t in s.trials] for s in runs]
    assert points[0] == points[1]
    fronts = [[t.number for t in pareto_trials(s, space)] for s in runs]
    assert fronts[0] == fronts[1]


@pytest.mark.parametrize("sampler", ["tpe", "random", "nsga3", "gp"])
def test_every_sampler_runs(small_space, tmp_path, sampler):
    space = load_space(small_space)
    run = run_study(space, trials=6, storage=str(tmp_path / "s.journal"), sampler=sampler,
                    seed=1, progress=False)
    assert len(run.study.trials) == 6


def test_rerun_resumes(small_space, tmp_path):
    space = load_space(small_space)
    store = str(tmp_path / "s.journal")
    first = run_study(space, trials=5, storage=store, seed=1, progress=False)
    again = run_study(space, trials=8, storage=store, seed=1, progress=False)
    assert first.ran == 5 and again.ran == 3 and len(again.study.trials) == 8
    done = run_study(space, trials=8, storage=store, seed=1, progress=False)
    assert done.ran == 0


def test_a_study_refuses_another_space(small_space, tmp_path):
    store = str(tmp_path / "s.journal")
    run_study(load_space(small_space), trials=2, storage=store, progress=False)
    other = load_space(write_space(tmp_path, quant={"choices": ["w1a1"]}))
    with pytest.raises(ConfigError, match="exists in this storage with another space"):
        run_study(other, trials=2, storage=store, progress=False)
    # under another name it is a new study
    assert run_study(other, trials=2, storage=store, study_name="other",
                     progress=False).ran == 2


def test_storage_errors_are_one_line(tmp_path):
    with pytest.raises(ConfigError, match="unknown storage URL scheme"):
        open_storage("redis://localhost/0")
    with pytest.raises(ConfigError, match="is a directory"):
        open_storage(str(tmp_path))
    with pytest.raises(ConfigError, match="folder does not exist"):
        open_storage(str(tmp_path / "no" / "s.journal"))
    with pytest.raises(ConfigError, match=r"me:\*\*\*@.*cannot open the storage") as info:
        open_storage("postgresql://me:secret@127.0.0.1:1/db")
    assert "secret" not in str(info.value)


def test_hypervolume_by_hand():
    objectives = (("a", "min"), ("b", "max"))
    bounds = ([0.0, 0.0], [10.0, 10.0])
    # (a=0, b=10) is the best corner: scaled (0, 0), the whole unit square
    assert hypervolume([[0.0, 10.0]], objectives, bounds) == pytest.approx(1.0)
    # (5, 5) → (0.5, 0.5): a quarter; with (0, 0) → (0, 1) adds nothing beyond a ≤ 0.5 …
    assert hypervolume([[5.0, 5.0]], objectives, bounds) == pytest.approx(0.25)
    assert hypervolume([[5.0, 5.0], [2.0, 2.0]], objectives, bounds) == pytest.approx(
        0.25 + 0.3 * 0.2)
    assert hypervolume([], objectives, bounds) == 0.0


def test_refine_resimulates_the_pareto_set_with_the_event_engine(small_space, tmp_path):
    from explorer.study import refine

    space = load_space(small_space)
    study = run_study(space, trials=32, storage=str(tmp_path / "s.journal"), sampler="grid",
                      seed=0, progress=False).study
    front = pareto_trials(study, space)
    records = refine(study, space, tolerance=0.0)
    assert [r["trial"] for r in records] == [t.number for t in front]
    for r, t in zip(records, front, strict=True):
        assert r["engine"] == "event" and r["feasible"]
        first, second = t.user_attrs["metrics"], r["metrics"]
        for m in ("latency", "energy"):
            assert r["differences"][m] == pytest.approx((second[m] - first[m]) / first[m])
        assert r["flagged"] == any(d != 0 for d in r["differences"].values())
        assert study.user_attrs[f"refined:event:{t.number}"] == r  # kept in the study
    loose = refine(study, space, tolerance=10.0)  # already refined: judged again, not re-run
    assert [r["differences"] for r in loose] == [r["differences"] for r in records]
    assert not any(r["flagged"] for r in loose) and all(r["tolerance"] == 10.0 for r in loose)


@pytest.mark.parametrize("workers", [1, 2])
def test_sweep_stores_the_whole_grid_as_a_study(small_space, tmp_path, workers):
    from explorer.sweep import sweep

    space = load_space(small_space)
    store = str(tmp_path / "s.journal")
    run = sweep(space, storage=store, workers=workers, progress=False)
    assert run.evaluated == 32 and run.skipped == 0
    assert len(run.study.trials) == 32
    grid = run_study(space, trials=32, storage=str(tmp_path / "g.journal"), sampler="grid",
                     seed=0, progress=False).study

    def front(study):
        return sorted(json.dumps(t.user_attrs["point"], sort_keys=True)
                      for t in pareto_trials(study, space))

    assert front(run.study) == front(grid)
    infeasible = [t for t in run.study.trials if not t.user_attrs["feasible"]]
    assert len(infeasible) == 16 and all(v > 0 for t in infeasible
                                         for v in t.user_attrs["constraints"])
    again = sweep(space, storage=store, progress=False)
    assert again.evaluated == 0 and again.skipped == 32


def test_a_sweep_visits_the_grid_in_the_order_that_reuses_the_most(tmp_path):
    """The same points; the quantisation and the array slowest, the DRAM next, the buffers
    fastest (``OverlayFamily.reuse_order``): consecutive chips share the mapper's kept work."""
    from explorer.sweep import grid_points
    from simulator.api import get_family

    path = write_space(tmp_path, name="order", parameters={
        "buffers.weight.size_kib": {"choices": [16, 32]},
        "dram.channels": {"choices": [1, 2]},
        "buffers.input.port_bits": {"choices": [64, 128]},
        "pe_array.rows": {"choices": [4, 16]}})
    space = load_space(path)
    plain, reuse = list(grid_points(space)), list(grid_points(space, reuse=True))
    key = functools.partial(json.dumps, sort_keys=True)
    assert sorted(map(key, plain)) == sorted(map(key, reuse)) and len(reuse) == 32
    assert list(reuse[0]) == ["quant", "buffers.input.port_bits", "pe_array.rows",
                              "dram.channels", "buffers.weight.size_kib"]
    assert [p["buffers.weight.size_kib"] for p in reuse[:4]] == [16, 32, 16, 32]
    assert [p["dram.channels"] for p in reuse[:4]] == [1, 1, 2, 2]
    assert get_family("overlay").reuse_order(
        ["mapping.objective", "clock_mhz", "buffers.output.port_bits", "tech",
         "buffers.output.double_buffered", "dram.latency_ns", "dram.energy_pj_per_bit"]) == [
        "buffers.output.port_bits", "clock_mhz", "dram.latency_ns", "mapping.objective",
        "tech", "buffers.output.double_buffered", "dram.energy_pj_per_bit"]


def test_per_layer_quantisation_choices(tmp_path):
    path = write_space(tmp_path, name="layers",
                       quant={"choices": ["w1a1", "w1a2"],
                              "layers": {"fc4": {"choices": ["w1a1", "w8a8"]}}},
                       accuracy={"table": {"w1a1 fc4=w1a1": 97.0, "w1a1 fc4=w8a8": 97.4,
                                           "w1a2 fc4=w1a1": 97.5, "w1a2 fc4=w8a8": 97.8}})
    space = load_space(path)
    assert space.grid_size() == 64
    assert space.quant_labels() == ["w1a1 fc4=w1a1", "w1a1 fc4=w8a8", "w1a2 fc4=w1a1",
                                    "w1a2 fc4=w8a8"]
    study = run_study(space, trials=64, storage=str(tmp_path / "s.journal"), sampler="grid",
                      seed=0, progress=False).study
    ok = [t for t in study.trials if t.user_attrs["feasible"]]
    bits = {t.user_attrs["point"]["quant.fc4"]: t.user_attrs["totals"]["weight_bits"]
            for t in ok}
    assert bits["w8a8"] > bits["w1a1"]  # the last layer's weights really are 8-bit
    accs = {(t.user_attrs["point"]["quant"], t.user_attrs["point"]["quant.fc4"]):
            t.user_attrs["metrics"]["accuracy"] for t in ok}
    assert accs[("w1a2", "w8a8")] == 97.8


@pytest.mark.parametrize(("quant", "words"), [
    ({"choices": ["w1a1"], "layers": {"fc9": {"choices": ["w8a8"]}}}, "no such layer"),
    ({"choices": ["w1a1"], "layers": {"fc4": {"choices": ["wxa8"]}}}, "quant.layers.fc4"),
    ({"choices": ["w1a1"], "layers": {"fc4": ["w8a8"]}}, "expected {choices"),
])
def test_bad_per_layer_choices_are_one_line(tmp_path, quant, words):
    path = write_space(tmp_path, quant=quant, objectives={"energy": "min"}, accuracy=None)
    with pytest.raises(ConfigError) as info:
        load_space(path)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_a_table_must_name_every_per_layer_combination(tmp_path):
    path = write_space(tmp_path, quant={"choices": ["w1a1"],
                                        "layers": {"fc4": {"choices": ["w1a1", "w8a8"]}}},
                       accuracy={"table": {"w1a1 fc4=w1a1": 97.0}})
    with pytest.raises(ConfigError, match="no accuracy for w1a1 fc4=w8a8"):
        load_space(path)
