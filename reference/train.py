"""Training and evaluation of the zoo models, deterministic and CPU-friendly.

Binary weights are trained as latent real weights with Adam and clipped to [−1, 1] after each
step (BinaryConnect), or flipped directly by :class:`Bop` (Helwegen et al., NeurIPS 2019);
every other parameter (batch-norm, multi-bit weights, learnt quantiser scales) uses Adam. The
learning rate follows a per-step cosine or step schedule. Accuracy is measured on the test
split after every epoch and the last epoch's value is reported (no selection on the test set).

A run may be distilled from a frozen teacher and start from another quantisation's checkpoint
(``teacher=``, ``distill_weight=``, ``distill_temperature=``, ``init=``; see
:mod:`reference.distill`); :func:`real_to_binary` chains such runs into Real-to-Binary's staged
recipe.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from reference.checkpoint import build_from_checkpoint, checkpoint_payload, write_checkpoint
from reference.data import ImageDataset, load_dataset
from reference.distill import Distiller, InitReport, Source, init_from, load_source
from reference.models import QuantNet, build_model, mac_layers
from reference.quantizers.groupnet import GroupNetWeight
from workloads.errors import ConfigError
from workloads.quant import QuantConfig, parse_quant
from workloads.zoo import zoo_network

__all__ = [
    "Bop",
    "EpochStats",
    "EvalResult",
    "StagedResult",
    "TrainResult",
    "configure_threads",
    "evaluate",
    "load_datasets",
    "real_to_binary",
    "train",
]

OptimizerName = Literal["adam", "bop"]
ScheduleName = Literal["cosine", "step"]


class Bop(torch.optim.Optimizer):
    """Binary optimizer (Helwegen et al. 2019): flip a weight when momentum insists.

    Keeps an exponential moving average ``m ← (1 − γ)·m + γ·g`` of each gradient and flips
    ``w ← −w`` where ``|m| > τ`` and ``m`` has the sign of ``w``. ``lr`` is γ (the adaptivity
    rate), so learning-rate schedulers anneal it; ``threshold`` is τ. The weights keep their
    magnitude, only their sign changes.
    """

    def __init__(self, params: Iterable[nn.Parameter], *, lr: float = 1e-4,
                 threshold: float = 1e-8) -> None:
        if not 0.0 < lr <= 1.0:
            raise ValueError(f"Bop's adaptivity rate must be in (0, 1], got {lr}")
        if threshold < 0.0:
            raise ValueError(f"Bop's threshold must be >= 0, got {threshold}")
        super().__init__(params, {"lr": lr, "threshold": threshold})

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            gamma, tau = group["lr"], group["threshold"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "momentum" not in state:
                    state["momentum"] = torch.zeros_like(p)
                m = state["momentum"]
                m.mul_(1.0 - gamma).add_(p.grad, alpha=gamma)
                flip = (m.abs() > tau) & (torch.sign(m) == torch.sign(p))
                p.copy_(torch.where(flip, -p, p))
        return loss


@dataclass(frozen=True, slots=True)
class EpochStats:
    """One epoch: mean training cross-entropy, training and test accuracy (fractions),
    seconds, and the mean distillation loss (0 without a teacher)."""

    epoch: int
    loss: float
    train_accuracy: float
    test_accuracy: float
    wall_s: float
    distill_loss: float = 0.0


@dataclass(frozen=True, slots=True)
class EvalResult:
    """Accuracy (fraction) and mean cross-entropy over ``samples`` test images."""

    accuracy: float
    loss: float
    samples: int


@dataclass(frozen=True, slots=True)
class TrainResult:
    """The trained model (eval mode), its final test accuracy and how it got there."""

    model: QuantNet
    accuracy: float
    history: tuple[EpochStats, ...]
    steps: int
    wall_s: float
    checkpoint: Path | None
    payload: dict[str, Any] = field(default_factory=dict, repr=False)  # what a checkpoint holds
    teacher: dict[str, Any] | None = None  # the teacher's provenance (see reference.distill)
    init: InitReport | None = None  # what was copied from the init checkpoint

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no model)."""
        return {
            "model": self.model.network, "quant": self.model.quant.name,
            "accuracy": self.accuracy, "steps": self.steps, "wall_s": self.wall_s,
            "checkpoint": None if self.checkpoint is None else str(self.checkpoint),
            "history": [asdict(h) for h in self.history],
            "teacher": self.teacher, "init": None if self.init is None else self.init.to_dict(),
        }


