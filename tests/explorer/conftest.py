"""Shared helpers for the explorer tests: small spaces and a real PostgreSQL server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

#: A small space on SFC: 2 × 2 × 2 × 2 chip points × 2 quantisations = 32 points, some of
#: them infeasible (an 8-bit accumulator cannot hold SFC's 784-long sums).
SMALL: dict[str, Any] = {
    "name": "small",
    "network": "sfc",
    "chip": "edge",
    "parameters": {
        "pe_array.rows": {"choices": [4, 16]},
        "pe_array.cols": {"choices": [4, 16]},
        "dataflow": {"choices": ["output_stationary", "weight_stationary"]},
        "accumulator_bits": {"choices": [8, 24]},
    },
    "quant": {"choices": ["w1a1", "w1a2"]},
    "objectives": {"accuracy": "max", "energy": "min", "latency": "min"},
    "constraints": {"area": {"max": 1.2}},
    "accuracy": {"table": {"w1a1": 97.0, "w1a2": 97.5}},
}


def write_space(folder: Path, **changes: Any) -> Path:
    data = {**SMALL, **changes}
    path = folder / f"{data['name']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def small_space(tmp_path: Path) -> Path:
    return write_space(tmp_path)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A PostgreSQL database: $BNNSIM_TEST_POSTGRES (started by .ci/run), or a private server
    started here from the installed binaries (as the postgres user when run as root)."""
    url = os.environ.get("BNNSIM_TEST_POSTGRES")
    if url:
        yield url
        return
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin"))  # Debian keeps them there
    path = os.pathsep.join([os.environ.get("PATH", ""), *(str(p) for p in debian[-1:])])
    initdb, pg_ctl = shutil.which("initdb", path=path), shutil.which("pg_ctl", path=path)
    if not (initdb and pg_ctl):
        pytest.skip("PostgreSQL is not installed (.ci/run installs it)")
    # (pytest's own temporary folders are private to root: the server's user cannot enter)
    base = Path(tempfile.mkdtemp(prefix="bnnsim-pg-"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(base, "postgres")
        shutil.chown(sock, "postgres")
    port = _free_port()
    subprocess.run([*as_user, initdb, "-D", str(data), "-A", "trust", "-U", "postgres"],
                   check=True, capture_output=True)
    subprocess.run([*as_user, pg_ctl, "-D", str(data), "-l", str(base / "log"), "-w", "-o",
                    f"-p {port} -k {sock} -c listen_addresses=127.0.0.1", "start"],
                   check=True, capture_output=True)
    try:
        url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        deadline = time.time() + 30
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        yield url
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
