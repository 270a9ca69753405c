"""Real-to-Binary distillation: the attention map and loss by hand, a frozen teacher, init from
another quantisation, one-line errors through the CLI, and a short staged run."""

from __future__ import annotations

import copy
import hashlib
import math
from pathlib import Path

import pytest
import torch

from reference.checkpoint import load_checkpoint, save_checkpoint
from reference.data import synthetic_dataset
from reference.distill import (
    Distiller,
    attention_loss,
    attention_map,
    init_from,
    kd_loss,
    tapped_layers,
)
from reference.models import build_model, mac_layers
from reference.train import real_to_binary, train
from workloads.errors import ConfigError
from workloads.quant import QuantConfig, parse_quant

_PACT = parse_quant({"default": {"weights": {"kind": "binary", "quantizer": "sign"},
                                 "activations": {"kind": "int", "bits": 2,
                                                 "quantizer": "pact"}}})


def _pair(n_train: int = 128, n_test: int = 32):
    shape = (1, 28, 28)
    return (synthetic_dataset(split="train", shape=shape, size=n_train),
            synthetic_dataset(split="test", shape=shape, size=n_test))


def _save(tmp_path: Path, name: str, network: str, quant: QuantConfig | str,
          seed: int = 0) -> Path:
    torch.manual_seed(seed)
    return save_checkpoint(build_model(network, quant), tmp_path / name, dataset="synthetic",
                           accuracy=None, epochs=0, seed=seed)


def test_attention_map_by_hand() -> None:
    # conv (N=1, C=2, H=1, W=2): channel 0 is [1, 2], channel 1 is [2, 0], so
    # Q = [1² + 2², 2² + 0²] = [5, 4], and ‖Q‖ = √41.
    a = torch.tensor([[[[1.0, 2.0]], [[2.0, 0.0]]]])
    q = attention_map(a)
    assert q.shape == (1, 2)
    assert torch.allclose(q, torch.tensor([[5.0, 4.0]]) / math.sqrt(41))
    # fully connected: the squared features, one position each: [9, 16] / √337.
    f = torch.tensor([[3.0, -4.0]])
    assert torch.allclose(attention_map(f), torch.tensor([[9.0, 16.0]]) / math.sqrt(337))


def test_attention_loss_by_hand() -> None:
    # Sample 0: Q_s = [1, 0], Q_t/‖Q_t‖ = [1, 1]/√2, so ‖diff‖² = 2 − 2/√2 = 2 − √2.
    # Sample 1: the same features for both, so 0. Mean over the batch: √(2 − √2) / 2.
    s = torch.tensor([[1.0, 0.0], [2.0, 3.0]])
    t = torch.tensor([[1.0, -1.0], [2.0, 3.0]])
    per_layer = math.sqrt(2 - math.sqrt(2)) / 2
    # A conv layer whose map is the same as the teacher's adds 0; β = 3 scales by 3/2.
    conv = torch.randn(2, 4, 3, 3)
    loss = attention_loss([s, conv], [t, 2.0 * conv], weight=3.0)
    assert float(loss) == pytest.approx(1.5 * per_layer, rel=1e-6)
    with pytest.raises(ValueError):
        attention_loss([s], [t, t], weight=1.0)


def test_kd_loss_by_hand() -> None:
    z_s, z_t = torch.tensor([[0.0, 0.0]]), torch.tensor([[math.log(3.0), 0.0]])
    # p_t = [3/4, 1/4] at T = 1, p_s = [1/2, 1/2]: KL = Σ p_t log(p_t / p_s); T = 2 halves
    # the logits (p_t = [√3, 1]/(√3 + 1)) and multiplies by T² = 4.
    kl = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert float(kd_loss(z_s, z_t, temperature=1.0)) == pytest.approx(kl, rel=1e-6)
    p = torch.tensor([math.sqrt(3), 1.0]) / (math.sqrt(3) + 1)
    kl2 = float((p * torch.log(p / 0.5)).sum())
    assert float(kd_loss(z_s, z_t, temperature=2.0)) == pytest.approx(4 * kl2, rel=1e-5)


def test_taps_are_the_hidden_layers_batch_norms() -> None:
    names = [name for name, _ in tapped_layers(build_model("sfc", "w1a1"))]
    assert names == ["fc1", "fc2", "fc3"]  # fc4, the classifier, is not matched
    bns = [type(m).__name__ for _, m in tapped_layers(build_model("cnv", "w1a1"))]
    assert set(bns) == {"BatchNorm2d", "BatchNorm1d"}


