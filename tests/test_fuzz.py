"""Fuzzing the input files: hypothesis mutates valid chip, network, quantisation and technology
files — values of the wrong type or range, missing and unknown keys, deep nesting, aliases,
duplicate keys, truncation, bytes that are not UTF-8 — and runs ``bnnsim simulate`` on them.

Whatever it makes, the command must either succeed or exit 2 with one line; never raise (an
uncaught exception is a traceback), never take more than a few seconds, never touch an input,
and never change the existing output file when it fails. The strategy is documented in
docs/hardening.md; ``BNNSIM_FUZZ_EXAMPLES`` raises the number of examples for a longer run and
``BNNSIM_FUZZ_RANDOM=1`` draws new ones instead of the suite's fixed set.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_hardening import EDGE, NET, TECH, deadline, snapshot

from bnnsim.cli import main

EXAMPLES = int(os.environ.get("BNNSIM_FUZZ_EXAMPLES", "60"))
#: Set to draw fresh examples each run (the suite's default is a fixed, reproducible set).
RANDOM = bool(os.environ.get("BNNSIM_FUZZ_RANDOM"))

QUANT = {"default": "w1a2", "first": "w1a8",
         "layers": {"conv2": {"weights": {"kind": "ternary", "quantizer": "twn"},
                              "activations": {"kind": "int", "bits": 2}}}}

#: Values that have broken parsers somewhere: wrong types, edges of ranges, huge numbers.
NASTY: list[Any] = [
    None, "", " ", "x", "☃" * 3, "1e3", "0x10", "-1", True, False, 0, -1, 1, 2, 3, 7, 8, 64,
    2**31, 2**63, -(2**63), 10**30, 10**400, 0.5, -0.0, 1e-300, 1e18, 1e308, float("nan"),
    float("inf"), float("-inf"), [], [1, 2], {}, {"a": 1}, "a" * 5000, "\n", "*",
    "output_stationary", "xnor", "int8", "bit_serial", "w1a1", "wta2", "conv", "fc", "add",
]


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value inside nested dicts and lists (down to 8 levels)."""
    out = [prefix] if prefix else []
    if len(prefix) >= 8:
        return out
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _set(node: Any, path: tuple, value: Any) -> None:
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value


def _delete(node: Any, path: tuple) -> None:
    for step in path[:-1]:
        node = node[step]
    del node[path[-1]]


@st.composite
def mutated(draw: st.DrawFn, base: Any) -> bytes:
    """A valid document, damaged by one to three structural mutations, then perhaps damaged
    as text or as bytes."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        op = draw(st.sampled_from(["value", "value", "value", "delete", "add", "nest", "swap"]))
        if not paths or not isinstance(doc, dict):
            break
        path = draw(st.sampled_from(paths))
        if op == "value":
            _set(doc, path, copy.deepcopy(draw(st.sampled_from(NASTY))))
        elif op == "delete":
            _delete(doc, path)
        elif op == "add":
            parent = doc
            for step in path[:-1]:
                parent = parent[step]
            if isinstance(parent, dict):
                parent[draw(st.sampled_from(["extra", "name", "x.y", "1", "tech"]))] = \
                    copy.deepcopy(draw(st.sampled_from(NASTY)))
        elif op == "nest":
            value: Any = copy.deepcopy(draw(st.sampled_from(NASTY)))
            for _ in range(draw(st.integers(1, 120))):
                value = [value]
            _set(doc, path, value)
        else:  # swap two values
            other = draw(st.sampled_from(paths))
            if path[:len(other)] != other and other[:len(path)] != path:  # no cycles
                a, b = copy.deepcopy(_get(doc, path)), copy.deepcopy(_get(doc, other))
                _set(doc, path, b)
                _set(doc, other, a)
    try:
        text = yaml.safe_dump(doc, allow_unicode=True, width=10**6)
    except (RecursionError, ValueError):
        text = "a: [" * 200
    damage = draw(st.sampled_from(["none", "none", "none", "truncate", "duplicate", "alias",
                                   "bytes", "garbage"]))
    if damage == "truncate":
        text = text[:draw(st.integers(0, max(len(text) - 1, 0)))]
    elif damage == "duplicate":
        first = text.splitlines()[0] if text.strip() else "a: 1"
        text = f"{first}\n{text}"
    elif damage == "alias":
        levels = draw(st.integers(1, 10))
        lines = ["x0: &x0 [a, a, a, a, a, a, a, a, a, a]"]
        lines += [f"x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * 10)}]" for i in range(1, levels)]
        text = "\n".join(lines) + "\n" + text
    data = text.encode("utf-8")
    if damage == "bytes":
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    elif damage == "garbage":
        data = draw(st.binary(max_size=200))
    return data


def _get(node: Any, path: tuple) -> Any:
    for step in path:
        node = node[step]
    return node


TARGETS = {
    "chip": yaml.safe_load(yaml.safe_dump(EDGE)),
    "network": yaml.safe_load(NET),
    "quant": QUANT,
    "tech": yaml.safe_load(TECH),
}


def _argv(folder: Path) -> list[str]:
    return ["simulate", "--chip", str(folder / "chip.yaml"), "--network",
            str(folder / "net.yaml"), "--quant", str(folder / "q.yaml"), "--json",
            str(folder / "out.json")]


def _write_valid(folder: Path) -> None:
    (folder / "chip.yaml").write_text(yaml.safe_dump(dict(EDGE, tech="tech.yaml")))
    (folder / "net.yaml").write_text(NET)
    (folder / "q.yaml").write_text(yaml.safe_dump(QUANT))
    (folder / "tech.yaml").write_text(TECH)
    (folder / "out.json").write_text('{"old": true}\n')


def test_the_valid_files_simulate(tmp_path: Path) -> None:
    _write_valid(tmp_path)
    assert main(_argv(tmp_path)) == 0


@pytest.mark.parametrize("target", list(TARGETS))
def test_mutated_files_never_crash_hang_or_lose_data(tmp_path_factory: pytest.TempPathFactory,
                                                     target: str) -> None:
    folder = tmp_path_factory.mktemp(f"fuzz-{target}")
    file = {"chip": "chip.yaml", "network": "net.yaml", "quant": "q.yaml",
            "tech": "tech.yaml"}[target]
    outcomes: dict[int, int] = {}

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=not RANDOM, database=None,
              suppress_health_check=list(HealthCheck))
    @given(data=mutated(TARGETS[target]))
    def run(data: bytes) -> None:
        _write_valid(folder)
        (folder / file).write_bytes(data)
        if target == "chip":  # keep the tech table reachable unless the mutation removed it
            text = (folder / file).read_bytes()
            (folder / file).write_bytes(text)
        before = snapshot(folder)
        import contextlib
        import io

        err = io.StringIO()
        with deadline(10.0), contextlib.redirect_stderr(err), \
                contextlib.redirect_stdout(io.StringIO()):
            code = main(_argv(folder))
        outcomes[code] = outcomes.get(code, 0) + 1
        after = snapshot(folder)
        inputs = {k: v for k, v in before.items() if not k.endswith("out.json")}
        assert {k: after.get(k) for k in inputs} == inputs, "an input changed"
        if code == 0:
            assert set(after) == set(before)
        else:
            assert code == 2, err.getvalue()
            lines = err.getvalue().strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("bnnsim simulate: error: "), lines
            assert after == before, "a failed run changed a file"

    run()
    assert outcomes.get(2, 0) > 0  # the mutations do reach the error paths
