"""From training to simulation: a checkpoint written by `bnnsim train` lowers onto the zoo
workload with its own quantisation, and bad checkpoints fail with one line (exit 2)."""

from __future__ import annotations

import json

import pytest

from bnnsim.cli import main


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("ckpt") / "lfc_w1a2.pt"
    rc = main(["train", "--model", "lfc", "--quant", "w1a2", "--dataset", "synthetic",
               "--epochs", "1", "--max-steps", "3", "--batch-size", "32", "--quiet",
               "--out", str(out)])
    assert rc == 0 and out.exists()
    return out


def test_simulate_a_trained_checkpoint(checkpoint, tmp_path, capsys):
    capsys.readouterr()
    result = tmp_path / "r.json"
    assert main(["simulate", "--network", str(checkpoint), "--engine", "event",
                 "--json", str(result)]) == 0
    data = json.loads(result.read_text())
    assert data["network"] == "lfc" and data["quant"] == "w1a2"
    assert [x["precision"] for x in data["layers"]] == ["w1a8", "w1a2", "w1a2", "w1a2"]
    assert data["total"]["macs"] == 2_910_208
    assert str(checkpoint) in data["provenance"]["workload_source"]
    assert main(["eval", str(checkpoint), "--dataset", "synthetic", "--max-samples", "64"]) == 0


def test_checkpoint_refuses_quant(checkpoint, capsys):
    assert main(["simulate", "--network", str(checkpoint), "--quant", "w1a1"]) == 2
    assert "carries its own quantisation" in capsys.readouterr().err


def test_corrupt_checkpoint_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint at all")
    assert main(["simulate", "--network", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(bad) in err


def test_missing_checkpoint_is_one_line(tmp_path, capsys):
    assert main(["simulate", "--network", str(tmp_path / "nowhere.pt")]) == 2
    err = capsys.readouterr().err.strip()
    assert "checkpoint not found" in err and err.count("\n") == 0


def test_checkpoint_lowers_with_its_classes_and_channels(tmp_path, capsys):
    """A cnv trained on 1-channel images with 5 classes lowers to that network, not the zoo's
    3-channel, 10-class default."""
    from reference.checkpoint import save_checkpoint
    from reference.models import build_model

    model = build_model("cnv", "w1a1", num_classes=5, in_channels=1)
    path = save_checkpoint(model, tmp_path / "cnv5.pt", dataset="synthetic", accuracy=0.5,
                           epochs=1, seed=0)
    out = tmp_path / "r.json"
    assert main(["simulate", "--network", str(path), "--json", str(out)]) == 0
    layers = {x["name"]: x for x in json.loads(out.read_text())["layers"]}
    assert layers["conv1"]["macs"] == 64 * 30 * 30 * 1 * 9  # one input channel
    assert layers["fc3"]["macs"] == 512 * 5  # five classes
