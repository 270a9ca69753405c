"""Checkpoints: a trained zoo model's state dict with what is needed to rebuild and trust it.

A checkpoint file is ``torch.save`` of a plain dict (so ``torch.load(weights_only=True)`` reads
it without running pickled code)::

    format: "bnnsim-checkpoint", format_version: 1,
    model: "lfc", quant: QuantConfig.to_dict(), dataset: "mnist", accuracy: 0.983,
    epochs: 10, seed: 0, bnnsim_version: "0.1.0", num_classes: 10, in_channels: 1,
    train: {...training settings...}, history: [{epoch, loss, train_accuracy, test_accuracy}],
    state_dict: {...}

Every way a file can be wrong is a one-line :class:`~workloads.errors.ConfigError` naming the
file, before any of it is used: not a regular file or too large, a damaged archive (the zip
members' CRC-32 checksums are verified: torch itself does not), not a checkpoint, entries of
the wrong type, a model the zoo does not know, a quantisation that does not parse, tensors whose
names, shapes or dtypes are not the claimed model's, or weights that are not finite.
Checkpoints are written atomically (a temporary file, then a rename).
"""

from __future__ import annotations

import errno
import pickle
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from reference.models import QuantNet, build_model
from workloads.errors import ConfigError
from workloads.files import atomic_write, check_regular
from workloads.quant import QuantConfig, parse_quant
from workloads.version import package_version
from workloads.zoo import ZOO

__all__ = [
    "CHECKPOINT_FORMAT",
    "MAX_CHECKPOINT_BYTES",
    "Checkpoint",
    "build_from_checkpoint",
    "checkpoint_payload",
    "load_checkpoint",
    "save_checkpoint",
    "save_payload",
    "verify_checkpoint",
    "write_checkpoint",
]

CHECKPOINT_FORMAT = "bnnsim-checkpoint"
FORMAT_VERSION = 1
#: Largest checkpoint file read (bytes), and the most its archive may hold unpacked.
MAX_CHECKPOINT_BYTES = 4 * 2**30
#: Most archive members (a torch checkpoint has a few per tensor).
MAX_ARCHIVE_MEMBERS = 100_000
#: Bounds of a checkpoint's class count and input channels.
MAX_CLASSES = 1_000_000
MAX_IN_CHANNELS = 4_096
_REQUIRED = ("model", "quant", "dataset", "accuracy", "state_dict")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A loaded checkpoint. ``accuracy`` is the measured test accuracy as a fraction (0–1).

    ``meta`` holds the rest: epochs, seed, bnnsim_version, num_classes, in_channels, train
    settings and the per-epoch history.
    """

    model_name: str
    quant: QuantConfig
    state_dict: Mapping[str, torch.Tensor]
    accuracy: float | None
    dataset: str
    meta: Mapping[str, Any] = field(default_factory=dict)
    path: Path | None = None


def checkpoint_payload(
    model: QuantNet,
    *,
    dataset: str,
    accuracy: float | None,
    epochs: int,
    seed: int,
    train_settings: Mapping[str, Any] | None = None,
    history: list[dict[str, float]] | None = None,
) -> dict[str, Any]:
    """The plain dict a checkpoint file holds (see the module doc)."""
    return {
        "format": CHECKPOINT_FORMAT,
        "format_version": FORMAT_VERSION,
        "model": model.network,
        "quant": model.quant.to_dict(),
        "dataset": dataset,
        "accuracy": None if accuracy is None else float(accuracy),
        "epochs": int(epochs),
        "seed": int(seed),
        "bnnsim_version": package_version(),
        "num_classes": int(model.num_classes),
        "in_channels": int(model.input_shape[0]),
        "train": dict(train_settings or {}),
        "history": list(history or []),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }


def save_payload(payload: Mapping[str, Any], path: str | Path) -> None:
    """``torch.save`` of a checkpoint payload; a failed write (a full disk) is an OSError, as
    for any other file, not torch's RuntimeError."""
    try:
        torch.save(dict(payload), path)
    except RuntimeError as err:
        reason = _first_line(err).rsplit("strerror: ", 1)[-1]
        raise OSError(errno.EIO, f"torch.save failed: {reason}") from None


