"""Chip files: built-ins load, --set overrides validate like files, bad files fail cleanly.

Each bad file must give exactly one line on stderr naming the file, the key, the value and
what is allowed, exit code 2, and no traceback.
"""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import yaml
from conftest import TINY

from bnnsim.cli import main
from simulator import apply_overrides, builtin_chips, load_chip
from workloads.errors import ConfigError


def write(tmp_path, data, name="chip.yaml"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return path


def run_cli(capsys, *argv):
    rc = main(["simulate", "--network", "sfc", *argv])
    err = capsys.readouterr().err.strip()
    return rc, err


def tiny_with(path: str, value):
    data = copy.deepcopy(TINY)
    node = data
    *parents, leaf = path.split(".")
    for p in parents:
        node = node[p]
    if value is DELETE:
        del node[leaf]
    else:
        node[leaf] = value
    return data


DELETE = object()


def test_builtin_chips_load():
    assert {"edge", "large", "int8-baseline"} <= set(builtin_chips())
    for name in builtin_chips():
        chip = load_chip(name)
        assert chip.name == name


@pytest.mark.parametrize(("key", "value", "expect"), [
    ("pe_array.rows", DELETE, "missing required key"),
    ("dram.type", DELETE, "missing required key"),
    ("pe_array.rows", 0, "integer in [1, 4096]"),
    ("pe_array.cols", -4, "integer in [1, 4096]"),
    ("pe_array.lane_bits", 2.5, "integer in [1, 4096]"),
    ("buffers.input.size_kib", 0, "number in [0.0625"),
    ("buffers.weight.size_kib", -1, "number in [0.0625"),
    ("dram.data_rate_mtps", "fast", "number in [1.0"),
    ("dram.type", "sram", "allowed: ddr3, ddr4, lpddr4"),
    ("dram.channels", True, "number in [1, 64]"),
    ("buffers.output.double_buffered", "yes", "true or false"),
    ("dataflow", "row_stationary", "allowed: output_stationary, weight_stationary"),
    ("pe_array.pe_type", "fp32", "allowed: xnor, xnor_mask, int8"),
    ("pe_array.packing", "im2col", "allowed: channel, kernel"),
    ("dram.burst_bytes", 48, "power of two"),
    ("clock_mhz", [200], "number in [1.0"),
])
def test_bad_values_one_line_exit_2(tmp_path, capsys, key, value, expect):
    path = write(tmp_path, tiny_with(key, value))
    rc, err = run_cli(capsys, "--chip", str(path))
    assert rc == 2
    assert err.count("\n") == 0, err
    assert str(path) in err and f"key '{key}'" in err and expect in err
    if value is not DELETE:
        assert repr(value) in err


def test_unknown_key(tmp_path, capsys):
    data = tiny_with("pe_array.rows", 2)
    data["pe_array"]["rowz"] = 4
    rc, err = run_cli(capsys, "--chip", str(write(tmp_path, data)))
    assert rc == 2 and "key 'pe_array.rowz'" in err and "unknown key" in err
    assert "rows" in err  # the allowed keys are listed


def test_duplicate_key(tmp_path, capsys):
    text = yaml.safe_dump(TINY) + "clock_mhz: 300\n"
    rc, err = run_cli(capsys, "--chip", str(write(tmp_path, text)))
    assert rc == 2 and "key 'clock_mhz'" in err and "duplicate key" in err


def test_not_yaml_and_not_a_mapping(tmp_path, capsys):
    rc, err = run_cli(capsys, "--chip", str(write(tmp_path, "pe_array: [1, 2\n")))
    assert rc == 2 and "not valid YAML" in err
    rc, err = run_cli(capsys, "--chip", str(write(tmp_path, "- 1\n- 2\n", "list.yaml")))
    assert rc == 2 and "must be a mapping" in err


def test_section_must_be_a_mapping(tmp_path, capsys):
    rc, err = run_cli(capsys, "--chip", str(write(tmp_path, tiny_with("dram", 4))))
    assert rc == 2 and "key 'dram'" in err and "expected a mapping" in err


def test_unmappable_layer_names_layer_buffer_and_size(tmp_path, capsys):
    data = tiny_with("buffers.weight.size_kib", 0.0625)
    data["buffers"]["weight"]["double_buffered"] = True
    path = write(tmp_path, data)
    rc = main(["simulate", "--network", "alexnet", "--chip", str(path)])
    err = capsys.readouterr().err.strip()
    # conv1 of AlexNet: one 11×11 kernel at 8 bits = 968 bits; a slot holds 256
    assert rc == 2 and err.count("\n") == 0
    assert "layer 'conv1'" in err and "weight buffer" in err and "968 bits" in err
    assert "buffers.weight.size_kib ≥ 0.2363" in err and str(path) in err


def test_set_overrides_validate_like_the_file(capsys):
    chip = apply_overrides(load_chip("edge"), ["clock_mhz=300", "pe_array.rows=32"])
    assert chip.clock_mhz == 300 and chip.pe_array.rows == 32
    with pytest.raises(ConfigError, match=r"key 'pe_array.rows'.*integer in"):
        apply_overrides(load_chip("edge"), ["pe_array.rows=0"])
    with pytest.raises(ConfigError, match=r"not a chip setting; did you mean pe_array\.rows"):
        apply_overrides(load_chip("edge"), ["rows=3"])
    rc, err = run_cli(capsys, "--set", "dram.channels=1.5")
    assert rc == 2 and "key 'dram.channels'" in err and "1.5" in err
    rc, err = run_cli(capsys, "--set", "nonsense")
    assert rc == 2 and "KEY=VALUE" in err


def test_missing_chip_file(capsys):
    rc, err = run_cli(capsys, "--chip", "no/such/chip.yaml")
    assert rc == 2 and "no/such/chip.yaml" in err and "edge" in err


def test_bad_tech_table(tmp_path, capsys):
    rc, err = run_cli(capsys, "--set", "tech=nope.yaml")
    assert rc == 2 and "technology table" in err
    table = write(tmp_path, {"name": "x", "leakage_mw_per_mm2": 1,
                             "entries": [{"component": "xnor", "action": "xnor",
                                          "energy_pj": -1, "source": "me"}]}, "t.yaml")
    rc, err = run_cli(capsys, "--set", f"tech={table}")
    assert rc == 2 and "entries[0].energy_pj" in err and "-1" in err


def test_no_traceback_in_a_real_process(tmp_path):
    path = write(tmp_path, tiny_with("pe_array.rows", 0))
    proc = subprocess.run([sys.executable, "-m", "bnnsim", "simulate", "--chip", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0
    assert "key 'pe_array.rows'" in proc.stderr


def test_dram_type_defaults_and_overrides():
    # edge: one LPDDR4-3200 x16 channel (6.4 GB/s, 32-byte bursts, 8 pJ/bit), latency set to
    # 100 ns in the file; another type brings its own defaults, the file's latency stays
    edge = load_chip("edge")
    d = edge.dram
    assert (d.type, d.channels, d.channel_gbps, d.burst_bytes, d.latency_ns,
            d.energy_pj_per_bit) == ("lpddr4", 1, 6.4, 32, 100.0, 8.0)
    hbm = apply_overrides(edge, ["dram.type=hbm2", "dram.channels=8"]).dram
    assert (hbm.channel_gbps, hbm.bandwidth_gbps, hbm.burst_bytes, hbm.latency_ns,
            hbm.energy_pj_per_bit) == (32.0, 256.0, 32, 100.0, 3.9)
    slow = apply_overrides(edge, ["dram.data_rate_mtps=2133"])
    assert slow.dram.channel_gbps == pytest.approx(4.266)
    assert slow.dram_bytes_per_cycle == pytest.approx(4.266e9 / 200e6)


@pytest.mark.parametrize("how", ["file", "--set"])
def test_total_bandwidth_key_is_reported_as_replaced(tmp_path, capsys, how):
    if how == "file":
        data = copy.deepcopy(TINY)
        data["dram"]["bandwidth_gbps"] = 4.0
        rc, err = run_cli(capsys, "--chip", str(write(tmp_path, data)))
    else:
        rc, err = run_cli(capsys, "--set", "dram.bandwidth_gbps=8")
    assert rc == 2 and err.count("\n") == 0
    assert "dram.bandwidth_gbps" in err and "no longer a setting" in err
    assert "dram.type" in err and "dram.channels" in err
