"""The tables every report is drawn from: values, columns and Pareto flags."""

from __future__ import annotations

import itertools
import json
import math

import pandas as pd
import pytest
from report_helpers import write_json

from reports import tables as T
from workloads.errors import ConfigError


def test_layer_table_matches_the_result(traced_doc):
    df = T.layer_table(traced_doc)
    assert list(df["layer"]) == [x["name"] for x in traced_doc["layers"]]
    assert df["cycles"].sum() == traced_doc["total"]["batch_cycles"]
    assert df["dram_bytes"].sum() == traced_doc["total"]["batch_dram_bytes"]
    assert df["energy_pj"].sum() == pytest.approx(traced_doc["total"]["energy_pj"])
    assert (df["compute_cycles"] + df["stall_cycles"] == df["cycles"]).all()
    streams = [c for c in df.columns if c.startswith("dram_") and c.endswith("_bytes")
               and c != "dram_bytes"]
    assert streams and (df[streams].sum(axis=1) <= df["dram_bytes"]).all()
    # operations: 2 per binary MAC the array did — one pass per MAC for w1a1, eight
    # bit-serial passes for the 8-bit input layer
    fc = df[df["kind"] == "fc"]
    binary = fc[fc["precision"] == "w1a1"]
    assert len(binary) and (binary["ops"] == 2 * binary["macs"]).all()
    first = fc[fc["precision"] == "w1a8"]
    assert len(first) == 1 and (first["ops"] == 2 * 8 * first["macs"]).all()


def test_cycle_parts_sum_to_each_layers_cycles(traced_doc, analytical_doc):
    for doc in (traced_doc, analytical_doc):
        df = T.cycles_table(doc)
        parts = df.drop(columns=["layer", "cycles"])
        assert (parts >= -1e-9).all().all()
        assert parts.sum(axis=1).to_numpy() == pytest.approx(df["cycles"].to_numpy())
    measured = T.cycles_table(traced_doc)
    assert {"stall_dram", "stall_buffers", "stall_ppu"} <= set(measured.columns)
    assert (measured["stall"].abs() < 1e-9).all()  # the event engine splits every stall
    assert "stall_dram" not in T.cycles_table(analytical_doc).columns


def test_energy_parts_sum_to_each_layers_energy(traced_doc):
    df = T.energy_table(traced_doc)
    parts = df.drop(columns=["layer", "energy_pj"])
    assert parts.sum(axis=1).to_numpy() == pytest.approx(df["energy_pj"].to_numpy())
    assert "dram" in parts.columns and "leakage" in parts.columns


def test_roofline_by_hand(traced_doc):
    ceilings = T.roofs(traced_doc)
    d = traced_doc["details"]
    hz = traced_doc["clock_mhz"] * 1e6
    assert ceilings["array"] == 2 * d["peak_binary_macs_per_cycle"] * hz
    assert ceilings["dram"] == d["dram_bytes_per_cycle"] * hz
    roof = T.roofline_table(traced_doc)
    layers = {x["name"]: x for x in traced_doc["layers"]}
    for _, r in roof.iterrows():
        x = layers[r["layer"]]
        assert r["ops_per_s"] == pytest.approx(r["ops"] / (x["cycles"] / hz))
        if x["dram_bytes"]:
            assert r["ops_per_dram_byte"] == pytest.approx(r["ops"] / x["dram_bytes"])
            assert r["roof_ops_per_s"] == pytest.approx(
                min(ceilings[x["unit"]], r["ops_per_dram_byte"] * ceilings["dram"]))
    assert set(roof["layer"]) == {x["name"] for x in traced_doc["layers"]
                                  if x["kind"] in ("conv", "fc")}