def configure_threads() -> int:
    """Use every CPU this process may run on, unless ``OMP_NUM_THREADS`` says otherwise."""
    if not os.environ.get("OMP_NUM_THREADS"):
        try:
            cpus = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            cpus = os.cpu_count() or 1
        torch.set_num_threads(max(1, cpus))
    return torch.get_num_threads()


@contextmanager
def _deterministic(seed: int) -> Iterator[None]:
    """Seed every RNG and ask torch for deterministic kernels; restore the flag afterwards."""
    previous = torch.are_deterministic_algorithms_enabled()
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous)


def _inq_layers(model: nn.Module) -> list[tuple[Any, Any]]:
    """(MAC layer, its INQ weight quantiser) pairs."""
    from reference.quantizers import IncrementalPow2

    return [(layer, layer.weight_quantizer) for layer in mac_layers(model).values()
            if isinstance(layer.weight_quantizer, IncrementalPow2)]


def _binary_weights(model: nn.Module) -> list[nn.Parameter]:
    """The latent weights clipped to [−1, 1] after each Adam step: binary layers' and every
    Group-Net branch's (BNN's rule, which Group-Net follows)."""
    out = []
    for layer in mac_layers(model).values():
        if layer.weight_kind == "binary":
            out.append(cast(nn.Parameter, layer.weight))
        elif isinstance(layer.weight_quantizer, GroupNetWeight):
            out += [cast(nn.Parameter, layer.weight), *layer.weight_quantizer.branches]
    return out


