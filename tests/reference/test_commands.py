"""The train / eval / summary subcommands, driven through argparse as the CLI does."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from reference.commands import register
from workloads.errors import ConfigError
from workloads.files import Outputs, track_reads

_ROOT = Path(__file__).parents[2]


def _run(*argv: str) -> int:
    """A subcommand as the CLI runs it: outputs declared, then committed after success."""
    parser = argparse.ArgumentParser(prog="bnnsim")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    out = Outputs()
    with track_reads() as reads:
        code = args.func(args, out)
        out.commit(reads=reads)
    return code


def test_imports_stay_torch_free() -> None:
    code = ("import sys, reference, workloads.quant, reference.commands; "
            "print('torch' in sys.modules, 'pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=_ROOT, capture_output=True,
                         text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_train_then_eval_on_synthetic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ckpt, train_json, eval_json = tmp_path / "c.pt", tmp_path / "t.json", tmp_path / "e.json"
    assert _run("train", "--model", "sfc", "--quant", "w1a1", "--dataset", "synthetic",
                "--epochs", "1", "--max-steps", "4", "--batch-size", "32", "--out", str(ckpt),
                "--json", str(train_json), "--quiet") == 0
    assert ckpt.is_file()
    trained = json.loads(train_json.read_text())
    assert trained["steps"] == 4 and trained["model"] == "sfc" and trained["quant"] == "w1a1"
    assert "test accuracy" in capsys.readouterr().out
    assert _run("eval", str(ckpt), "--json", str(eval_json)) == 0
    evaluated = json.loads(eval_json.read_text())
    assert evaluated["dataset"] == "synthetic" and evaluated["samples"] == 512
    assert evaluated["accuracy"] == pytest.approx(trained["accuracy"])
    assert evaluated["recorded_accuracy"] == pytest.approx(trained["accuracy"])
    assert "over 512 images" in capsys.readouterr().out


def test_summary_prints_and_writes_json(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s.json"
    assert _run("summary", "--model", "cnv", "--quant", "w1a2", "--json", str(out)) == 0
    text = capsys.readouterr().out
    assert "conv1" in text and "59,461,376 MACs" in text
    data = json.loads(out.read_text())
    assert data["totals"]["macs"] == 59_461_376 and data["quant"] == "w1a2"
    assert [row["layer"] for row in data["layers"]][-1] == "fc3"


def test_quant_yaml_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "q.yaml"
    spec.write_text("default: w1a2\nlayers:\n  fc2: w2a2\n")
    assert _run("summary", "--model", "sfc", "--quant", str(spec)) == 0
    assert "int2" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "pattern"),
    [(("summary", "--model", "lenet"), "zoo networks"),
     (("summary", "--model", "lfc", "--quant", "w1a9z"), "not a quantisation spec"),
     (("summary", "--model", "lfc", "--quant", "missing.yaml"), "file not found"),
     (("eval", "missing.pt"), "checkpoint not found"),
     (("train", "--model", "lfc", "--dataset", "mnist", "--epochs", "1", "--out", "x.pt",
       "--data-dir", "/nonexistent-dir", "--quiet"), "not found: searched")],
)
def test_bad_input_is_one_line_config_error(argv: tuple[str, ...], pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern) as err:
        _run(*argv)
    assert "\n" not in str(err.value)


def test_argparse_rejects_non_positive_epochs() -> None:
    with pytest.raises(SystemExit):
        _run("train", "--model", "lfc", "--dataset", "mnist", "--epochs", "0", "--out", "x.pt")


def _cli_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run the real ``bnnsim`` entry point; expect exit code 2 and one line on stderr."""
    from bnnsim.cli import main

    capsys.readouterr()
    assert main(list(argv)) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"bnnsim {argv[0]}: error: "), err
    return lines[0]


def _train_argv(tmp_path: Path, *extra: str, out: str | None = None) -> tuple[str, ...]:
    return ("train", "--model", "sfc", "--quant", "w1a1", "--dataset", "synthetic",
            "--epochs", "1", "--max-steps", "2", "--batch-size", "16", "--quiet",
            "--out", out or str(tmp_path / "c.pt"), *extra)


def test_cli_bad_out_fails_before_training(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    line = _cli_error(capsys, *_train_argv(tmp_path, out=str(tmp_path)))
    assert "--out" in line and "is a directory" in line
    line = _cli_error(capsys, *_train_argv(tmp_path, out=str(tmp_path / "no" / "c.pt")))
    assert "does not exist" in line
    assert "test accuracy" not in capsys.readouterr().out  # nothing was trained


def test_cli_bad_json_fails_before_any_work(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    ckpt = tmp_path / "c.pt"
    line = _cli_error(capsys, *_train_argv(tmp_path, "--json", str(tmp_path)))
    assert "--json" in line and "is a directory" in line
    assert not ckpt.exists()  # refused before training, not after
    missing = str(tmp_path / "no" / "s.json")
    assert "--json" in _cli_error(capsys, "summary", "--model", "sfc", "--json", missing)
    assert "--json" in _cli_error(capsys, "eval", str(ckpt), "--json", str(tmp_path))


@pytest.mark.parametrize(("flag", "value"), [
    ("--lr", "nan"), ("--lr", "inf"), ("--lr", "-1"), ("--bnnplus-reg", "-1"),
    ("--bnnplus-reg", "nan"),
])
def test_cli_bad_hyperparameters(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                 flag: str, value: str) -> None:
    line = _cli_error(capsys, *_train_argv(tmp_path, flag, value))
    assert flag in line and "allowed: a number in" in line
    assert not (tmp_path / "c.pt").exists()


def test_cli_corrupt_checkpoint_field(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    from reference.checkpoint import save_checkpoint
    from reference.models import build_model

    path = save_checkpoint(build_model("sfc", "w1a1"), tmp_path / "c.pt", dataset="synthetic",
                           accuracy=0.5, epochs=1, seed=0)
    raw = torch.load(path, weights_only=True)
    for key, value in (("accuracy", "high"), ("format_version", "x")):
        torch.save({**raw, key: value}, path)
        line = _cli_error(capsys, "eval", str(path))
        assert f"key '{key}'" in line


def test_check_output_path(tmp_path: Path) -> None:
    from workloads.files import check_output_path

    for ok in (None, "-", tmp_path / "x.pt", str(tmp_path / "y.json")):
        check_output_path(ok, flag="--out")
    with pytest.raises(ConfigError, match=r"key '--out'.*is a directory"):
        check_output_path(tmp_path, flag="--out")
    with pytest.raises(ConfigError, match="does not exist"):
        check_output_path(tmp_path / "missing" / "x.pt", flag="--json")


def test_json_to_stdout_is_pure_json(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """``--json -`` prints only JSON (no table) and never writes a file named '-'."""
    from bnnsim.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["summary", "--model", "sfc", "--json", "-"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["command"] == "summary"
    assert not (tmp_path / "-").exists()


def test_write_json_errors_are_one_line(tmp_path: Path) -> None:
    from workloads.files import write_json

    with pytest.raises(ConfigError, match=r"key '--json'.*cannot write"):
        write_json(tmp_path, {"a": 1})
