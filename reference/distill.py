"""Real-to-Binary distillation (Martinez, Yang, Bulat & Tzimiropoulos, ICLR 2020).

A frozen teacher (real-valued, or less quantised) guides a student of the same layer shapes:

* **Attention matching** at the output of every hidden MAC layer (after its batch-norm; the
  classifier excluded), paired in execution order: ``Q = Σ_c |A_c|²`` over channels (a fully
  connected layer: the squared features, one position per feature), flattened per sample and
  L2-normalised; ``L_att = β/2 · Σ_layers mean_batch ‖Q_s/‖Q_s‖ − Q_t/‖Q_t‖‖₂``.
* **Output distillation** (Hinton et al. 2015), optional: ``T² · KL(softmax(z_t/T) ‖
  softmax(z_s/T))`` with weight 1 next to the cross-entropy (the T² keeps its gradient on the
  scale of the cross-entropy's).

The teacher runs in eval mode without grad, so the loss's gradient reaches the student only.
:func:`init_from` starts a student from a checkpoint of the same network with another
quantisation (the paper's stage 2 starts from stage 1), copying every tensor whose name,
shape and dtype match.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from reference.checkpoint import build_from_checkpoint, load_checkpoint
from reference.models import QuantNet, iter_bn_pairs
from workloads.errors import ConfigError

__all__ = [
    "Distiller",
    "InitReport",
    "attention_loss",
    "attention_map",
    "init_from",
    "kd_loss",
    "load_source",
    "tapped_layers",
]

Source = str | Path | nn.Module


def attention_map(a: torch.Tensor) -> torch.Tensor:
    """Spatial attention of activations ``a`` (N, C, H, W) or features (N, F): ``Σ_c |A_c|²``
    per position, flattened and L2-normalised per sample; shape (N, positions)."""
    q = a.pow(2).sum(1) if a.dim() > 2 else a.pow(2)
    return F.normalize(q.flatten(1), p=2.0, dim=1)


def attention_loss(student: Sequence[torch.Tensor], teacher: Sequence[torch.Tensor], *,
                   weight: float) -> torch.Tensor:
    """``weight/2 · Σ_layers mean_batch ‖attention_map(s) − attention_map(t)‖₂`` (β = weight)."""
    if len(student) != len(teacher):
        raise ValueError(f"{len(student)} student maps against {len(teacher)} teacher maps")
    total = torch.zeros(())
    for s, t in zip(student, teacher, strict=True):
        diff = attention_map(s) - attention_map(t)
        total = total + torch.linalg.vector_norm(diff, dim=1).mean()
    return 0.5 * weight * total


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, *,
            temperature: float) -> torch.Tensor:
    """``T² · KL(softmax(z_t/T) ‖ softmax(z_s/T))``, averaged over the batch."""
    t = temperature
    return F.kl_div(F.log_softmax(student_logits / t, dim=1),
                    F.log_softmax(teacher_logits / t, dim=1),
                    reduction="batchmean", log_target=True) * t * t


def tapped_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The modules whose outputs are matched: each hidden MAC layer's batch-norm (the layer
    itself where it has none), in execution order; the last MAC layer (the classifier) is
    excluded."""
    pairs = list(iter_bn_pairs(model))[:-1]
    return [(name, layer if bn is None else bn) for name, layer, bn in pairs]


class _Taps:
    """Forward hooks that keep the given modules' outputs during one ``with`` block."""

    def __init__(self, modules: Sequence[nn.Module]) -> None:
        self.modules = list(modules)
        self.outputs: list[torch.Tensor | None] = []
        self._handles: list[Any] = []

    def __enter__(self) -> _Taps:
        self.outputs = [None] * len(self.modules)

        def keep(i: int) -> Any:
            def hook(_m: nn.Module, _i: Any, out: torch.Tensor) -> None:
                self.outputs[i] = out
            return hook

        self._handles = [m.register_forward_hook(keep(i)) for i, m in enumerate(self.modules)]
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def tensors(self) -> list[torch.Tensor]:
        missing = [i for i, o in enumerate(self.outputs) if o is None]
        if missing:
            raise RuntimeError(f"tapped modules {missing} did not run in the forward pass")
        return [o for o in self.outputs if o is not None]


def _shape(t: torch.Tensor) -> str:
    dims = tuple(t.shape[1:])
    return f"{dims[0]} features" if len(dims) == 1 else "×".join(map(str, dims))