def _schedule(kind: ScheduleName, total_steps: int) -> Any:
    if kind == "cosine":
        return lambda t: 0.5 * (1.0 + math.cos(math.pi * min(t, total_steps) / total_steps))
    if kind == "step":
        milestones = (total_steps // 2, (3 * total_steps) // 4)
        return lambda t: 0.1 ** sum(t >= m for m in milestones)
    raise ConfigError("allowed: cosine, step", key="schedule", value=kind, has_value=True)


def load_datasets(model_name: str, name: str | tuple[ImageDataset, ImageDataset],
                  data_dir: str | Path | None = None) -> tuple[ImageDataset, ImageDataset]:
    """The (train, test) splits of dataset ``name`` shaped for zoo model ``model_name`` (a
    pair of datasets passes through)."""
    if not isinstance(name, str):
        train_ds, test_ds = name
        return train_ds, test_ds
    shape = zoo_network(model_name).input_shape
    train_ds = load_dataset(name, split="train", data_dir=data_dir, shape=shape)
    test_ds = load_dataset(name, split="test", data_dir=data_dir, shape=shape)
    return train_ds, test_ds


def _check_fit(model: QuantNet, ds: ImageDataset) -> None:
    if ds.shape != model.input_shape:
        expected = "×".join(map(str, model.input_shape))
        raise ConfigError(f"model '{model.network}' takes {expected} inputs but dataset "
                          f"'{ds.name}' has {'×'.join(map(str, ds.shape))} images",
                          key="dataset", value=ds.name, has_value=True)


def evaluate(
    checkpoint_or_model: str | Path | nn.Module,
    dataset: str | ImageDataset | None = None,
    data_dir: str | Path | None = None,
    *,
    batch_size: int = 1000,
    max_samples: int | None = None,
) -> EvalResult:
    """Test accuracy of a model or checkpoint file on a dataset's test split.

    ``dataset`` of ``None`` uses the checkpoint's own dataset.
    """
    configure_threads()
    model: nn.Module
    if isinstance(checkpoint_or_model, nn.Module):
        model = checkpoint_or_model
        ckpt_dataset = None
    else:
        from reference.checkpoint import load_checkpoint

        ckpt = load_checkpoint(checkpoint_or_model)
        model = build_from_checkpoint(ckpt)
        ckpt_dataset = ckpt.dataset
    name = dataset if dataset is not None else ckpt_dataset
    if name is None:
        raise ConfigError("no dataset given", key="dataset")
    if isinstance(name, ImageDataset):
        ds = name
    else:
        shape = model.input_shape if isinstance(model, QuantNet) else None
        ds = load_dataset(name, split="test", data_dir=data_dir, shape=shape)
    if isinstance(model, QuantNet):
        _check_fit(model, ds)
    if max_samples is not None:
        ds = ds.subset(max_samples)
    return _evaluate(model, ds, batch_size=batch_size)


def _evaluate(model: nn.Module, ds: ImageDataset, *, batch_size: int) -> EvalResult:
    was_training = model.training
    model.eval()
    correct, loss_sum = 0, 0.0
    with torch.no_grad():
        for x, y in ds.batches(batch_size):
            logits = model(x)
            loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
            correct += int((logits.argmax(1) == y).sum())
    model.train(was_training)
    n = max(len(ds), 1)
    return EvalResult(accuracy=correct / n, loss=loss_sum / n, samples=len(ds))


def train(
    model_name: str,
    quant: QuantConfig | str | None,
    dataset: str | tuple[ImageDataset, ImageDataset],
    epochs: int,
    *,
    data_dir: str | Path | None = None,
    batch_size: int = 100,
    lr: float = 5e-3,
    optimizer: OptimizerName = "adam",
    schedule: ScheduleName = "cosine",
    seed: int = 0,
    bnnplus_reg: float = 0.0,
    bnnplus_kind: Literal["l1", "l2"] = "l1",
    bop_gamma: float = 1e-4,
    bop_threshold: float = 1e-8,
    weight_decay: float = 0.0,
    pact_decay: float = 5e-4,
    inq_stages: tuple[float, ...] = (0.5, 0.75, 0.875, 1.0),
    dropout: float | None = None,
    out: str | Path | None = None,
    progress: bool = True,
    max_steps: int | None = None,
    teacher: Source | None = None,
    distill_weight: float = 0.0,
    distill_temperature: float | None = None,
    init: Source | None = None,
) -> TrainResult:
    """Train a zoo model on a dataset and evaluate it on the test split after each epoch.

    ``dataset`` is a name (see :data:`reference.data.DATASETS`) or a ``(train, test)`` pair of
    :class:`~reference.data.ImageDataset` (e.g. small synthetic sets in tests).

    ``lr`` is Adam's peak learning rate; ``bop_gamma``/``bop_threshold`` are Bop's γ and τ
    (used with ``optimizer="bop"``). ``bnnplus_reg`` is λ of the BNN+ regulariser on binary
    weights. ``pact_decay`` is the L2 weight decay on PACT's clipping levels α (the paper
    regularises α so it shrinks to the activations' range). INQ weights are quantised in
    ``inq_stages`` (accumulated portions, the last 1): the run's steps split evenly over the
    stages, and each stage starts by freezing its portion (the paper's schedule). ``max_steps``
    stops early (for tests). ``out`` writes a checkpoint.

    ``teacher`` (a checkpoint path, read verified and ``weights_only``, or a built model)
    distils into the student (Real-to-Binary, :mod:`reference.distill`): ``distill_weight``
    is β of the attention-matching loss on the hidden MAC layers' outputs (0: off), and
    ``distill_temperature`` T adds the output KD term ``T²·KL`` with weight 1 (``None``: off).
    ``init`` (a checkpoint path or model of the same network, any quantisation) starts the
    student from its matching tensors. The checkpoint records both sources' provenance.
    """
    zoo_network(model_name)  # an unknown name raises the ConfigError listing the zoo
    for key, value, high in (("epochs", epochs, 100_000), ("batch_size", batch_size, 1 << 20),
                             ("max_steps", max_steps, 1 << 40), ("seed", seed, 2**32 - 1)):
        low = 0 if key == "seed" else 1
        if value is None and key == "max_steps":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(f"must be an integer in [{low}, {high}]", key=key, value=value,
                              has_value=True)
    if not (math.isfinite(lr) and lr > 0):
        raise ConfigError("must be a finite number > 0", key="lr", value=lr, has_value=True)
    if (not inq_stages or any(not 0 < s <= 1 for s in inq_stages) or inq_stages[-1] != 1
            or list(inq_stages) != sorted(inq_stages)):
        raise ConfigError("INQ stages are increasing portions in (0, 1] ending at 1",
                          key="inq_stages", value=list(inq_stages), has_value=True)
    if not (math.isfinite(pact_decay) and pact_decay >= 0):
        raise ConfigError("must be a finite number >= 0", key="pact_decay", value=pact_decay,
                          has_value=True)
    if not (math.isfinite(bnnplus_reg) and bnnplus_reg >= 0):
        raise ConfigError("must be a finite number >= 0", key="bnnplus_reg", value=bnnplus_reg,
                          has_value=True)
    if optimizer not in ("adam", "bop"):
        raise ConfigError("allowed: adam, bop", key="optimizer", value=optimizer,
                          has_value=True)
    _check_distill(teacher, distill_weight, distill_temperature)
    qc = None if quant is None else parse_quant(quant)
    threads = configure_threads()
    start = time.perf_counter()
    # sources load before the seeded block: building them draws on torch's RNG
    teacher_model, teacher_info = (None, None) if teacher is None else load_source(
        teacher, role="teacher")
    init_model, init_info = (None, None) if init is None else load_source(init, role="init")
    train_ds, test_ds = load_datasets(model_name, dataset, data_dir)
    init_report = None
    with _deterministic(seed):
        model = build_model(model_name, qc, num_classes=train_ds.num_classes, dropout=dropout)
        _check_fit(model, train_ds)
        if init_model is not None:
            init_report = init_from(model, init_model, provenance=init_info)
        distiller = None if teacher_model is None else Distiller(
            model, teacher_model, weight=distill_weight, temperature=distill_temperature)
        binary = _binary_weights(model)
        from reference.quantizers import Pact

        alphas = [m.alpha for m in model.modules() if isinstance(m, Pact)]
        special = {id(p) for p in binary} | {id(p) for p in alphas}
        rest = [p for p in model.parameters() if id(p) not in special]
        regularizers = nn.ModuleList()
        if bnnplus_reg > 0:
            from reference.quantizers import BNNPlusRegularizer

            regularizers.extend(BNNPlusRegularizer(p.shape[0], kind=bnnplus_kind)
                                for p in binary)
            rest += list(regularizers.parameters())
        optimizers: list[torch.optim.Optimizer] = []
        if optimizer == "bop":
            with torch.no_grad():
                for p in binary:  # ±0.5: inside every surrogate's non-zero gradient range
                    p.copy_(torch.where(p >= 0, 0.5, -0.5))
            optimizers.append(Bop(binary, lr=bop_gamma, threshold=bop_threshold))
            adam_params = rest
        else:
            adam_params = binary + rest
        groups: list[dict[str, Any]] = [{"params": adam_params}]
        if alphas:
            groups.append({"params": alphas, "weight_decay": pact_decay})
        optimizers.append(torch.optim.Adam(groups, lr=lr, weight_decay=weight_decay))
        steps_per_epoch = math.ceil(len(train_ds) / batch_size)
        total = steps_per_epoch * epochs if max_steps is None else min(
            max_steps, steps_per_epoch * epochs)
        factor = _schedule(schedule, max(total, 1))
        inq = _inq_layers(model)
        # the step at which each INQ stage starts (the first at step 0)
        # (never past the last step, so a short run still ends with every weight frozen; stages
        # that meet on one step freeze the larger portion)
        inq_starts = [min(round(i * total / len(inq_stages)), max(total - 1, 0))
                      for i in range(len(inq_stages))]
        schedulers = [torch.optim.lr_scheduler.LambdaLR(o, factor) for o in optimizers]
        generator = torch.Generator().manual_seed(seed)
        history: list[EpochStats] = []
        step = 0
        for epoch in range(1, epochs + 1):
            if step >= total:
                break
            stats = _train_epoch(
                model, train_ds, test_ds, epoch=epoch, epochs=epochs, batch_size=batch_size,
                optimizers=optimizers, schedulers=schedulers, generator=generator,
                binary=binary if optimizer == "adam" else [], regularizers=regularizers,
                reg_params=binary,
                bnnplus_reg=bnnplus_reg, step=step, total=total, progress=progress,
                inq=[(layer, q, dict(zip(inq_starts, inq_stages, strict=True)))
                     for layer, q in inq], distiller=distiller,
            )
            step = stats[1]
            history.append(stats[0])
    model.eval()
    accuracy = history[-1].test_accuracy
    wall_s = time.perf_counter() - start
    settings = {"batch_size": batch_size, "lr": lr, "optimizer": optimizer,
                "schedule": schedule, "bnnplus_reg": bnnplus_reg, "steps": step,
                "threads": threads, "wall_s": wall_s, "weight_decay": weight_decay,
                "pact_decay": pact_decay, "inq_stages": list(inq_stages),
                "dropout": dropout, "bop_gamma": bop_gamma, "bop_threshold": bop_threshold,
                "distill_weight": distill_weight, "distill_temperature": distill_temperature,
                "teacher": teacher_info,
                "init": None if init_report is None else init_report.to_dict()}
    payload = checkpoint_payload(model, dataset=train_ds.name, accuracy=accuracy,
                                 epochs=len(history), seed=seed, train_settings=settings,
                                 history=[asdict(h) for h in history])
    ckpt = write_checkpoint(payload, out) if out is not None else None
    return TrainResult(model=model, accuracy=accuracy, history=tuple(history), steps=step,
                       wall_s=wall_s, checkpoint=ckpt, payload=payload, teacher=teacher_info,
                       init=init_report)


#: Real-to-Binary's defaults here: β of the attention loss (chosen on a validation split of
#: MNIST for LFC, docs/accuracy.md) and the output-distillation temperature.
R2B_DISTILL_WEIGHT = 0.3
R2B_TEMPERATURE = 1.0


@dataclass(frozen=True, slots=True)
class StagedResult:
    """The runs of a staged recipe in order (the teacher's first when it was trained here)."""

    stages: tuple[TrainResult, ...]

    @property
    def final(self) -> TrainResult:
        return self.stages[-1]

    def to_dict(self) -> dict[str, Any]:
        return {"stages": [r.to_dict() for r in self.stages],
                "accuracy": self.final.accuracy}


def real_to_binary(
    model_name: str,
    quant: QuantConfig | str | None,
    dataset: str | tuple[ImageDataset, ImageDataset],
    *,
    teacher: Source | None = None,
    teacher_quant: QuantConfig | str = "w32a32",
    intermediate: QuantConfig | str = "w32a1",
    epochs: int = 1,
    distill_weight: float = R2B_DISTILL_WEIGHT,
    distill_temperature: float | None = R2B_TEMPERATURE,
    out_dir: str | Path | None = None,
    **train_kwargs: Any,
) -> StagedResult:
    """Real-to-Binary's progressive teacher-student recipe (Martinez et al., ICLR 2020).

    Stage 0 (only when no ``teacher`` is given) trains a ``teacher_quant`` teacher. Stage 1
    trains ``intermediate`` (binary activations, real weights) distilled from the teacher;
    stage 2 trains the target ``quant``, initialised from stage 1 and distilled from it. Each
    stage runs ``epochs`` with the other :func:`train` keywords (``max_steps``, ``lr``, …).
    ``out_dir`` writes ``teacher.pt``, ``stage1.pt`` and ``stage2.pt``, and the next stage
    then reads its teacher and init from those files (so their digests are recorded).
    """
    folder = None if out_dir is None else Path(out_dir)

    def target(name: str) -> Path | None:
        return None if folder is None else folder / name

    stages: list[TrainResult] = []
    if teacher is None:
        first = train(model_name, teacher_quant, dataset, epochs, out=target("teacher.pt"),
                      **train_kwargs)
        stages.append(first)
        teacher = first.checkpoint or first.model
    stage1 = train(model_name, intermediate, dataset, epochs, teacher=teacher,
                   distill_weight=distill_weight, distill_temperature=distill_temperature,
                   out=target("stage1.pt"), **train_kwargs)
    source = stage1.checkpoint or stage1.model
    stage2 = train(model_name, quant, dataset, epochs, teacher=source, init=source,
                   distill_weight=distill_weight, distill_temperature=distill_temperature,
                   out=target("stage2.pt"), **train_kwargs)
    return StagedResult(stages=(*stages, stage1, stage2))


def _check_distill(teacher: Source | None, weight: float, temperature: float | None) -> None:
    """One-line errors for distillation settings that are out of range or do nothing."""
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not (
            math.isfinite(weight) and weight >= 0):
        raise ConfigError("must be a finite number >= 0", key="distill_weight", value=weight,
                          has_value=True)
    if temperature is not None and (
            isinstance(temperature, bool) or not isinstance(temperature, int | float)
            or not (math.isfinite(temperature) and temperature > 0)):
        raise ConfigError("must be a finite number > 0, or None (no output distillation)",
                          key="distill_temperature", value=temperature, has_value=True)
    if teacher is None and (weight > 0 or temperature is not None):
        raise ConfigError("distillation needs a teacher (a checkpoint or a model)",
                          key="teacher")
    if teacher is not None and weight == 0 and temperature is None:
        raise ConfigError("the teacher would go unused: give distill_weight > 0 (attention "
                          "matching) or distill_temperature (output distillation)",
                          key="teacher")


def _train_epoch(
    model: QuantNet, train_ds: ImageDataset, test_ds: ImageDataset, *, epoch: int, epochs: int,
    batch_size: int, optimizers: list[torch.optim.Optimizer], schedulers: list[Any],
    generator: torch.Generator, binary: list[nn.Parameter], regularizers: nn.ModuleList,
    reg_params: list[nn.Parameter],
    bnnplus_reg: float, step: int, total: int, progress: bool,
    inq: list[tuple[Any, Any, dict[int, float]]] | None = None,
    distiller: Distiller | None = None,
) -> tuple[EpochStats, int]:
    from tqdm import tqdm

    t0 = time.perf_counter()
    model.train()
    loss_sum, distill_sum, correct, seen = 0.0, 0.0, 0, 0
    steps_left = total - step
    bar = tqdm(total=min(math.ceil(len(train_ds) / batch_size), steps_left),
               desc=f"epoch {epoch}/{epochs}", disable=not progress, leave=False,
               dynamic_ncols=True)
    for x, y in train_ds.batches(batch_size, shuffle=True, generator=generator):
        if step >= total:
            break
        for layer, q, starts in inq or ():
            if step in starts:  # an INQ stage begins: freeze its portion
                q.advance(layer.weight, starts[step])
        if distiller is None:
            logits = model(x)
            distill = None
        else:
            logits, distill = distiller(x)
        loss = F.cross_entropy(logits, y)
        objective = loss if distill is None else loss + distill
        if bnnplus_reg > 0:
            # one regulariser per binary latent tensor (a Group-Net layer has K)
            reg = sum((r(w) for r, w in zip(regularizers, reg_params, strict=True)),
                      start=torch.zeros(()))
            objective = objective + bnnplus_reg * reg
        for opt in optimizers:
            opt.zero_grad(set_to_none=True)
        objective.backward()
        for opt in optimizers:
            opt.step()
        for sched in schedulers:
            sched.step()
        with torch.no_grad():
            for p in binary:
                p.clamp_(-1.0, 1.0)
        step += 1
        loss_sum += float(loss.detach()) * len(y)
        if distill is not None:
            distill_sum += float(distill.detach()) * len(y)
        correct += int((logits.argmax(1) == y).sum())
        seen += len(y)
        bar.update(1)
        if step % 20 == 0:
            bar.set_postfix(loss=f"{loss_sum / seen:.4f}", acc=f"{correct / seen:.4f}")
    bar.close()
    test = _evaluate(model, test_ds, batch_size=1000)
    stats = EpochStats(epoch=epoch, loss=loss_sum / max(seen, 1),
                       train_accuracy=correct / max(seen, 1), test_accuracy=test.accuracy,
                       wall_s=time.perf_counter() - t0, distill_loss=distill_sum / max(seen, 1))
    if progress:
        extra = f", distill {stats.distill_loss:.4f}" if distiller is not None else ""
        tqdm.write(f"epoch {epoch}/{epochs}: loss {stats.loss:.4f}{extra}, train acc "
                   f"{stats.train_accuracy:.4f}, test acc {stats.test_accuracy:.4f} "
                   f"({stats.wall_s:.1f} s)")
    return stats, step