def write_checkpoint(payload: Mapping[str, Any], path: str | Path) -> Path:
    """Write a :func:`checkpoint_payload` to ``path`` atomically (parent folders are created).

    A path that cannot be written is a one-line :class:`ConfigError`; an existing file is
    replaced only once the new one is complete.
    """
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        if p.is_dir():
            raise IsADirectoryError(21, "Is a directory")
        atomic_write(p, lambda tmp: save_payload(payload, tmp), flag="checkpoint")
    except ConfigError as err:  # "cannot write (reason)" from atomic_write
        reason = err.message.removeprefix("cannot write ")
        raise ConfigError(f"cannot write checkpoint {reason}", file=p) from None
    except (OSError, RuntimeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else _first_line(err)
        reason = reason.rsplit("strerror: ", 1)[-1]  # torch's "[enforce fail at ...]" prefix
        raise ConfigError(f"cannot write checkpoint ({reason})", file=p) from None
    return p


def save_checkpoint(
    model: QuantNet,
    path: str | Path,
    *,
    dataset: str,
    accuracy: float | None,
    epochs: int,
    seed: int,
    train_settings: Mapping[str, Any] | None = None,
    history: list[dict[str, float]] | None = None,
) -> Path:
    """Write ``model`` and its provenance to ``path`` (atomically; parent folders created)."""
    return write_checkpoint(checkpoint_payload(model, dataset=dataset, accuracy=accuracy,
                                               epochs=epochs, seed=seed,
                                               train_settings=train_settings,
                                               history=history), path)


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    line = text[0] if text else err.__class__.__name__
    return line if len(line) <= 160 else line[:157] + "..."


def _unpickler_reason(err: BaseException) -> str:
    """The specific reason inside torch's long weights-only refusal message."""
    text = str(err)
    marker = "WeightsUnpickler error:"
    if marker not in text:
        return _first_line(err)
    rest = text.split(marker, 1)[1].strip().splitlines()[0].strip()
    return rest.split(". Please", 1)[0].rstrip(".")[:160]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _shown(value: Any) -> Any:
    """``value`` if its repr is one short line, else its type name."""
    if isinstance(value, str | int | float | bool) or value is None:
        return value if len(repr(value)) <= 60 else f"{repr(value)[:57]}..."
    return f"<{type(value).__name__}>"


def _check_fields(raw: Mapping[str, Any], p: Path) -> None:
    """One-line errors for entries of the wrong type (hand-edited or foreign files)."""
    accuracy = raw["accuracy"]
    if accuracy is not None and (
            isinstance(accuracy, bool) or not isinstance(accuracy, int | float)
            or not 0.0 <= accuracy <= 1.0):
        raise ConfigError("bad checkpoint entry; expected a fraction in [0, 1] or None",
                          file=p, key="accuracy", value=_shown(accuracy), has_value=True)
    for key in ("model", "dataset"):
        if not isinstance(raw[key], str):
            raise ConfigError("bad checkpoint entry; expected a string", file=p, key=key,
                              value=_shown(raw[key]), has_value=True)
    if raw["model"] not in ZOO:
        raise ConfigError(f"bad checkpoint entry; not a zoo model (known: {', '.join(ZOO)})",
                          file=p, key="model", value=_shown(raw["model"]), has_value=True)
    for key, high in (("num_classes", MAX_CLASSES), ("in_channels", MAX_IN_CHANNELS)):
        value = raw.get(key)
        if value is not None and (not _is_int(value) or not 1 <= value <= high):
            raise ConfigError(f"bad checkpoint entry; expected an integer in [1, {high:,}]",
                              file=p, key=key, value=_shown(value), has_value=True)


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint` (``weights_only=True``)."""
    p = check_regular(path, limit=MAX_CHECKPOINT_BYTES, what="checkpoint")
    _verify_archive(p)
    try:
        raw = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise ConfigError(f"not a bnnsim checkpoint, or corrupt (the weights-only loader "
                          f"refused it: {_unpickler_reason(err)})", file=p) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, KeyError,
            AttributeError, IndexError) as err:
        raise ConfigError(f"unreadable checkpoint, truncated or corrupt ({_first_line(err)})",
                          file=p) from None
    if not isinstance(raw, dict) or raw.get("format") != CHECKPOINT_FORMAT:
        raise ConfigError(f"not a bnnsim checkpoint (no format: {CHECKPOINT_FORMAT!r} entry; "
                          "write one with `bnnsim train`)", file=p)
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise ConfigError(f"checkpoint lacks {', '.join(missing)}", file=p)
    version = raw.get("format_version", 0)
    if not _is_int(version) or version < 0:
        raise ConfigError("bad checkpoint entry; expected a non-negative integer",
                          file=p, key="format_version", value=_shown(version), has_value=True)
    if version > FORMAT_VERSION:
        raise ConfigError(f"checkpoint format version {version} is newer than "
                          f"this bnnsim reads ({FORMAT_VERSION})", file=p)
    _check_fields(raw, p)
    state = raw["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ConfigError("checkpoint state_dict is not a mapping of tensors", file=p)
    if not isinstance(raw["quant"], Mapping):  # never a path or a spec to resolve
        raise ConfigError("bad checkpoint entry; expected a quantisation mapping", file=p,
                          key="quant", value=_shown(raw["quant"]), has_value=True)
    try:
        quant = parse_quant(raw["quant"])
    except ConfigError as err:
        raise ConfigError(f"bad quantisation entry: {err}", file=p) from None
    accuracy = raw["accuracy"]
    meta = {k: v for k, v in raw.items() if k not in (*_REQUIRED, "format")}
    return Checkpoint(model_name=str(raw["model"]), quant=quant, state_dict=state,
                      accuracy=None if accuracy is None else float(accuracy),
                      dataset=str(raw["dataset"]), meta=meta, path=p)


def _verify_archive(p: Path) -> None:
    """A checkpoint is a zip archive (``torch.save``'s format); every member's CRC-32 must
    match, since torch's reader does not check them."""
    try:
        with zipfile.ZipFile(p) as archive:
            members = archive.infolist()
            names = [m.filename for m in members]
            unpacked = sum(m.file_size for m in members)
            if len(members) > MAX_ARCHIVE_MEMBERS or len(set(names)) != len(names):
                raise ConfigError(f"corrupt checkpoint: {len(members):,} archive members"
                                  + (", some sharing a name" if len(set(names)) != len(names)
                                     else ""), file=p)
            if unpacked > MAX_CHECKPOINT_BYTES:
                raise ConfigError(f"corrupt checkpoint: its archive unpacks to {unpacked:,} "
                                  f"bytes, over the {MAX_CHECKPOINT_BYTES:,}-byte limit", file=p)
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as err:
        raise ConfigError(f"unreadable checkpoint, truncated or corrupt (not a readable zip "
                          f"archive: {_first_line(err)})", file=p) from None
    except zlib.error as err:
        raise ConfigError(f"corrupt checkpoint (damaged compressed data: {_first_line(err)})",
                          file=p) from None
    if bad is not None:
        raise ConfigError(f"corrupt checkpoint: archive member {bad!r} fails its CRC-32 "
                          "checksum", file=p)


def _mismatch(model: nn.Module, state: Mapping[str, torch.Tensor]) -> str | None:
    """A one-line description of how ``state`` fails to fit ``model``, or None."""
    want = model.state_dict()
    missing = [k for k in want if k not in state]
    unexpected = [k for k in state if k not in want]
    shapes = [f"{k} {tuple(state[k].shape)} vs model {tuple(v.shape)}"
              for k, v in want.items() if k in state and state[k].shape != v.shape]
    dtypes = [f"{k} {state[k].dtype} vs model {v.dtype}"
              for k, v in want.items() if k in state and state[k].dtype != v.dtype]
    parts = []
    for label, items in (("missing", missing), ("unexpected", unexpected), ("shape", shapes),
                         ("dtype", dtypes)):
        if items:
            more = f" (+{len(items) - 3} more)" if len(items) > 3 else ""
            parts.append(f"{label}: {', '.join(items[:3])}{more}")
    return "; ".join(parts) or None


def verify_checkpoint(ckpt: Checkpoint) -> QuantNet:
    """The model the checkpoint claims to be, built and checked against it: every tensor's
    name, shape and dtype, and finite values. Returns the model (weights not yet loaded)."""
    where = ckpt.path
    for name, tensor in ckpt.state_dict.items():
        if tensor.layout is not torch.strided or tensor.device.type != "cpu":
            raise ConfigError(f"tensor {name!r} is {tensor.layout} on {tensor.device}; a "
                              "checkpoint holds dense CPU tensors", file=where)
    _check_weight_shapes(ckpt)  # before building: a claimed model may be huge
    try:
        model = build_model(ckpt.model_name, ckpt.quant,
                            num_classes=ckpt.meta.get("num_classes"),
                            in_channels=ckpt.meta.get("in_channels"))
    except ConfigError as err:
        raise ConfigError(f"cannot rebuild model: {err}", file=where) from None
    problem = _mismatch(model, ckpt.state_dict)
    if problem:
        raise ConfigError(f"state dict does not fit model '{ckpt.model_name}' "
                          f"({ckpt.quant.name}): {problem}", file=where)
    for name, tensor in ckpt.state_dict.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            bad = int((~torch.isfinite(tensor)).sum())
            raise ConfigError(f"tensor {name!r} holds {bad:,} non-finite values (NaN or "
                              "infinity) of " f"{tensor.numel():,}", file=where)
        if name.endswith("running_var") and bool((tensor < 0).any()):
            raise ConfigError(f"tensor {name!r} holds negative batch-norm variances", file=where)
    return model


def _check_weight_shapes(ckpt: Checkpoint) -> None:
    """The MAC layers' weight shapes, from the workload the checkpoint claims (no torch
    model built yet), against its state dict."""
    try:
        net = ZOO[ckpt.model_name].network(ckpt.quant, num_classes=ckpt.meta.get("num_classes"),
                                           in_channels=ckpt.meta.get("in_channels"))
    except ConfigError as err:
        raise ConfigError(f"cannot rebuild model: {err}", file=ckpt.path) from None
    gates = net.gate_branches
    for layer in net.mac_layers:
        want = ((layer.out_channels, layer.in_channels_per_group, *layer.kernel)
                if layer.kind.value == "conv" else (layer.out_channels, layer.in_shape[0]))
        key = f"{layer.name}.weight"
        if layer.name in gates:  # a gate's FC: the gated layer's Gate module holds it
            gated, _, fc = layer.name.rpartition(".gate_")
            key = f"{gated}.gate.{fc}.weight"
        have = ckpt.state_dict.get(key)
        if have is not None and tuple(have.shape) != want:  # missing ones: the full check
            raise ConfigError(f"state dict does not fit model '{ckpt.model_name}' "
                              f"({ckpt.quant.name}): {key} is "
                              f"{tuple(have.shape)}, the model has {want}", file=ckpt.path)


def build_from_checkpoint(checkpoint: str | Path | Checkpoint) -> QuantNet:
    """Rebuild the checkpoint's model with its weights (verified first), in eval mode."""
    ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
    model = verify_checkpoint(ckpt)
    model.load_state_dict(ckpt.state_dict, strict=True)
    return model.eval()