class Distiller:
    """Runs a student and its frozen teacher on one batch and returns the student's logits
    with the distillation loss (attention matching with β = ``weight``, plus output KD at
    ``temperature`` when given). The layer pairs are checked once, on a probe batch."""

    def __init__(self, student: nn.Module, teacher: nn.Module, *, weight: float,
                 temperature: float | None = None) -> None:
        if teacher is student:
            raise ValueError("the teacher must be another model than the student")
        self.student, self.teacher = student, teacher
        self.weight, self.temperature = float(weight), temperature
        teacher.eval()  # its forward runs without grad: no gradient can reach it
        s_taps, t_taps = tapped_layers(student), tapped_layers(teacher)
        self.layers = [(s, t) for (s, _), (t, _) in zip(s_taps, t_taps, strict=False)]
        self._s = _Taps([m for _, m in s_taps])
        self._t = _Taps([m for _, m in t_taps])
        self._check(len(s_taps), len(t_taps))

    def _check(self, n_student: int, n_teacher: int) -> None:
        """One-line errors for a teacher whose layers do not pair with the student's."""
        shape = getattr(self.student, "input_shape", None)
        if shape is None:
            raise TypeError("the student needs an input_shape (a QuantNet)")
        t_shape = getattr(self.teacher, "input_shape", shape)
        if tuple(t_shape) != tuple(shape):
            raise ConfigError(f"the teacher takes {'×'.join(map(str, t_shape))} inputs, the "
                              f"student {'×'.join(map(str, shape))}", key="teacher")
        if n_student != n_teacher:
            raise ConfigError(f"the teacher has {n_teacher} hidden MAC layers, the student "
                              f"{n_student}; attention matching pairs them one to one",
                              key="teacher")
        was_training = self.student.training
        self.student.eval()
        try:
            with torch.no_grad(), self._s, self._t:
                x = torch.zeros(2, *shape)
                z_s, z_t = self.student(x), self.teacher(x)
            s_out, t_out = self._s.tensors(), self._t.tensors()
        finally:
            self.student.train(was_training)
        for (s_name, t_name), s, t in zip(self.layers, s_out, t_out, strict=True):
            if s.shape != t.shape:
                raise ConfigError(f"teacher layer '{t_name}' gives {_shape(t)} where the "
                                  f"student's '{s_name}' gives {_shape(s)}", key="teacher")
        if self.temperature is not None and z_s.shape != z_t.shape:
            raise ConfigError(f"the teacher has {z_t.shape[1]} classes, the student "
                              f"{z_s.shape[1]}", key="teacher")

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(student logits, distillation loss) for batch ``x``."""
        with torch.no_grad(), self._t:
            z_t = self.teacher(x)
            t_maps = self._t.tensors()
        with self._s:
            z_s = self.student(x)
            s_maps = self._s.tensors()
        loss = attention_loss(s_maps, t_maps, weight=self.weight) if self.weight > 0 \
            else torch.zeros(())
        if self.temperature is not None:
            loss = loss + kd_loss(z_s, z_t, temperature=self.temperature)
        return z_s, loss


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _state_sha256(model: nn.Module) -> str:
    """A digest of a model's state dict (names, dtypes, shapes and bytes, in key order)."""
    digest = hashlib.sha256()
    for name, t in model.state_dict().items():
        digest.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        digest.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8)
                      .numpy().tobytes())
    return digest.hexdigest()


def load_source(source: Source, *, role: str) -> tuple[nn.Module, dict[str, Any]]:
    """A teacher or init model from a checkpoint path (verified, ``weights_only``) or an
    already-built model, with its provenance for the new checkpoint's metadata: the file's
    name and SHA-256, or the model's state-dict digest."""
    if isinstance(source, nn.Module):
        info: dict[str, Any] = {"state_sha256": _state_sha256(source)}
        if isinstance(source, QuantNet):
            info = {"model": source.network, "quant": source.quant.name, **info}
        return source, info
    if not isinstance(source, str | Path):
        raise TypeError(f"{role} must be a checkpoint path or a model, not "
                        f"{type(source).__name__}")
    try:
        ckpt = load_checkpoint(source)
        model = build_from_checkpoint(ckpt)
    except ConfigError as err:
        raise ConfigError(str(err), key=role) from None
    path = ckpt.path or Path(source)
    return model, {"checkpoint": path.name, "sha256": _file_sha256(path),
                   "model": ckpt.model_name, "quant": ckpt.quant.name,
                   "accuracy": ckpt.accuracy}


@dataclass(frozen=True, slots=True)
class InitReport:
    """What :func:`init_from` copied: ``copied`` tensor names; ``not_copied``, the student's
    tensors left at their fresh values, each with the reason; ``unused``, the source's
    tensors the student has no place for; ``source``, the provenance."""

    copied: tuple[str, ...]
    not_copied: tuple[str, ...]
    unused: tuple[str, ...]
    source: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {**self.source, "copied": len(self.copied), "not_copied": list(self.not_copied),
                "unused": list(self.unused)}

    def describe(self) -> str:
        """One line for the terminal."""
        total = len(self.copied) + len(self.not_copied)
        text = f"copied {len(self.copied)} of {total} tensors"
        if self.not_copied:
            text += f"; not copied: {', '.join(self.not_copied)}"
        if self.unused:
            text += f"; unused from the source: {', '.join(self.unused)}"
        return text


def init_from(model: QuantNet, source: Source, *,
              provenance: Mapping[str, Any] | None = None) -> InitReport:
    """Copy into ``model`` every tensor of ``source`` (a checkpoint path or a model of the same
    zoo network, any quantisation) whose name, shape and dtype match; a different network is
    a one-line :class:`ConfigError`. ``provenance`` replaces the recorded origin of a source
    model (the checkpoint :func:`load_source` read it from)."""
    if provenance is not None and isinstance(source, nn.Module):
        src, info = source, dict(provenance)
    else:
        src, info = load_source(source, role="init")
    other = getattr(src, "network", None)
    if other != model.network:
        raise ConfigError(f"is a '{other}' network; the student is '{model.network}' and "
                          "init takes the same network with another quantisation",
                          key="init", value=info.get("checkpoint", other), has_value=True)
    theirs = src.state_dict()
    copied: list[str] = []
    not_copied: list[str] = []
    with torch.no_grad():
        for name, mine in model.state_dict().items():
            t = theirs.get(name)
            if t is None:
                not_copied.append(f"{name} (absent)")
            elif t.shape != mine.shape:
                not_copied.append(f"{name} (shape {tuple(t.shape)} vs {tuple(mine.shape)})")
            elif t.dtype != mine.dtype:
                not_copied.append(f"{name} (dtype {t.dtype} vs {mine.dtype})")
            else:
                mine.copy_(t)
                copied.append(name)
    unused = tuple(k for k in theirs if k not in model.state_dict())
    return InitReport(copied=tuple(copied), not_copied=tuple(not_copied), unused=unused,
                      source=info)