def test_timeline_merges_without_losing_busy_time(traced_doc):
    raw = T.timeline_table(traced_doc, merge_gap=-1)
    assert len(raw) == len(traced_doc["trace"])
    merged = T.timeline_table(traced_doc, merge_gap=0)
    assert len(merged) <= len(raw)
    for comp in set(raw["component"]):
        a, b = raw[raw["component"] == comp], merged[merged["component"] == comp]
        assert a["start"].min() == b["start"].min() and a["end"].max() == b["end"].max()
        # merging only closes gaps of zero cycles, so busy time is kept exactly
        assert (b["end"] - b["start"]).sum() >= (a["end"] - a["start"]).sum() - 0


def test_compare_table_side_by_side(traced_doc, analytical_doc):
    df = T.compare_table([traced_doc, analytical_doc], ["a", "b"])
    assert list(df["result"]) == ["a", "b"]
    assert df.loc[1, "latency_cycles"] == analytical_doc["total"]["latency_cycles"]
    assert df.loc[0, "energy_uj"] == pytest.approx(traced_doc["total"]["energy_uj"])
    assert df.loc[1, "network"] == "bnn-cifar10"


def _dominates(a, b, objectives):
    better = False
    for m, d in objectives:
        x, y = a[m], b[m]
        if (x < y) if d == "max" else (x > y):
            return False
        better |= (x > y) if d == "max" else (x < y)
    return better


def test_trials_table_pareto_flags_are_brute_force(records):
    df = T.trials_table(records)
    assert len(df) == 16 and df["trial"].is_unique
    assert {"pe_array.rows", "pe_array.cols", "dataflow", "quant", "accuracy_pct",
            "energy_uj", "latency_ms", "area_mm2"} <= set(df.columns)
    ok = [t for t in records.trials if t["admissible"]]
    assert ok and len(ok) < len(records.trials)  # the area constraint bites
    objectives = records.objectives
    expected = {t["number"] for t in ok
                if not any(_dominates(o["metrics"], t["metrics"], objectives) for o in ok)}
    assert set(df.loc[df["pareto"], "trial"]) == expected
    # display units: ms and µJ from the stored s and µJ
    row = df.iloc[0]
    t0 = next(t for t in records.trials if t["number"] == row["trial"])
    assert row["latency_ms"] == pytest.approx(t0["metrics"]["latency"] * 1e3)


def test_pareto_table_sorted_by_the_first_objective(records):
    front = T.pareto_table(records)
    assert len(front) == int(T.trials_table(records)["pareto"].sum())
    assert list(front["accuracy_pct"]) == sorted(front["accuracy_pct"], reverse=True)
    assert "pareto" not in front.columns
    assert list(front.columns[:4]) == ["trial", "accuracy_pct", "energy_uj", "latency_ms"]


def test_hypervolume_never_falls(records):
    hv = T.hypervolume_table(records)
    assert len(hv) == len(records.trials)
    values = list(hv["hypervolume"])
    assert all(b >= a - 1e-12 for a, b in itertools.pairwise(values))
    assert 0 < values[-1] <= 1


def test_markdown_and_csv_writers():
    df = pd.DataFrame({"name": ["a|b", "c"], "n": [12345, 2], "x": [1 / 3, math.inf],
                       "ok": [True, False]})
    md = T.to_markdown(df).splitlines()
    assert md[0] == "| name | n | x | ok |" and md[1] == "|---|---|---|---|"
    assert md[2] == "| a\\|b | 12,345 | 0.3333 | yes |"
    assert md[3] == "| c | 2 | ∞ |  |"
    assert T.to_csv(df).splitlines()[1] == "a|b,12345,0.3333333333333333,True"


@pytest.mark.parametrize("content, words", [
    (b"not json", "is not a JSON file"),
    (b"[1, 2]", "is not a bnnsim result"),
    (json.dumps({"schema_version": 99}).encode(), "result schema version 99"),
    (json.dumps({"schema_version": 4, "family": "overlay"}).encode(), "missing or empty"),
])
def test_bad_result_files_are_one_line(tmp_path, content, words):
    path = tmp_path / "r.json"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as err:
        T.load_result(path)
    assert words in str(err.value) and "\n" not in str(err.value)
    assert str(path) in str(err.value)