def test_zero_loss_when_student_is_teacher() -> None:
    torch.manual_seed(0)
    student = build_model("sfc", "w1a1").eval()
    teacher = copy.deepcopy(student)
    distiller = Distiller(student, teacher, weight=5.0, temperature=2.0)
    logits, loss = distiller(torch.rand(8, 1, 28, 28))
    assert logits.shape == (8, 10)
    assert float(loss.detach()) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError):
        Distiller(student, student, weight=1.0)


def test_the_gradient_reaches_the_student_only() -> None:
    torch.manual_seed(0)
    student = build_model("sfc", "w1a1").train()
    teacher = build_model("sfc", "w32a32").train()
    bn = teacher.get_submodule("fc2_bn")
    stats = bn.get_buffer("running_mean").clone()
    distiller = Distiller(student, teacher, weight=1.0, temperature=1.0)
    assert not teacher.training  # the teacher runs in eval mode
    _, loss = distiller(torch.rand(8, 1, 28, 28))
    assert float(loss.detach()) > 0
    loss.backward()
    assert all(p.grad is None for p in teacher.parameters())
    assert torch.equal(bn.get_buffer("running_mean"), stats)  # its batch-norm stays frozen
    grads = [p.grad for p in student.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    fc1 = mac_layers(student)["fc1"].weight.grad
    assert fc1 is not None and float(fc1.abs().sum()) > 0


def test_init_copies_matching_tensors(tmp_path: Path) -> None:
    source = _save(tmp_path, "s1.pt", "sfc", "w32a1", seed=5)
    model = build_model("sfc", "w1a1")
    report = init_from(model, source)
    saved = load_checkpoint(source).state_dict
    assert report.not_copied == () and report.unused == ()
    assert set(report.copied) == set(saved)
    assert all(torch.equal(t, saved[k]) for k, t in model.state_dict().items())
    assert report.source["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    # PACT's clipping levels have no counterpart in a sign network: reported, left fresh.
    pact = build_model("sfc", _PACT)
    report = init_from(pact, source)
    assert report.not_copied == tuple(f"fc{i}.input_quantizer.alpha (absent)"
                                      for i in (2, 3, 4))
    assert torch.equal(mac_layers(pact)["fc2"].weight.detach(), saved["fc2.weight"])
    back = init_from(build_model("sfc", "w1a1"), pact)
    assert back.unused == tuple(f"fc{i}.input_quantizer.alpha" for i in (2, 3, 4))
    assert "not copied" in init_from(pact, source).describe()


def test_init_from_another_network_is_one_line(tmp_path: Path) -> None:
    source = _save(tmp_path, "lfc.pt", "lfc", "w32a1")
    with pytest.raises(ConfigError, match=r"key 'init'.*is a 'lfc' network; the student is "
                                          r"'sfc'") as err:
        init_from(build_model("sfc", "w1a1"), source)
    assert "\n" not in str(err.value)


def test_mismatched_teacher_names_the_layer() -> None:
    with pytest.raises(ConfigError, match=r"teacher layer 'fc1' gives 1024 features where the "
                                          r"student's 'fc1' gives 256"):
        Distiller(build_model("sfc", "w1a1"), build_model("lfc", "w32a32"), weight=1.0)
    with pytest.raises(ConfigError, match="teacher has 5 hidden MAC layers, the student 3"):
        Distiller(build_model("sfc", "w1a1"), build_model("mnist-cnv", "w1a1"), weight=1.0)
    with pytest.raises(ConfigError, match="takes 3×32×32 inputs"):
        Distiller(build_model("sfc", "w1a1"), build_model("cnv", "w1a1"), weight=1.0)
    ten, twelve = build_model("sfc", "w1a1"), build_model("sfc", "w32a32", num_classes=12)
    Distiller(ten, twelve, weight=1.0)  # attention only: the classifier is not compared
    with pytest.raises(ConfigError, match="teacher has 12 classes, the student 10"):
        Distiller(ten, twelve, weight=1.0, temperature=1.0)


@pytest.mark.parametrize(("kwargs", "pattern"), [
    ({"distill_weight": 1.0}, "needs a teacher"),
    ({"distill_temperature": 2.0}, "needs a teacher"),
    ({"teacher": "t.pt"}, "teacher would go unused"),
    ({"teacher": "t.pt", "distill_weight": -1.0}, r"key 'distill_weight'.*finite"),
    ({"teacher": "t.pt", "distill_weight": math.nan}, r"key 'distill_weight'.*finite"),
    ({"teacher": "t.pt", "distill_temperature": 0.0}, r"key 'distill_temperature'"),
    ({"teacher": "missing.pt", "distill_weight": 1.0}, r"key 'teacher'.*not found"),
    ({"init": "missing.pt"}, r"key 'init'.*not found"),
])
def test_bad_distillation_settings_are_one_line(kwargs: dict, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern) as err:
        train("sfc", "w1a1", _pair(), 1, progress=False, **kwargs)
    assert "\n" not in str(err.value)


def _cli_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run the ``bnnsim`` entry point; expect exit code 2 and one line on stderr."""
    from bnnsim.cli import main

    capsys.readouterr()
    assert main(list(argv)) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bnnsim train: error: "), err
    return lines[0]


def _argv(tmp_path: Path, *extra: str) -> tuple[str, ...]:
    return ("train", "--model", "sfc", "--quant", "w1a1", "--dataset", "synthetic",
            "--epochs", "1", "--max-steps", "2", "--batch-size", "16", "--quiet",
            "--out", str(tmp_path / "c.pt"), *extra)


def test_cli_mismatches_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lfc = str(_save(tmp_path, "lfc.pt", "lfc", "w32a32"))
    line = _cli_error(capsys, *_argv(tmp_path, "--teacher", lfc, "--distill-weight", "1"))
    assert "teacher layer 'fc1' gives 1024 features" in line
    line = _cli_error(capsys, *_argv(tmp_path, "--init", lfc))
    assert "key 'init'" in line and "'lfc' network" in line
    line = _cli_error(capsys, *_argv(tmp_path, "--distill-weight", "1"))
    assert "--distill-weight" in line and "--teacher" in line
    line = _cli_error(capsys, *_argv(tmp_path, "--teacher", lfc))
    assert "would go unused" in line
    line = _cli_error(capsys, *_argv(tmp_path, "--teacher", lfc, "--distill-weight", "-1"))
    assert "--distill-weight" in line and "allowed: a number in" in line
    line = _cli_error(capsys, *_argv(tmp_path, "--teacher", str(tmp_path / "no.pt"),
                                     "--distill-weight", "1"))
    assert "checkpoint not found" in line
    line = _cli_error(capsys, *_argv(tmp_path, "--teacher", lfc, "--distill-weight", "1",
                                     "--out", lfc))
    assert "--out" in line
    assert not (tmp_path / "c.pt").exists()


def test_cli_two_stages_record_their_sources(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from bnnsim.cli import main

    teacher = _save(tmp_path, "t.pt", "sfc", "w32a32")
    s1, s2 = tmp_path / "s1.pt", tmp_path / "s2.pt"
    base = ("train", "--model", "sfc", "--dataset", "synthetic", "--epochs", "1",
            "--max-steps", "2", "--batch-size", "16", "--quiet")
    assert main([*base, "--quant", "w32a1", "--teacher", str(teacher), "--distill-weight",
                 "1", "--out", str(s1)]) == 0
    assert main([*base, "--quant", "w1a1", "--teacher", str(s1), "--init", str(s1),
                 "--distill-weight", "1", "--distill-temperature", "2", "--out",
                 str(s2)]) == 0
    assert "copied 24 of 24 tensors" in capsys.readouterr().out
    meta = load_checkpoint(s2).meta["train"]
    digest = hashlib.sha256(s1.read_bytes()).hexdigest()
    assert meta["teacher"]["sha256"] == meta["init"]["sha256"] == digest
    assert meta["teacher"]["quant"] == "w32a1" and meta["init"]["copied"] == 24
    assert meta["distill_weight"] == 1.0 and meta["distill_temperature"] == 2.0
    first = load_checkpoint(s1).meta["train"]["teacher"]
    assert first["sha256"] == hashlib.sha256(teacher.read_bytes()).hexdigest()


def test_staged_run_lowers_its_losses(tmp_path: Path) -> None:
    """Teacher, stage 1 (w32a1) and stage 2 (w1a1, initialised from stage 1) on synthetic
    data: within each distilled stage the cross-entropy and the distillation loss fall."""
    result = real_to_binary("sfc", "w1a1", _pair(256, 64), epochs=3, batch_size=64,
                            progress=False, out_dir=tmp_path, distill_weight=2.0)
    teacher, stage1, stage2 = result.stages
    assert [r.model.quant.name for r in result.stages] == ["w32a32", "w32a1", "w1a1"]
    assert result.final is stage2 and stage2.steps == 12
    for stage in (stage1, stage2):
        first, last = stage.history[0], stage.history[-1]
        assert last.distill_loss < first.distill_loss
        assert last.loss < first.loss
    assert teacher.history[0].distill_loss == 0.0
    assert stage2.init is not None and not stage2.init.not_copied
    assert stage2.teacher is not None and stage2.teacher["checkpoint"] == "stage1.pt"
    assert {p.name for p in tmp_path.iterdir()} >= {"teacher.pt", "stage1.pt", "stage2.pt"}
    assert result.to_dict()["accuracy"] == stage2.accuracy
