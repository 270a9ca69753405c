"""Errors by kind: bad input (ConfigError, one line, exit 2), an infeasible design
(InfeasibleError, naming layer, resource and sizes), API misuse (ValueError / TypeError), and
internal bugs (tracebacks, never dressed up as user errors)."""

from __future__ import annotations

import pytest

import simulator
from bnnsim.cli import main
from simulator import apply_overrides, load_chip, simulate
from simulator.overlay import OverlayFamily
from simulator.overlay.mapping import price
from simulator.overlay.problem import problem_for
from workloads import get_network, load_network
from workloads.errors import BnnsimError, ConfigError, InfeasibleError


def test_config_errors_are_not_value_errors():
    err = ConfigError("must be positive", file="a.yaml", key="x", value=-1, has_value=True)
    assert isinstance(err, BnnsimError) and not isinstance(err, ValueError)
    assert str(err) == "a.yaml: key 'x': value -1: must be positive"


def test_a_newline_in_a_key_keeps_one_line():
    err = ConfigError("unknown key", file="a.yaml", key="bad\nkey")
    assert "\n" not in str(err)


def test_infeasible_design_names_layer_resource_and_sizes():
    chip = apply_overrides(load_chip("edge"), ["buffers.input.size_kib=0.0625"])
    with pytest.raises(InfeasibleError) as info:
        simulate(get_network("resnet18"), chip)
    e = info.value
    assert isinstance(e, ConfigError)  # the CLI reports it as bad input (exit 2)
    assert (e.layer, e.resource, e.unit) == ("conv1", "buffers.input.size_kib", "KiB")
    assert e.needed > e.available == 0.0625
    assert "layer 'conv1'" in str(e) and "buffers.input.size_kib" in str(e)


def test_a_search_can_record_infeasible_designs_without_swallowing_typos():
    def evaluate(overrides):
        try:
            return simulate(get_network("sfc"), apply_overrides(load_chip("edge"), overrides))
        except InfeasibleError as err:
            return err

    assert isinstance(evaluate(["buffers.weight.size_kib=0.0625", "ppu.lanes=1"]),
                      simulator.Result)
    with pytest.raises(ConfigError, match="not a chip setting"):
        evaluate(["pe_array.rowz=2"])


def test_api_misuse_is_value_or_type_error():
    chip = load_chip("edge")
    p = problem_for(get_network("sfc").layers[0], chip)
    with pytest.raises(ValueError, match="tk must be in"):
        price(p, chip, tk=0, tc=1, toy=1, tox=1)
    with pytest.raises(ValueError, match="permutation"):
        price(p, chip, tk=1, tc=1, toy=1, tox=1, order=("k", "k", "p"))
    with pytest.raises(TypeError, match="cannot run"):
        problem_for(object(), chip)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="overlay Chip"):
        OverlayFamily().simulate(get_network("sfc"), object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="checkpoint"):
        load_network("trained.pt")


def test_internal_bugs_stay_tracebacks(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(simulator, "simulate", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["simulate", "--network", "sfc"])


def test_cli_reports_an_infeasible_design_in_one_line(capsys):
    assert main(["simulate", "--network", "resnet18", "--set",
                 "buffers.input.size_kib=0.0625"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "cannot be mapped" in err and "conv1" in err
