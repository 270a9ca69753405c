"""The ``train``, ``eval`` and ``summary`` subcommands of the ``bnnsim`` CLI.

:func:`register` adds them to an existing argparse subparsers object; each sets
``func=<handler(args, outputs) -> exit code>``. This module imports neither torch nor pandas at
import time (handlers import them), so ``bnnsim simulate`` stays torch-free. Every numeric flag
has a documented range (docs/hardening.md); bad input raises
:class:`~workloads.errors.ConfigError`, which the top-level CLI prints as one line (exit 2).
Outputs are declared before any work (so a clash with an input, or a bad path, never costs a
training run) and written by the CLI after the command succeeded.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from workloads.errors import ConfigError
from workloads.files import Outputs
from workloads.zoo import zoo_names

__all__ = ["LIMITS", "register"]

_MODELS = ", ".join(zoo_names())
_QUANT_HELP = ("quantisation: compact spec (w1a1, w1a2, wta2, w2a2, wb3ab2, wp5a2, w1a1g8, "
               "w32a32) or a YAML "
               "file; default: the paper's")

#: Ranges of the numeric flags: (low, high), both inclusive.
LIMITS: dict[str, tuple[float, float]] = {
    "--epochs": (1, 100_000),
    "--batch-size": (1, 1 << 20),
    "--max-steps": (1, 1 << 40),
    "--max-samples": (1, 1 << 40),
    "--seed": (0, 2**32 - 1),
    "--lr": (1e-12, 1e3),
    "--bnnplus-reg": (0.0, 1e6),
    "--distill-weight": (0.0, 1e6),
    "--distill-temperature": (1e-3, 1e3),
}


def _bounded(flag: str, kind: type) -> Any:
    """An argparse type: a finite ``kind`` in ``LIMITS[flag]`` (argparse prints one line)."""
    low, high = LIMITS[flag]

    def parse(text: str) -> Any:
        what = "an integer" if kind is int else "a number"
        try:
            value = kind(text.strip())
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(
                f"{text[:40]!r} is not {what}; allowed: {what} in [{low:g}, {high:g}]") from None
        if not (low <= value <= high and math.isfinite(value)):  # an int compares first
            shown = text if len(text) <= 40 else f"{text[:20]}… ({len(text)} chars)"
            raise argparse.ArgumentTypeError(f"{shown!r} is out of range; allowed: {what} in "
                                             f"[{low:g}, {high:g}]")
        return value

    parse.__name__ = flag  # argparse names the flag's type in its messages
    return parse


def _train(args: argparse.Namespace, out: Outputs) -> int:
    if args.out == "-":
        raise ConfigError("a checkpoint cannot go to stdout; give a file name", key="--out",
                          value=args.out, has_value=True)
    if args.quant is not None and Path(args.quant).exists():
        out.inputs(args.quant)
    out.inputs(args.teacher, args.init)
    out.declare("--out", args.out)
    out.declare("--json", args.json)
    if args.teacher is None and (args.distill_weight or args.distill_temperature is not None):
        flag = "--distill-weight" if args.distill_weight else "--distill-temperature"
        raise ConfigError("distillation needs a teacher: give --teacher CKPT", key=flag)
    if args.teacher is not None and not args.distill_weight and args.distill_temperature is None:
        raise ConfigError("the teacher would go unused: give --distill-weight B > 0 (attention "
                          "matching) and/or --distill-temperature T (output distillation)",
                          key="--teacher", value=args.teacher, has_value=True)
    from reference.train import load_datasets, train

    # read the data first: an output that is one of its files fails before training
    datasets = load_datasets(args.model, args.dataset, args.data_dir)
    out.check_reads()
    result = train(
        args.model, args.quant, datasets, args.epochs, batch_size=args.batch_size, lr=args.lr,
        optimizer=args.optimizer, schedule=args.schedule, seed=args.seed,
        bnnplus_reg=args.bnnplus_reg, progress=not args.quiet, max_steps=args.max_steps,
        teacher=args.teacher, distill_weight=args.distill_weight,
        distill_temperature=args.distill_temperature, init=args.init,
    )
    from reference.checkpoint import save_payload

    payload = result.payload
    out.stage("--out", lambda path: save_payload(payload, path))
    if args.json != "-":
        if result.init is not None:
            print(f"init from {args.init}: {result.init.describe()}")
        print(f"{args.model} {result.model.quant.name} on {args.dataset}: test accuracy "
              f"{100 * result.accuracy:.2f} % after {len(result.history)} epoch(s), "
              f"{result.steps} steps, {result.wall_s:.1f} s; checkpoint {args.out}")
    if args.json:
        out.stage_json("--json", {"command": "train", "dataset": args.dataset,
                                  **result.to_dict(), "checkpoint": args.out})
    return 0


def _eval(args: argparse.Namespace, out: Outputs) -> int:
    out.inputs(args.checkpoint)
    out.declare("--json", args.json)
    from reference.checkpoint import build_from_checkpoint, load_checkpoint
    from reference.train import evaluate

    ckpt = load_checkpoint(args.checkpoint)
    model = build_from_checkpoint(ckpt)
    dataset = ckpt.dataset if args.dataset is None else args.dataset
    result = evaluate(model, dataset, args.data_dir, max_samples=args.max_samples)
    recorded = "" if ckpt.accuracy is None else f" (recorded {100 * ckpt.accuracy:.2f} %)"
    if args.json != "-":
        print(f"{ckpt.model_name} {ckpt.quant.name} on {dataset}: test accuracy "
              f"{100 * result.accuracy:.2f} % over {result.samples} images{recorded}")
    if args.json:
        out.stage_json("--json", {
            "command": "eval", "checkpoint": str(args.checkpoint), "model": ckpt.model_name,
            "quant": ckpt.quant.to_dict(), "dataset": dataset, "accuracy": result.accuracy,
            "loss": result.loss, "samples": result.samples,
            "recorded_accuracy": ckpt.accuracy,
        })
    return 0


def _summary(args: argparse.Namespace, out: Outputs) -> int:
    if args.quant is not None and Path(args.quant).exists():
        out.inputs(args.quant)
    out.declare("--json", args.json)
    from reference.models import build_model, summary

    info = summary(build_model(args.model, args.quant))
    if args.json != "-":
        print(info.to_string())
    if args.json:
        out.stage_json("--json", {"command": "summary", **info.to_dict()})
    return 0


def register(subparsers: Any) -> None:
    """Add ``train``, ``eval`` and ``summary`` to ``subparsers`` (from ``add_subparsers``)."""
    p = subparsers.add_parser(
        "train", help="train a zoo model with the torch reference",
        description="Train a quantised zoo model and write a checkpoint.")
    p.add_argument("--model", required=True, help=f"zoo network: {_MODELS}")
    p.add_argument("--quant", default=None, help=_QUANT_HELP)
    p.add_argument("--dataset", required=True,
                   help="mnist, fashion-mnist, cifar10, synthetic (shaped like the model's "
                        "input), synthetic-mnist, synthetic-cifar10")
    p.add_argument("--epochs", type=_bounded("--epochs", int), required=True)
    p.add_argument("--out", required=True, help="checkpoint file to write (.pt)")
    p.add_argument("--data-dir", default=None, help="dataset folder (default: $BNNSIM_DATA)")
    p.add_argument("--batch-size", type=_bounded("--batch-size", int), default=100)
    p.add_argument("--lr", type=_bounded("--lr", float), default=5e-3,
                   help="Adam's peak learning rate (default 5e-3)")
    p.add_argument("--optimizer", choices=("adam", "bop"), default="adam",
                   help="bop: Bop for binary weights, Adam for the rest")
    p.add_argument("--schedule", choices=("cosine", "step"), default="cosine")
    p.add_argument("--seed", type=_bounded("--seed", int), default=0)
    p.add_argument("--bnnplus-reg", type=_bounded("--bnnplus-reg", float), default=0.0,
                   metavar="LAMBDA",
                   help="weight of the BNN+ regulariser on binary weights (default 0)")
    p.add_argument("--max-steps", type=_bounded("--max-steps", int), default=None,
                   help="stop after this many optimiser steps")
    p.add_argument("--teacher", default=None, metavar="CKPT",
                   help="distil from this checkpoint (Real-to-Binary; its hidden layers' "
                        "shapes must match the student's)")
    p.add_argument("--distill-weight", type=_bounded("--distill-weight", float), default=0.0,
                   metavar="B",
                   help="β of the attention-matching loss on the hidden layers (default 0: "
                        "off; needs --teacher)")
    p.add_argument("--distill-temperature", type=_bounded("--distill-temperature", float),
                   default=None, metavar="T",
                   help="add output distillation T²·KL at temperature T, weight 1 (needs "
                        "--teacher)")
    p.add_argument("--init", default=None, metavar="CKPT",
                   help="start from this checkpoint of the same network (another "
                        "quantisation): tensors whose name and shape match are copied")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", default=None, metavar="FILE", help="also write results as JSON")
    p.set_defaults(func=_train)

    p = subparsers.add_parser(
        "eval", help="test accuracy of a checkpoint",
        description="Evaluate a checkpoint on a dataset's test split.")
    p.add_argument("checkpoint", metavar="CKPT")
    p.add_argument("--dataset", default=None, help="default: the checkpoint's dataset")
    p.add_argument("--data-dir", default=None, help="dataset folder (default: $BNNSIM_DATA)")
    p.add_argument("--max-samples", type=_bounded("--max-samples", int), default=None,
                   help="evaluate only the first N test images")
    p.add_argument("--json", default=None, metavar="FILE", help="also write results as JSON")
    p.set_defaults(func=_eval)

    p = subparsers.add_parser(
        "summary", help="per-layer bits, MACs and memory of a zoo model",
        description="Print a zoo model's per-layer formats, weight bits, MACs and memory.")
    p.add_argument("--model", required=True, help=f"zoo network: {_MODELS}")
    p.add_argument("--quant", default=None, help=_QUANT_HELP)
    p.add_argument("--json", default=None, metavar="FILE", help="also write results as JSON")
    p.set_defaults(func=_summary)
