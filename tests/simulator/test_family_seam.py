"""A second family, defined here and nowhere else, plugs into the seam without touching the
overlay: it passes the family contract, loads from a chip file with ``family: toy``, and runs
through ``simulator.simulate`` and ``bnnsim simulate`` once registered (one line in
``simulator/families.py``; here a monkeypatch).

The toy is a streaming pipeline: one MAC unit per layer with ``macs_per_cycle`` MACs, all
layers working on different frames at once, weights on chip. Its interval is the slowest
stage and its latency the sum of the stages — the two numbers the neutral Result separates.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

import simulator.api
from bnnsim.cli import main
from simulator import FAMILIES, Family, LayerResult, Result, load_chip, simulate
from simulator.family import spec_digest
from simulator.settings import Schema, Setting, unflatten
from simulator.testing.family import FamilyContract
from workloads import get_network
from workloads.errors import ConfigError, InfeasibleError
from workloads.network import Network


@dataclass(frozen=True, slots=True)
class ToyChip:
    name: str
    clock_mhz: float
    macs_per_cycle: int
    weight_kib: float
    source: str = ""
    raw: tuple[tuple[str, Any], ...] = ()
    family: str = "toy"

    def digest(self) -> str:
        return spec_digest(self.raw)

    def to_dict(self) -> dict[str, Any]:
        return unflatten(dict(self.raw))


@dataclass(frozen=True, slots=True)
class ToyStage:
    macs_per_cycle: int


class ToyFamily(Family):
    name = "toy"
    engines = ("closed_form",)
    schema = Schema({
        "family": Setting("str", choices=("toy",), required=False, default="toy"),
        "name": Setting("str"),
        "clock_mhz": Setting("float", 1.0, 1000.0),
        "stage.macs_per_cycle": Setting("int", 1, 1 << 16),
        "stage.weight_kib": Setting("float", 0.125, 1 << 16),
    })

    def from_settings(self, values: Any, *, file: str | None) -> ToyChip:
        return ToyChip(values["name"], values["clock_mhz"], values["stage.macs_per_cycle"],
                       values["stage.weight_kib"], file or "", tuple(sorted(values.items())))

    def describe(self, spec: Any) -> str:
        return f"pipeline of {spec.macs_per_cycle}-MAC stages"

    def simulate(self, workload: Network, spec: Any, *, engine: Any = None, tech: Any = None,
                 trace: bool = False, batch: int = 1) -> Result:
        if batch != 1:
            raise ConfigError("the toy pipeline runs one frame", key="--batch", value=batch,
                              has_value=True)
        if engine not in (None, *self.engines):
            raise ConfigError(f"allowed: {', '.join(self.engines)}", key="--engine",
                              value=engine, has_value=True)
        layers = []
        for layer in workload.layers:
            kib = layer.weight_bits / 8192
            if kib > spec.weight_kib:
                raise InfeasibleError(
                    f"layer '{layer.name}' needs {kib:.4g} KiB of weights on chip",
                    layer=layer.name, resource="stage.weight_kib", needed=kib,
                    available=spec.weight_kib, unit="KiB", file=spec.source)
            work = layer.macs or math.prod(layer.out_shape)
            cycles = max(1, math.ceil(work / spec.macs_per_cycle))
            layers.append(LayerResult(
                name=layer.name, kind=layer.kind.value, unit="stage",
                precision=f"a{layer.activations.label}",
                macs=layer.macs, weight_bits=layer.weight_bits, cycles=cycles,
                energy_pj=float(layer.macs), energy_breakdown_pj={"compute": float(layer.macs)},
                dram_bytes=0, utilization=work / (cycles * spec.macs_per_cycle),
                bound="compute", details=ToyStage(spec.macs_per_cycle)))
        return Result(
            family=self.name, network=workload.name, quant=workload.quant, chip=spec.name,
            engine=self.engines[0], clock_mhz=spec.clock_mhz,
            latency_cycles=sum(x.cycles for x in layers),
            interval_cycles=max(x.cycles for x in layers), layers=tuple(layers),
            area_mm2=0.001 * spec.macs_per_cycle * len(layers),
            area_breakdown_mm2={"stages": 0.001 * spec.macs_per_cycle * len(layers)},
            provenance={"chip_digest": spec.digest()})


TOY_CHIP = {"family": "toy", "name": "toy1", "clock_mhz": 100,
            "stage": {"macs_per_cycle": 256, "weight_kib": 4096}}


class TestToyFamily(FamilyContract):
    @pytest.fixture
    def family(self):
        return ToyFamily()

    @pytest.fixture
    def chip_data(self):
        return dict(TOY_CHIP)

    @pytest.fixture
    def infeasible_overrides(self):
        return ["stage.weight_kib=0.125"]  # sfc's fc1 holds 784 × 256 bits = 24.5 KiB


@pytest.fixture
def registered(monkeypatch):
    """The toy registered as families.py would list it."""
    monkeypatch.setattr(simulator.api, "FAMILIES", {**FAMILIES, "toy": ToyFamily()})


def test_a_pipeline_separates_latency_from_interval(registered, tmp_path):
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump(TOY_CHIP))
    chip = load_chip(path)
    assert isinstance(chip, ToyChip)
    result = simulate(get_network("lfc"), chip)
    assert result.latency_cycles == sum(x.cycles for x in result.layers)
    assert result.interval_cycles == max(x.cycles for x in result.layers) \
        < result.latency_cycles
    assert result.frames_per_s == pytest.approx(100e6 / result.interval_cycles)
    assert result.to_dict()["layers"][0]["details"] == {"macs_per_cycle": 256}


def test_the_cli_runs_a_registered_family(registered, tmp_path, capsys):
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump(TOY_CHIP))
    out = tmp_path / "r.json"
    assert main(["simulate", "--network", "sfc", "--chip", str(path), "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["family"] == "toy" and data["engine"] == "closed_form"
    assert "on toy1 (toy)" in capsys.readouterr().out
    assert main(["simulate", "--network", "sfc", "--chip", str(path), "--engine", "event"]) == 2
    assert "allowed for the toy family: closed_form" in capsys.readouterr().err


def test_an_unregistered_family_is_one_line(tmp_path, capsys):
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump(TOY_CHIP))
    assert main(["simulate", "--chip", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown accelerator family; allowed: overlay" in err and err.count("\n") == 0
