"""The bnnsim command line: simulate's table, --json schema, --csv, --trace, list."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from bnnsim.cli import main

LAYER_KEYS = {"name", "macs", "cycles", "dram_bytes", "energy_pj", "utilization", "bound",
              "details"}
TOTAL_KEYS = {"latency_cycles", "interval_cycles", "latency_s", "frames_per_s", "energy_pj",
              "area_mm2", "dram_bytes", "macs", "weight_bits"}


def test_default_simulate_prints_table_and_totals(capsys):
    assert main(["simulate"]) == 0
    out = capsys.readouterr().out
    assert "bnn-cifar10 (w1a1; conv1 w1a8) on edge" in out
    for word in ("conv1", "fc3", "latency", "energy/inference", "TOPS/W", "area",
                 "frames/s", "stall", "array utilization"):
        assert word in out


@pytest.mark.parametrize("engine", ["analytical", "event"])
def test_json_schema(tmp_path, engine):
    out = tmp_path / "r.json"
    assert main(["simulate", "--network", "cnv", "--engine", engine, "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert set(data["total"]) >= TOTAL_KEYS
    assert data["total"]["macs"] == 59_461_376
    assert data["engine"] == engine and data["schema_version"] == 6
    assert data["family"] == "overlay"
    for layer in data["layers"]:
        assert set(layer) >= LAYER_KEYS
        assert layer["bound"] in ("compute", "ppu", "dram", "buffers")
        causes = layer["details"]["stall_causes"]
        if engine == "event":
            assert sum(causes.values()) == layer["details"]["stall_cycles"]
        else:
            assert causes == {}
        assert 0 <= layer["utilization"] <= 1
        assert layer["details"]["stall_cycles"] == layer["cycles"] - \
            layer["details"]["compute_cycles"]
    total = data["total"]
    assert total["latency_cycles"] == total["interval_cycles"] \
        == sum(x["cycles"] for x in data["layers"])
    prov = data["provenance"]
    assert {"bnnsim_version", "chip_digest", "tech_source", "workload_digest"} <= set(prov)


def test_json_to_stdout_is_pure_json(capsys):
    assert main(["simulate", "--network", "sfc", "--json", "-"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["network"] == "sfc"


def test_csv_and_trace(tmp_path):
    table, trace = tmp_path / "l.csv", tmp_path / "t.csv"
    assert main(["simulate", "--network", "sfc", "--engine", "event", "--csv", str(table),
                 "--trace", str(trace)]) == 0
    rows = list(csv.DictReader(table.open()))
    assert [r["name"] for r in rows] == ["fc1", "fc2", "fc3", "fc4"]
    assert {"cycles", "energy_pj", "energy_breakdown_pj.dram", "details.stall_cycles",
            "details.mapping.tk", "details.mapping.order"} <= set(rows[0])
    spans = list(csv.DictReader(trace.open()))
    assert {r["component"] for r in spans} >= {"dram", "array", "ppu"}


def test_trace_needs_event_engine(tmp_path, capsys):
    trace = tmp_path / "t.csv"
    assert main(["simulate", "--network", "sfc", "--engine", "analytical", "--trace",
                 str(trace)]) == 2
    assert "engines that do: event" in capsys.readouterr().err and not trace.exists()
    assert main(["simulate", "--network", "sfc", "--trace", str(trace)]) == 0  # event implied
    assert trace.read_text().startswith("component,start,end,label")


def test_quant_and_set(tmp_path):
    out = tmp_path / "r.json"
    assert main(["simulate", "--network", "lfc", "--quant", "w1a2", "--set", "clock_mhz=400",
                 "--set", "pe_array.rows=32", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["quant"] == "w1a2" and data["clock_mhz"] == 400
    # 2 activation planes
    assert data["layers"][1]["details"]["actions"]["compute"]["binary_ops"] == 1024 * 1024 * 2


def test_quant_file(tmp_path):
    spec = tmp_path / "q.yaml"
    spec.write_text("default: w1a1\nlayers:\n  fc2: w2a2\n")
    out = tmp_path / "r.json"
    assert main(["simulate", "--network", "lfc", "--quant", str(spec), "--json", str(out)]) == 0
    layers = {x["name"]: x for x in json.loads(out.read_text())["layers"]}
    assert layers["fc2"]["precision"] == "w2a2" and layers["fc3"]["precision"] == "w1a1"


def test_list(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("sfc", "lfc", "mnist-cnv", "cnv", "bnn-cifar10", "vgg-small", "alexnet",
                 "resnet18", "edge", "large", "int8-baseline", "pynq-z1", "45nm"):
        assert name in out
    assert main(["list", "--json", "-"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["networks"]) == 8
    assert data["families"] == {"overlay": {"engines": ["analytical", "event"]},
                                "dataflow": {"engines": ["analytical", "event"]}}
    assert {c["family"] for c in data["chips"]} == {"overlay", "dataflow"}
    kinds = {d["name"]: d for d in data["dram_types"]}
    assert set(kinds) == {"ddr3", "ddr4", "lpddr4", "lpddr5", "hbm2", "gddr5"}
    assert kinds["lpddr4"]["channel_gbps"] == 6.4 and kinds["hbm2"]["energy_pj_per_bit"] == 3.9
    assert all(d["source"] for d in data["dram_types"])


def test_simulate_does_not_import_torch():
    code = ("import sys; from bnnsim.cli import main; main(['simulate', '--network', 'sfc',"
            " '--json', '-']); assert 'torch' not in sys.modules, 'torch imported'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_python_api_mirrors_cli():
    from simulator import simulate
    from workloads import get_network

    r = simulate(get_network("sfc"), "edge", engine="event")
    assert r.to_dict()["total"]["macs"] == 334_336


def test_a_closed_pipe_on_stdout_loses_no_output_file(tmp_path, monkeypatch):
    """``bnnsim simulate --json FILE | head -1``: the reader goes away while the table prints;
    the command still finishes and writes FILE."""
    import io

    class ClosedPipe(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    monkeypatch.setattr("bnnsim.cli._silence_stdout", lambda: None)  # (no real descriptor)
    out = tmp_path / "r.json"
    assert main(["simulate", "--network", "sfc", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["network"] == "sfc"
