"""The dependency rule, read from the source: imports point toward the data model.

``workloads`` is the ground; ``reference`` (torch) and ``simulator`` stand on it and never
import each other; ``explorer`` uses both; ``reports`` reads results and studies; the CLI
(``bnnsim``) sits on top and imports everything but ``workloads`` lazily. torch only in
``reference``, optuna only in ``explorer``, matplotlib only in ``reports`` (docs/architecture.md).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("workloads", "reference", "simulator", "explorer", "reports", "bnnsim")

#: package → the project packages it may import
ALLOWED: dict[str, set[str]] = {
    "workloads": set(),
    "reference": {"workloads"},
    "simulator": {"workloads"},
    "explorer": {"workloads", "reference", "simulator"},
    "reports": {"workloads", "simulator", "explorer"},
    "bnnsim": set(PACKAGES),
}
#: third-party package → the only project package that may import it
HEAVY = {"torch": "reference", "optuna": "explorer", "matplotlib": "reports"}
#: what the CLI may import when ``bnnsim.cli`` is imported (the rest inside commands)
CLI_TOP_LEVEL = {"workloads"}


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(imported top-level package, at module level?) for every import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out: list[tuple[str, bool]] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = lazy or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                out.extend((alias.name.split(".")[0], not inner) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                out.append((child.module.split(".")[0], not inner))
            visit(child, inner)

    visit(tree, False)
    return out


def _graph() -> dict[Path, list[tuple[str, bool]]]:
    return {path: _imports(path) for pkg in PACKAGES for path in sorted((ROOT / pkg).rglob("*.py"))}


def test_every_package_is_scanned():
    graph = _graph()
    assert {p.relative_to(ROOT).parts[0] for p in graph} == set(PACKAGES)
    assert len(graph) > 50


def test_imports_point_toward_the_data_model():
    bad = []
    for path, imports in _graph().items():
        pkg = path.relative_to(ROOT).parts[0]
        for name, _ in imports:
            if name in PACKAGES and name != pkg and name not in ALLOWED[pkg]:
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not bad, "\n".join(bad)


def test_heavy_libraries_stay_in_their_package():
    bad = []
    for path, imports in _graph().items():
        pkg = path.relative_to(ROOT).parts[0]
        for name, _ in imports:
            if name in HEAVY and HEAVY[name] != pkg:
                bad.append(f"{path.relative_to(ROOT)} imports {name} (only {HEAVY[name]}/)")
    assert not bad, "\n".join(bad)


def test_the_cli_imports_the_packages_lazily():
    bad = []
    for path in (ROOT / "bnnsim").rglob("*.py"):
        for name, top in _imports(path):
            if top and name in PACKAGES and name not in CLI_TOP_LEVEL | {"bnnsim"}:
                bad.append(f"{path.relative_to(ROOT)} imports {name} at module level")
    assert not bad, "\n".join(bad)


def test_the_rule_catches_a_violation(tmp_path):
    """The scanner sees module-level and lazy imports alike (so the rule can fail)."""
    bad = tmp_path / "m.py"
    bad.write_text("import workloads\ndef f():\n    from simulator.api import simulate\n"
                   "    import torch\n")
    assert _imports(bad) == [("workloads", True), ("simulator", False), ("torch", False)]


def _loaded_after(code: str) -> set[str]:
    probe = (f"import sys\n{code}\n"
             "print('LOADED:', *(m for m in ('torch', 'optuna', 'matplotlib', 'pandas', 'numpy')"
             " if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stdout.splitlines() if x.startswith("LOADED:"))
    return set(line.split()[1:])


def test_the_probe_sees_a_heavy_import():
    assert "numpy" in _loaded_after("import numpy")


@pytest.mark.parametrize(("code", "forbidden"), [
    ("import workloads; workloads.get_network('resnet18')",
     {"torch", "optuna", "matplotlib", "pandas", "numpy"}),
    ("import reference", {"torch", "optuna", "matplotlib"}),
    ("import simulator", {"torch", "optuna", "matplotlib"}),
    ("from bnnsim.cli import main; main(['simulate', '--network', 'cnv', '--json', '-'])",
     {"torch", "optuna", "matplotlib"}),
    ("from bnnsim.cli import main; main(['list', '--json', '-'])",
     {"torch", "optuna", "matplotlib"}),
])
def test_light_paths_stay_light(code, forbidden):
    loaded = _loaded_after(code)
    assert not loaded & forbidden, f"{code!r} loaded {sorted(loaded & forbidden)}"
