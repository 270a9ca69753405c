"""The ``train``, ``eval`` and ``summary`` subcommands of the ``bnnsim`` CLI.

:func:`register` adds them to an existing argparse subparsers object; each sets
``func=<handler(args) -> exit code>``. This module imports neither torch nor pandas at import
time (handlers import them), so ``bnnsim simulate`` stays torch-free. Bad input raises
:class:`~workloads.files.ConfigError`, which the top-level CLI prints as one line (exit 2).
"""

from __future__ import annotations

import argparse
import math
from typing import Any

from workloads.errors import ConfigError
from workloads.files import check_output_path, write_json
from workloads.zoo import zoo_names

__all__ = ["register"]

_MODELS = ", ".join(zoo_names())
_QUANT_HELP = ("quantisation: compact spec (w1a1, w1a2, wta2, w2a2, wb3ab2, w32a32) or a YAML "
               "file; default: the paper's")


def _positive(kind: type) -> Any:
    """An argparse type: a finite number > 0 of type ``kind``."""
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not math.isfinite(value) or value <= 0:
            raise argparse.ArgumentTypeError(f"must be a finite number > 0: {text!r}")
        return value
    return parse


def _number(text: str) -> float:
    """An argparse type: any float; the range is checked by the handler, so a bad value is a
    one-line :class:`ConfigError` rather than argparse's usage block."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def _check_train_args(args: argparse.Namespace) -> None:
    if not (math.isfinite(args.lr) and args.lr > 0):
        raise ConfigError("must be a finite number > 0", key="--lr", value=args.lr,
                          has_value=True)
    if not (math.isfinite(args.bnnplus_reg) and args.bnnplus_reg >= 0):
        raise ConfigError("must be a finite number >= 0", key="--bnnplus-reg",
                          value=args.bnnplus_reg, has_value=True)
    check_output_path(args.out, flag="--out")
    check_output_path(args.json, flag="--json")
    if args.out == "-":
        raise ConfigError("a checkpoint cannot go to stdout; give a file name", key="--out",
                          value=args.out, has_value=True)


def _train(args: argparse.Namespace) -> int:
    _check_train_args(args)  # before any work: a bad flag must not cost a training run
    from reference.train import train

    result = train(
        args.model, args.quant, args.dataset, args.epochs, data_dir=args.data_dir,
        batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
        schedule=args.schedule, seed=args.seed, bnnplus_reg=args.bnnplus_reg, out=args.out,
        progress=not args.quiet, max_steps=args.max_steps,
    )
    if args.json != "-":
        print(f"{args.model} {result.model.quant.name} on {args.dataset}: test accuracy "
              f"{100 * result.accuracy:.2f} % after {len(result.history)} epoch(s), "
              f"{result.steps} steps, {result.wall_s:.1f} s; checkpoint {result.checkpoint}")
    write_json(args.json, {"command": "train", "dataset": args.dataset, **result.to_dict()})
    return 0


def _eval(args: argparse.Namespace) -> int:
    check_output_path(args.json, flag="--json")
    from reference.checkpoint import build_from_checkpoint, load_checkpoint
    from reference.train import evaluate

    ckpt = load_checkpoint(args.checkpoint)
    model = build_from_checkpoint(ckpt)
    dataset = args.dataset or ckpt.dataset
    result = evaluate(model, dataset, args.data_dir, max_samples=args.max_samples)
    recorded = "" if ckpt.accuracy is None else f" (recorded {100 * ckpt.accuracy:.2f} %)"
    if args.json != "-":
        print(f"{ckpt.model_name} {ckpt.quant.name} on {dataset}: test accuracy "
              f"{100 * result.accuracy:.2f} % over {result.samples} images{recorded}")
    write_json(args.json, {
        "command": "eval", "checkpoint": str(args.checkpoint), "model": ckpt.model_name,
        "quant": ckpt.quant.to_dict(), "dataset": dataset, "accuracy": result.accuracy,
        "loss": result.loss, "samples": result.samples, "recorded_accuracy": ckpt.accuracy,
    })
    return 0


def _summary(args: argparse.Namespace) -> int:
    check_output_path(args.json, flag="--json")
    from reference.models import build_model, summary

    info = summary(build_model(args.model, args.quant))
    if args.json != "-":
        print(info.to_string())
    write_json(args.json, {"command": "summary", **info.to_dict()})
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
    p.add_argument("--epochs", type=_positive(int), required=True)
    p.add_argument("--out", required=True, help="checkpoint file to write (.pt)")
    p.add_argument("--data-dir", default=None, help="dataset folder (default: $BNNSIM_DATA)")
    p.add_argument("--batch-size", type=_positive(int), default=100)
    p.add_argument("--lr", type=_number, default=5e-3,
                   help="Adam's peak learning rate (default 5e-3)")
    p.add_argument("--optimizer", choices=("adam", "bop"), default="adam",
                   help="bop: Bop for binary weights, Adam for the rest")
    p.add_argument("--schedule", choices=("cosine", "step"), default="cosine")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--bnnplus-reg", type=_number, default=0.0, metavar="LAMBDA",
                   help="weight of the BNN+ regulariser on binary weights (default 0)")
    p.add_argument("--max-steps", type=_positive(int), default=None,
                   help="stop after this many optimiser steps")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", default=None, metavar="FILE", help="also write results as JSON")
    p.set_defaults(func=_train)

    p = subparsers.add_parser(
        "eval", help="test accuracy of a checkpoint",
        description="Evaluate a checkpoint on a dataset's test split.")
    p.add_argument("checkpoint", metavar="CKPT")
    p.add_argument("--dataset", default=None, help="default: the checkpoint's dataset")
    p.add_argument("--data-dir", default=None, help="dataset folder (default: $BNNSIM_DATA)")
    p.add_argument("--max-samples", type=_positive(int), default=None,
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
