"""bnnsim report and simulate --report / --trace, end to end through the CLI: the folder's
files, the page's content, reruns, and bad input as one line that changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from report_helpers import validate, write_json

from bnnsim.cli import main
from workloads.files import FOLDER_MARK

MB = 1_000_000


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(err: str, *words: str) -> None:
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and "error:" in lines[0], err
    for w in words:
        assert w in lines[0], (w, err)


def test_simulate_report_for_the_default_network(tmp_path, capsys):
    out = tmp_path / "rep"
    code, text, err = _run(capsys, "simulate", "--report", str(out))
    assert code == 0, err
    assert "report:" in text
    page = (out / "index.html").read_text()
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    for name in ("cycles", "energy", "roofline", "timeline"):
        assert {f"figures/{name}.png", f"figures/{name}.svg", f"figures/{name}.csv"} <= files
        assert f'id="fig-{name}"' in page
    assert {"trace.json", "tables/layers.csv", "tables/layers.md", FOLDER_MARK} <= files
    assert (out / "index.html").stat().st_size < 2 * MB  # the budget, figures inline
    # the inputs on the page: chip settings, tech table, workload, quantisation, version, date
    for words in ("pe_array.rows", "Technology table 45nm", "zoo:bnn-cifar10", "w1a1",
                  "bnnsim 0", "generated 20"):
        assert words in page, words
    assert "<script" not in page and "http://" not in page.replace(
        "http://www.w3.org", "")  # offline: no script, no external resource
    validate(json.loads((out / "trace.json").read_text()))


def test_report_of_results_side_by_side(tmp_path, capsys, traced_doc, analytical_doc):
    a = write_json(tmp_path / "a.json", traced_doc)
    b = write_json(tmp_path / "b.json", analytical_doc)
    out = tmp_path / "rep"
    code, text, err = _run(capsys, "report", "--result", str(a), str(b), "--label", "SFC",
                           "--label", "BNN", "--out", str(out))
    assert code == 0, err and "2 results" in text
    page = (out / "index.html").read_text()
    assert "Side by side" in page and 'id="fig-compare"' in page
    assert 'id="fig-r1-timeline"' in page and 'id="fig-r2-timeline"' not in page  # no trace
    assert "No timeline" in page and (out / "r1-trace.json").exists()
    compare = (out / "tables" / "compare.csv").read_text().splitlines()
    assert compare[1].startswith("SFC,sfc,") and compare[2].startswith("BNN,bnn-cifar10,")


def test_report_of_a_study(tmp_path, capsys, study_storage):
    storage, name = study_storage
    out = tmp_path / "rep"
    code, text, err = _run(capsys, "report", "--storage", storage, "--study", name,
                           "--out", str(out))
    assert code == 0, err
    assert "16 trials" in text
    page = (out / "index.html").read_text()
    for fig in ("pareto", "parallel", "hypervolume"):
        assert f'id="fig-{fig}"' in page and (out / "figures" / f"{fig}.csv").exists()
    pareto = (out / "tables" / "pareto.csv").read_text().splitlines()
    trials = (out / "tables" / "trials.csv").read_text().splitlines()
    assert len(trials) == 17 and 1 < len(pareto) < 17
    assert "area ≤ 1 mm²" in page  # the space's constraint, as recorded


def test_a_rerun_replaces_its_own_report(tmp_path, capsys):
    out = tmp_path / "rep"
    assert _run(capsys, "simulate", "--network", "sfc", "--report", str(out))[0] == 0
    assert (out / "trace.json").exists()
    (out / "stale.txt").write_text("from before")
    out.chmod(0o750)
    code, _, err = _run(capsys, "simulate", "--network", "sfc", "--engine", "analytical",
                        "--report", str(out))
    assert code == 0, err
    assert not (out / "trace.json").exists() and not (out / "stale.txt").exists()
    assert out.stat().st_mode & 0o777 == 0o750  # the replaced folder keeps its permissions
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".bnnsim")]  # no debris


def test_simulate_trace_json_is_a_chrome_trace(tmp_path, capsys):
    path = tmp_path / "t.json"
    code, _, err = _run(capsys, "simulate", "--network", "sfc", "--trace", str(path))
    assert code == 0, err
    validate(json.loads(path.read_text()))
    csv = tmp_path / "t.csv"
    assert _run(capsys, "simulate", "--network", "sfc", "--trace", str(csv))[0] == 0
    assert csv.read_text().startswith("component,start,end,label")


@pytest.mark.parametrize("argv, words", [
    (["report", "--out", "{tmp}/r"], ["either --result"]),
    (["report", "--result", "{tmp}/a.json", "--study", "x", "--out", "{tmp}/r"],
     ["either --result"]),
    (["report", "--result", "{tmp}/a.json", "--label", "x", "--label", "y", "--out",
      "{tmp}/r"], ["one --label per --result"]),
    (["report", "--result", "{tmp}/missing.json", "--out", "{tmp}/r"], ["missing.json"]),
    (["report", "--result", "{tmp}/a.json", "--out", "{tmp}"], ["holds a file this command "
                                                                "reads"]),
    (["report", "--result", "{tmp}/a.json", "--out", "{tmp}/a.json"],
     ["is a file this command reads"]),
    (["report", "--result", "{tmp}/a.json", "--out", "{tmp}/full/mine.txt"],
     ["not a folder"]),
    (["report", "--result", "{tmp}/a.json", "--out", "{tmp}/full"],
     ["bnnsim did not write"]),
    (["report", "--storage", "{tmp}/none.journal", "--study", "x", "--out", "{tmp}/r"],
     ["no such journal file"]),
    (["simulate", "--report", "{tmp}/full"], ["bnnsim did not write"]),
    (["simulate", "--report", "{tmp}/empty", "--json", "{tmp}/empty/x.json"],
     ["holds the --json"]),
])
def test_bad_input_is_one_line_and_changes_nothing(tmp_path, capsys, traced_doc, argv, words):
    write_json(tmp_path / "a.json", traced_doc)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "mine.txt").write_text("keep me")
    (tmp_path / "empty").mkdir()
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    code, _, err = _run(capsys, *(a.replace("{tmp}", str(tmp_path)) for a in argv))
    assert code == 2
    _one_line_error(err, *words)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    assert (tmp_path / "full" / "mine.txt").read_text() == "keep me"


def test_unknown_study_names_the_ones_there(tmp_path, capsys, study_storage):
    storage, name = study_storage
    code, _, err = _run(capsys, "report", "--storage", storage, "--study", "nope", "--out",
                        str(tmp_path / "r"))
    assert code == 2
    _one_line_error(err, "no such study", name)
    assert not Path(tmp_path / "r").exists()


def test_committed_examples_are_linked_and_whole():
    """docs/examples: the README links each committed report, and each page's figures and
    tables are beside it."""
    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text()
    for name, figures in (("design", ("cycles", "energy", "roofline", "timeline")),
                          ("lfc-mnist-study", ("pareto", "parallel", "hypervolume"))):
        page = root / "docs" / "examples" / name / "index.html"
        assert f"docs/examples/{name}/index.html" in readme
        text = page.read_text()
        for fig in figures:
            assert f'id="fig-{fig}"' in text
            assert (page.parent / "figures" / f"{fig}.png").exists()
        for link in __import__("re").findall(r'href="((?:tables|figures)/[^"]+)"', text):
            assert (page.parent / link).exists(), link
