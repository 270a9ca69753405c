"""Search-space files: the default one loads, and every kind of bad file is one clear line."""

from __future__ import annotations

from importlib.resources import as_file, files

import pytest
from conftest import SMALL, write_space

from explorer.space import load_space
from workloads.errors import ConfigError


def test_the_default_space_loads():
    with as_file(files("explorer") / "spaces" / "default.yaml") as path:
        space = load_space(path)
    assert space.network == "lfc" and space.quants == ("w1a1", "w1a2", "wta2", "w2a2")
    assert [m for m, _ in space.objectives] == ["accuracy", "energy", "latency"]
    assert space.grid_size() == 8 * 8 * 3 * 3 * 4 * 2 * 4


def test_small_space(small_space):
    space = load_space(small_space)
    assert space.grid_size() == 32
    assert space.metrics == ("accuracy", "energy", "latency", "area")
    assert space.digest == load_space(small_space).digest  # stable


def test_digest_changes_with_the_space(tmp_path):
    a = load_space(write_space(tmp_path))
    b = load_space(write_space(tmp_path, name="other",
                               quant={"choices": ["w1a1"]}))
    assert a.digest != b.digest


@pytest.mark.parametrize(("changes", "words"), [
    ({"colour": 1}, "key 'colour': unknown key"),
    ({"parameters": {"pe_array.legs": {"choices": [1]}}}, "not a field of the chip"),
    ({"parameters": {"pe_array.rows": {"low": 0, "high": 8}}}, "pe_array.rows"),
    ({"parameters": {"pe_array.rows": {"low": 8, "high": 4}}}, "low must be below high"),
    ({"parameters": {"pe_array.rows": {"low": 2.5, "high": 8}}}, "integer bounds"),
    ({"parameters": {"dataflow": {"low": 1, "high": 2}}}, "takes {choices"),
    ({"parameters": {"dataflow": {"choices": ["diagonal"]}}}, "allowed"),
    ({"parameters": {"pe_array.rows": {"choices": [4, 4]}}}, "repeated choice"),
    ({"parameters": {"name": {"choices": ["x"]}}}, "not a searchable field"),
    ({"parameters": {"clock_mhz": {"low": 100, "high": 200, "log": True, "step": 10}}},
     "without log"),
    ({"quant": {"choices": ["wxa1"]}}, "quant.choices"),
    ({"quant": {"choices": []}}, "non-empty list"),
    ({"objectives": {"happiness": "max"}}, "unknown metric"),
    ({"objectives": {"energy": "lowest"}}, "allowed: min, max"),
    ({"objectives": {}}, "a mapping of metric"),
    ({"constraints": {"area": {"max": 1, "min": 2}}}, "min must not exceed max"),
    ({"constraints": {"area": {"most": 1}}}, "unknown key"),
    ({"accuracy": None}, "needs an accuracy source"),
    ({"accuracy": {"table": {"w1a1": 97.0}}}, "no accuracy for w1a2"),
    ({"accuracy": {"table": {"w1a1": 170.0, "w1a2": 1}}}, "0 to 100"),
    ({"parameters": {"dram.burst_bytes": {"choices": [32, 48]}}},
     "key 'parameters.dram.burst_bytes': value 48: must be a power of two"),
    ({"network": "no-such-net"}, "network"),
    ({"chip": "no-such-chip"}, "chip"),
])
def test_bad_space_files_are_one_line(tmp_path, changes, words):
    path = write_space(tmp_path, **changes)
    with pytest.raises(ConfigError) as info:
        load_space(path)
    text = str(info.value)
    assert words in text and "\n" not in text
    assert str(path) in text or "--space" in text or "no-such" in text


def test_values_that_meet_other_fields_stay_trials(tmp_path):
    """A value refused only with the chip's other fields (int8 PEs on 64-bit lanes; weight
    sharing on XNOR PEs) may meet good ones elsewhere in the space: it loads."""
    space = load_space(write_space(tmp_path, parameters={
        "pe_array.pe_type": {"choices": ["xnor", "int8", "adder2"]},
        "pe_array.weight_sharing": {"choices": ["none", "decompose"]}}))
    assert len(space.parameters) == 2


