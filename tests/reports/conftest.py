"""Shared fixtures for the report tests: one small traced simulation and one small study,
both made for real (the simulator's event engine; an Optuna sweep in a journal file)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

#: 2 × 2 × 2 chip points × 2 quantisations on SFC, some over the area constraint
SPACE: dict[str, Any] = {
    "name": "report-small",
    "network": "sfc",
    "chip": "edge",
    "parameters": {
        "pe_array.rows": {"choices": [4, 16]},
        "pe_array.cols": {"choices": [4, 16]},
        "dataflow": {"choices": ["output_stationary", "weight_stationary"]},
    },
    "quant": {"choices": ["w1a1", "w1a2"]},
    "objectives": {"accuracy": "max", "energy": "min", "latency": "min"},
    "constraints": {"area": {"max": 1.0}},
    "accuracy": {"table": {"w1a1": 97.0, "w1a2": 97.5}},
}


@pytest.fixture(scope="session")
def traced_doc() -> dict[str, Any]:
    """SFC on edge, event engine, with its trace: the ``--json`` document."""
    from simulator import simulate
    from workloads import get_network

    result = simulate(get_network("sfc"), "edge", engine="event", trace=True)
    return json.loads(json.dumps(result.to_dict(include_trace=True)))


@pytest.fixture(scope="session")
def analytical_doc() -> dict[str, Any]:
    from simulator import simulate
    from workloads import get_network

    return simulate(get_network("bnn-cifar10"), "edge").to_dict()


@pytest.fixture(scope="session")
def study_storage(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """(journal path, study name) of the small space's full grid."""
    from explorer.space import load_space
    from explorer.sweep import sweep

    folder = tmp_path_factory.mktemp("study")
    space_file = folder / "space.yaml"
    space_file.write_text(yaml.safe_dump(SPACE, sort_keys=False))
    storage = str(folder / "s.journal")
    sweep(load_space(space_file), storage=storage, progress=False)
    return storage, SPACE["name"]


@pytest.fixture(scope="session")
def records(study_storage: tuple[str, str]) -> Any:
    from explorer.study import load_existing_study, study_records

    storage, name = study_storage
    return study_records(load_existing_study(storage, name), storage=storage)