def test_a_result_with_broken_layers_is_one_line(tmp_path, traced_doc):
    doc = json.loads(json.dumps(traced_doc))
    del doc["layers"][0]["cycles"]
    with pytest.raises(ConfigError, match="not a well-formed bnnsim result"):
        T.load_result(write_json(tmp_path / "r.json", doc))


def test_a_schema_3_result_still_reads(tmp_path, traced_doc):
    doc = json.loads(json.dumps(traced_doc))
    doc["schema_version"] = 3
    del doc["inputs"]
    assert T.load_result(write_json(tmp_path / "r.json", doc))["network"] == "sfc"


@pytest.mark.parametrize("edit, words", [
    (lambda d: d.update(clock_mhz=0), "clock_mhz"),
    (lambda d: d.update(clock_mhz=-5.0), "clock_mhz"),
    (lambda d: d["layers"][0].update(cycles=1e400), "cycles"),
    (lambda d: d["layers"][0].pop("energy_breakdown_pj"), "energy_breakdown_pj"),
    (lambda d: d["total"].update(latency_cycles="12"), "latency_cycles"),
    (lambda d: d.update(quant=None), "quant"),
    (lambda d: d.update(provenance=[]), "provenance"),
    (lambda d: d["inputs"]["tech"].update(entries=5), "entries"),
    (lambda d: d["inputs"]["tech"].update(node_nm="abc"), "node_nm"),
    (lambda d: d["layers"][0]["details"].update(dram_bytes_by_stream=[1]),
     "dram_bytes_by_stream"),
    (lambda d: d["layers"][0]["details"].update(stall_causes={"dram": 10**9}), "stall_causes"),
    (lambda d: d["layers"][0]["details"]["actions"]["compute"].update(binary_ops="x"),
     "ValueError"),
    (lambda d: d["trace"][0].update(end=-1), "trace[0]"),
])
def test_malformed_results_are_one_line(tmp_path, traced_doc, edit, words):
    doc = json.loads(json.dumps(traced_doc))
    edit(doc)
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc).replace("Infinity", "1e400"))
    with pytest.raises(ConfigError) as err:
        T.load_result(path)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_incremental_hypervolume_equals_recomputing_each_front(records):
    from explorer.evaluate import pareto_front
    from explorer.study import hypervolume

    hv = T.hypervolume_table(records)
    objectives = tuple(records.objectives)
    ok = [t for t in sorted(records.trials, key=lambda t: t["number"]) if t["admissible"]]
    pts = [[t["metrics"][m] for m, _ in objectives] for t in ok]
    cols = list(zip(*pts, strict=True))
    bounds = ([min(c) for c in cols], [max(c) for c in cols])
    for i, t in enumerate(ok):
        prefix = [(j, ok[j]["metrics"]) for j in range(i + 1)]
        front = [pts[j] for j in pareto_front(prefix, objectives)]
        expected = hypervolume(front, objectives, bounds)
        got = float(hv.loc[hv["trial"] == t["number"], "hypervolume"].iloc[0])
        assert got == pytest.approx(expected, abs=1e-12)


def test_trace_tracks_resolve_layer_names_with_colons():
    from reports.trace import trace_track

    names = ["blk:conv1", "blk", "head:fc"]
    assert trace_track({"component": "array", "label": "blk:conv1:tile3"}, names) == (
        "array", "blk:conv1", "tile3")
    assert trace_track({"component": "dram", "label": "blk:ch1:weights"}, names) == (
        "dram ch1", "blk", "weights")
    assert trace_track({"component": "dram", "label": "head:fc:ch0:inputs"}, names) == (
        "dram ch0", "head:fc", "inputs")
    assert trace_track({"component": "ppu", "label": "x:y"}) == ("ppu", "x", "y")