def test_missing_and_non_mapping_files(tmp_path):
    with pytest.raises(ConfigError, match="no such space file"):
        load_space(tmp_path / "nope.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="is a mapping"):
        load_space(tmp_path / "list.yaml")


def test_accuracy_table_from_csv(tmp_path):
    (tmp_path / "acc.csv").write_text("quant,accuracy\nw1a1,97.1\nw1a2,97.6\n")
    space = load_space(write_space(tmp_path, accuracy={"table": "acc.csv"}))
    assert space.accuracy is not None and space.accuracy.get("w1a2") == 97.6
    (tmp_path / "bad.csv").write_text("q,a\nw1a1,x\n")
    with pytest.raises(ConfigError, match="header line"):
        load_space(write_space(tmp_path, accuracy={"table": "bad.csv"}))


def test_grid_needs_a_step_for_float_ranges(tmp_path):
    space = load_space(write_space(tmp_path, parameters={
        **SMALL["parameters"], "clock_mhz": {"low": 100.0, "high": 200.0}}))
    with pytest.raises(ConfigError, match="a grid needs"):
        space.grid_size()


def test_a_space_without_quant_uses_the_networks_own(tmp_path):
    data = {k: v for k, v in SMALL.items() if k not in ("quant", "accuracy")}
    data["objectives"] = {"energy": "min"}
    path = tmp_path / "noq.yaml"
    import yaml

    path.write_text(yaml.safe_dump(data))
    space = load_space(path)
    assert space.quants == ("",) and space.grid_size() == 16


def test_float_grids_stay_inside_their_range(tmp_path):
    space = load_space(write_space(tmp_path, parameters={
        "node.voltage_v": {"low": 0.3, "high": 1.5, "step": 0.1}}))
    values = space.parameters[0].grid()
    assert len(values) == 13 and values[0] == 0.3 and values[-1] == 1.5
    assert all(0.3 <= v <= 1.5 for v in values)


def test_grid_size_is_counted_not_built(tmp_path):
    space = load_space(write_space(tmp_path, parameters={
        "clock_mhz": {"low": 1, "high": 10000, "step": 0.00001}}))
    assert space.grid_size() > 10**9  # instantly, without a billion-value list


def test_the_digest_is_the_content_not_the_path(tmp_path):
    import shutil

    import yaml

    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    (one / "chip.yaml").write_text((files("simulator.overlay") / "chips" / "edge.yaml")
                                   .read_text())
    write_space(one, chip="chip.yaml")
    shutil.copytree(one, two)
    a, b = load_space(one / "small.yaml"), load_space(two / "small.yaml")
    assert a.chip != b.chip and a.digest == b.digest  # moved: the same space
    chip = yaml.safe_load((two / "chip.yaml").read_text())
    chip["clock_mhz"] = 250
    (two / "chip.yaml").write_text(yaml.safe_dump(chip))
    assert load_space(two / "small.yaml").digest != a.digest  # edited chip: another space


def test_a_checkpoint_as_the_network_is_one_line(tmp_path):
    (tmp_path / "model.pt").write_bytes(b"not really")
    with pytest.raises(ConfigError) as info:
        load_space(write_space(tmp_path, network="model.pt"))
    assert "zoo name or a network YAML" in str(info.value) or "checkpoint" in str(info.value)


def test_per_layer_spaces_want_compact_bodies_and_real_networks(tmp_path):
    (tmp_path / "q.yaml").write_text("default: w1a2\n")
    with pytest.raises(ConfigError, match="compact specs"):
        load_space(write_space(tmp_path, quant={"choices": ["w1a2", str(tmp_path / "q.yaml")],
                                                "layers": {"fc2": {"choices": ["w4a4"]}}},
                               objectives={"energy": "min"}, accuracy=None))
    (tmp_path / "net.pt").write_bytes(b"x")
    with pytest.raises(ConfigError, match="key 'network'"):
        load_space(write_space(tmp_path, network="net.pt",
                               quant={"choices": ["w1a1"],
                                      "layers": {"fc4": {"choices": ["w8a8"]}}},
                               objectives={"energy": "min"}, accuracy=None))


def test_specs_are_not_case_sensitive(tmp_path):
    with pytest.raises(ConfigError, match="repeated choice"):
        load_space(write_space(tmp_path, quant={"choices": ["w1a2", "W1A2"]}))
    space = load_space(write_space(tmp_path, quant={"choices": ["W1A1", "w1a2"]},
                                   accuracy={"table": {"w1a1": 97.0, "W1A2": 97.5}}))
    assert space.quants == ("w1a1", "w1a2")


def test_a_huge_per_layer_table_is_refused_quickly(tmp_path):
    import time

    layers = {f"fc{i}": {"choices": ["w1a1", "w1a2", "w2a2", "w4a4", "w8a8"]}
              for i in range(1, 5)}
    start = time.perf_counter()
    with pytest.raises(ConfigError, match="no accuracy for") as info:
        load_space(write_space(tmp_path, quant={"choices": ["w1a1"], "layers": layers},
                               accuracy={"table": {"w1a1": 97.0}}))
    assert "more" in str(info.value) and len(str(info.value)) < 1000
    assert time.perf_counter() - start < 30
