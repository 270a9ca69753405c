"""The contract every accelerator family meets (``simulator.family.Family``).

Subclass :class:`FamilyContract` and supply the fixtures ``family`` (an instance) and
``chip_data`` (a valid chip mapping as read from YAML); optionally ``workload`` (default: the
zoo's ``sfc``) and ``infeasible_overrides`` (``--set`` strings that make the workload
infeasible on that chip; ``None`` skips that check).
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import pytest

from simulator.family import Family
from simulator.result import SCHEMA_VERSION, Result
from simulator.settings import Schema, unflatten
from workloads.errors import ConfigError, InfeasibleError
from workloads.network import Network
from workloads.zoo import get_network

__all__ = ["FamilyContract"]


def _one_line(err: BaseException) -> str:
    text = str(err)
    assert "\n" not in text, f"error message spans lines: {text!r}"
    return text


def _with(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(data)
    node = out
    *parents, leaf = path.split(".")
    for p in parents:
        node = node.setdefault(p, {})
    if value is _DELETE:
        node.pop(leaf, None)
    else:
        node[leaf] = value
    return out


_DELETE = object()


class FamilyContract:
    """Checks of the family seam: spec schema, validation, overrides, built-ins, results."""

    @pytest.fixture
    def workload(self) -> Network:
        return get_network("sfc")

    @pytest.fixture
    def infeasible_overrides(self) -> list[str] | None:
        return None

    @pytest.fixture
    def spec(self, family: Family, chip_data: dict[str, Any]) -> Any:
        return family.spec_from_dict(chip_data, file="contract.yaml")

    # ------------------------------------------------------------------ identity
    def test_identity(self, family: Family) -> None:
        assert isinstance(family, Family)
        assert isinstance(family.name, str) and family.name
        assert family.engines and all(isinstance(e, str) and e for e in family.engines)
        assert set(family.trace_engines) <= set(family.engines)
        assert isinstance(family.schema, Schema)
        assert "family" in family.schema and "name" in family.schema
        assert family.schema["family"].choices == (family.name,)

    # ------------------------------------------------------------------ specs
    def test_spec_carries_family_name_and_digest(self, family: Family, spec: Any,
                                                 chip_data: dict[str, Any]) -> None:
        assert spec.family == family.name
        assert spec.name == chip_data["name"]
        assert spec.clock_mhz > 0 and spec.source == "contract.yaml"
        assert isinstance(spec.digest(), str) and spec.digest()
        assert dict(spec.raw)["family"] == family.name
        assert family.spec_from_dict({**chip_data, "family": family.name}).digest() \
            == spec.digest()

    def test_spec_round_trips_through_its_dict(self, family: Family, spec: Any) -> None:
        again = family.spec_from_dict(spec.to_dict(), file="again.yaml")
        assert again.raw == spec.raw and again.digest() == spec.digest()
        assert unflatten(dict(spec.raw)) == spec.to_dict()

    def test_not_a_mapping(self, family: Family) -> None:
        with pytest.raises(ConfigError, match="mapping") as err:
            family.spec_from_dict([1, 2], file="x.yaml")
        assert "x.yaml" in _one_line(err.value)

    def test_unknown_key(self, family: Family, chip_data: dict[str, Any]) -> None:
        with pytest.raises(ConfigError, match="unknown key") as err:
            family.spec_from_dict({**chip_data, "no_such_key": 1}, file="x.yaml")
        assert "no_such_key" in _one_line(err.value)

    def test_every_required_key_is_required(self, family: Family,
                                            chip_data: dict[str, Any]) -> None:
        for path, setting in family.schema.items():
            if not setting.required:
                continue
            with pytest.raises(ConfigError, match="missing required key") as err:
                family.spec_from_dict(_with(chip_data, path, _DELETE), file="x.yaml")
            assert path in _one_line(err.value)

    def test_every_setting_rejects_a_bad_value(self, family: Family,
                                               chip_data: dict[str, Any]) -> None:
        for path, s in family.schema.items():
            if s.numeric:
                bad: Any = (s.low - 1) if s.low is not None else "not a number"
            elif s.kind == "bool":
                bad = "yes"
            elif s.choices is not None:
                bad = "no-such-choice"
            else:
                bad = 7  # a string setting given a number
            with pytest.raises(ConfigError) as err:
                family.spec_from_dict(_with(chip_data, path, bad), file="x.yaml")
            text = _one_line(err.value)
            assert "x.yaml" in text and path in text, (path, text)

    def test_overrides_validate_like_the_file(self, family: Family, spec: Any) -> None:
        numeric = [(p, s) for p, s in family.schema.items() if s.numeric and s.high is not None]
        assert numeric, "a family has at least one numeric setting"
        path, s = numeric[0]
        assert s.high is not None
        value = s.high if s.kind == "float" else int(s.high)
        new = family.apply_overrides(spec, [f"{path}={value}"])
        assert dict(new.raw)[path] == value and new.family == family.name
        assert family.apply_overrides(spec, {path: value}).raw == new.raw
        with pytest.raises(ConfigError) as err:
            family.apply_overrides(spec, [f"{path}={s.high * 2 + 1}"])
        assert path in _one_line(err.value)
        with pytest.raises(ConfigError, match="not a chip setting"):
            family.apply_overrides(spec, ["no.such.key=1"])
        with pytest.raises(ConfigError, match="KEY=VALUE"):
            family.apply_overrides(spec, ["no-equals-sign"])

    def test_builtin_chips_load(self, family: Family) -> None:
        for name in family.builtin_names():
            chip = family.load_builtin(name)
            assert chip.name == name and chip.family == family.name
            assert family.describe(chip) and "\n" not in family.describe(chip)

    # ------------------------------------------------------------------ results
    def test_results_keep_the_contract(self, family: Family, spec: Any,
                                       workload: Network) -> None:
        for engine in family.engines:
            result = family.simulate(workload, spec, engine=engine)
            assert isinstance(result, Result)
            assert (result.family, result.engine, result.chip) == (family.name, engine,
                                                                   spec.name)
            assert [x.name for x in result.layers] == [x.name for x in workload.layers]
            assert 0 < result.interval_cycles <= result.latency_cycles
            assert all(x.cycles >= 0 and 0 <= x.utilization <= 1 for x in result.layers)
            assert result.frames_per_s == pytest.approx(spec.clock_mhz * 1e6
                                                        / result.interval_cycles)
            assert result.latency_s == pytest.approx(result.latency_cycles
                                                     / (spec.clock_mhz * 1e6))
            assert result.macs == workload.macs and result.weight_bits == workload.weight_bits
            for x in result.layers:
                assert x.energy_pj >= 0
                assert math.isclose(x.energy_pj, sum(x.energy_breakdown_pj.values()),
                                    rel_tol=1e-12, abs_tol=1e-9)
            assert result.area_mm2 == pytest.approx(sum(result.area_breakdown_mm2.values()))
            doc = result.to_dict()
            assert doc["schema_version"] == SCHEMA_VERSION and doc["family"] == family.name
            json.dumps(doc, allow_nan=False)  # valid JSON: no NaN or infinity
            rows = result.layer_rows()
            assert len(rows) == len(workload.layers)
            assert all(list(r) == list(rows[0]) for r in rows)  # one set of CSV columns

    def test_trace_engines_record_busy_intervals(self, family: Family, spec: Any,
                                                 workload: Network) -> None:
        for engine in family.engines:
            result = family.simulate(workload, spec, engine=engine, trace=True)
            if engine in family.trace_engines:
                assert result.trace, f"{engine} records no trace"
                for t in result.trace:
                    assert 0 <= t.start < t.end <= result.latency_cycles
            assert "trace" not in result.to_dict()  # only when asked for
            assert bool(result.to_dict(include_trace=True).get("trace")) \
                == (engine in family.trace_engines)

    def test_results_are_deterministic(self, family: Family, spec: Any,
                                       workload: Network) -> None:
        a = family.simulate(workload, spec).to_dict()
        b = family.simulate(workload, spec).to_dict()
        assert a == b

    def test_unknown_engine_is_a_config_error(self, family: Family, spec: Any,
                                              workload: Network) -> None:
        with pytest.raises(ConfigError, match="no-such-engine"):
            family.simulate(workload, spec, engine="no-such-engine")

    def test_infeasible_design_is_an_infeasible_error(
            self, family: Family, spec: Any, workload: Network,
            infeasible_overrides: list[str] | None) -> None:
        if infeasible_overrides is None:
            pytest.skip("the family gave no infeasible design")
        small = family.apply_overrides(spec, infeasible_overrides)
        with pytest.raises(InfeasibleError) as err:
            family.simulate(workload, small)
        e = err.value
        assert e.layer in {x.name for x in workload.layers}
        assert e.resource.split(".")[0] in {k.split(".")[0] for k in family.schema}
        assert e.needed > e.available
        assert e.layer in _one_line(e)
