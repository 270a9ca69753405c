"""Checkpoints round-trip; every broken file is a one-line ConfigError."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from reference.checkpoint import (
    Checkpoint,
    build_from_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from reference.models import build_model
from workloads.errors import ConfigError
from workloads.quant import parse_quant


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, torch.nn.Module]:
    torch.manual_seed(0)
    model = build_model("sfc", "wta2").eval()
    path = save_checkpoint(model, tmp_path / "sub" / "sfc.pt", dataset="mnist", accuracy=0.97,
                           epochs=3, seed=7, train_settings={"lr": 0.01},
                           history=[{"epoch": 1, "loss": 0.5}])
    return path, model


def test_roundtrip(saved: tuple[Path, torch.nn.Module]) -> None:
    path, model = saved
    ckpt = load_checkpoint(path)
    assert isinstance(ckpt, Checkpoint)
    assert (ckpt.model_name, ckpt.dataset, ckpt.accuracy) == ("sfc", "mnist", 0.97)
    assert ckpt.quant == parse_quant("wta2")
    assert ckpt.meta["epochs"] == 3 and ckpt.meta["seed"] == 7
    assert ckpt.meta["train"] == {"lr": 0.01} and "bnnsim_version" in ckpt.meta
    rebuilt = build_from_checkpoint(path)
    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(rebuilt(x), model(x))
    assert not rebuilt.training
    # The file is readable by the weights-only loader alone.
    assert torch.load(path, weights_only=True)["model"] == "sfc"


def _one_line(err: pytest.ExceptionInfo[ConfigError]) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_checkpoint(tmp_path / "nope.pt")
    assert "checkpoint not found" in _one_line(err)
    with pytest.raises(ConfigError, match="is a directory, not a regular file"):
        load_checkpoint(tmp_path)


def test_truncated_and_garbage(saved: tuple[Path, torch.nn.Module], tmp_path: Path) -> None:
    path, _ = saved
    data = path.read_bytes()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ConfigError) as err:
        load_checkpoint(truncated)
    assert "truncated or corrupt" in _one_line(err)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00\x01 definitely not a checkpoint" * 10)
    with pytest.raises(ConfigError) as err:
        load_checkpoint(garbage)
    _one_line(err)


def test_not_a_checkpoint(tmp_path: Path) -> None:
    plain = tmp_path / "state.pt"
    torch.save(build_model("sfc").state_dict(), plain)
    with pytest.raises(ConfigError) as err:
        load_checkpoint(plain)
    assert "not a bnnsim checkpoint" in _one_line(err)
    tensor = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), tensor)
    with pytest.raises(ConfigError, match="not a bnnsim checkpoint"):
        load_checkpoint(tensor)


def test_foreign_pickle_is_refused(tmp_path: Path) -> None:
    # A pickle that names an arbitrary global: the weights-only loader refuses, nothing runs.
    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"format": "bnnsim-checkpoint", "x": Path("/")}, protocol=2))
    with pytest.raises(ConfigError) as err:
        load_checkpoint(evil)
    _one_line(err)


def test_incomplete_and_future_checkpoints(saved: tuple[Path, torch.nn.Module],
                                           tmp_path: Path) -> None:
    path, _ = saved
    raw = torch.load(path, weights_only=True)
    incomplete = dict(raw)
    del incomplete["state_dict"]
    torch.save(incomplete, tmp_path / "incomplete.pt")
    with pytest.raises(ConfigError, match="lacks state_dict"):
        load_checkpoint(tmp_path / "incomplete.pt")
    torch.save({**raw, "format_version": 99}, tmp_path / "future.pt")
    with pytest.raises(ConfigError, match="newer"):
        load_checkpoint(tmp_path / "future.pt")
    torch.save({**raw, "quant": {"default": "w9z"}}, tmp_path / "badquant.pt")
    with pytest.raises(ConfigError, match="bad quantisation entry"):
        load_checkpoint(tmp_path / "badquant.pt")


def test_mismatched_state_dict(saved: tuple[Path, torch.nn.Module], tmp_path: Path) -> None:
    path, _ = saved
    raw = torch.load(path, weights_only=True)
    torch.save({**raw, "model": "lfc"}, tmp_path / "wrong_model.pt")
    with pytest.raises(ConfigError) as err:
        build_from_checkpoint(tmp_path / "wrong_model.pt")
    message = _one_line(err)
    assert "does not fit model 'lfc'" in message and "fc1.weight" in message
    state = dict(raw["state_dict"])
    del state["fc2.weight"]
    state["extra.weight"] = torch.zeros(1)
    torch.save({**raw, "state_dict": state}, tmp_path / "edited.pt")
    with pytest.raises(ConfigError, match=r"missing: fc2\.weight; unexpected: extra\.weight"):
        build_from_checkpoint(tmp_path / "edited.pt")
    torch.save({**raw, "model": "mlp9"}, tmp_path / "unknown.pt")
    with pytest.raises(ConfigError, match="not a zoo model"):
        build_from_checkpoint(tmp_path / "unknown.pt")


@pytest.mark.parametrize(("key", "value"), [
    ("accuracy", "high"), ("accuracy", 1.5), ("format_version", "x"), ("format_version", 1.5),
    ("num_classes", "ten"), ("in_channels", 0), ("model", 3), ("dataset", ["mnist"]),
    ("accuracy", torch.zeros(50, 50)),
])
def test_corrupt_fields_are_one_line_config_errors(saved: tuple[Path, torch.nn.Module],
                                                   tmp_path: Path, key: str,
                                                   value: object) -> None:
    path, _ = saved
    raw = torch.load(path, weights_only=True)
    bad = tmp_path / "bad.pt"
    torch.save({**raw, key: value}, bad)
    with pytest.raises(ConfigError) as err:
        load_checkpoint(bad)
    message = _one_line(err)
    assert f"key '{key}'" in message and "bad checkpoint entry" in message


def test_unwritable_checkpoint_path_is_a_config_error(tmp_path: Path) -> None:
    model = build_model("sfc", "w1a1")
    with pytest.raises(ConfigError) as err:
        save_checkpoint(model, tmp_path, dataset="mnist", accuracy=None, epochs=1, seed=0)
    assert "cannot write checkpoint" in _one_line(err)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="cannot write checkpoint"):
        save_checkpoint(model, blocker / "x.pt", dataset="mnist", accuracy=None, epochs=1,
                        seed=0)
