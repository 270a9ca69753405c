"""Measured accuracy of LFC on real MNIST at several bit-widths, with wall time on this machine.

Trains the FINN LFC (784-1024-1024-1024-10) with the torch reference for W1A1, W1A2, WtA2
(ternary weights, 2-bit activations), W2A2 and full precision, prints a table and writes
``docs/accuracy.md``. Run from the repository root::

    python benchmarks/accuracy.py [--data-dir DIR] [--epochs 10] [--quants w1a1,w2a2]

The data folder is ``--data-dir``, else ``$BNNSIM_DATA``, else ``../shared/data`` next to the
repository.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
if str(_ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(_ROOT))

from reference.train import configure_threads, train  # noqa: E402
from workloads.quant import OperandQuant, parse_quant  # noqa: E402

#: Published anchors for LFC on MNIST (FIGURES.md).
ANCHORS = "FINN hardware W1A1 98.40 %; Brevitas bnn_pynq W1A1 98.88 %, W1A2 98.99 %"
DEFAULT_QUANTS = ("w1a1", "w1a2", "wta2", "w2a2", "w32a32")
W1A1_TARGET = 0.98


@dataclass(frozen=True, slots=True)
class Row:
    """One trained configuration."""

    quant: str
    weights: str
    activations: str
    accuracy: float
    epochs: int
    wall_s: float
    epoch_s: float
    history: tuple[float, ...]


def _describe(spec: str) -> tuple[str, str]:
    lq = parse_quant(spec).default
    names = {"binary": "binary", "ternary": "ternary", "float": "float32"}

    def fmt(op: OperandQuant) -> str:
        return f"{names.get(op.kind) or f'{op.bits}-bit'} ({op.quantizer})"

    return fmt(lq.weights), fmt(lq.activations)


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _markdown(rows: list[Row], args: argparse.Namespace, threads: int) -> str:
    import torch

    lines = [
        "# LFC accuracy on MNIST (measured)",
        "",
        "Produced by `python benchmarks/accuracy.py` (the numbers below are from a real run, "
        "not copied from papers). LFC = FINN's 784-1024-1024-1024-10 MLP, batch-norm after "
        "every layer, dropout 0.2 on every layer's input as in Brevitas' bnn_pynq, 8-bit input "
        "pixels into the first layer (the FINN/BNN default `w*a8`); the quantisation named "
        "applies to every layer's weights and to the inputs of layers 2–4 (in full precision "
        "a ReLU precedes those inputs, since the identity quantiser has no nonlinearity).",
        "",
        f"Recipe: {args.epochs} epochs, Adam (lr {args.lr:g}, cosine decay to 0 per step), "
        f"batch {args.batch_size}, cross-entropy, latent binary weights clipped to [−1, 1], "
        f"seed {args.seed}; the accuracy is the test accuracy after the last epoch (no "
        "selection on the test set).",
        "",
        "| quant | weights | activations (layers 2–4) | test accuracy | epochs | wall time | "
        "per epoch |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r.quant} | {r.weights} | {r.activations} | {100 * r.accuracy:.2f} % "
                     f"| {r.epochs} | {r.wall_s:.0f} s | {r.epoch_s:.1f} s |")
    lines += ["", "Test accuracy after each epoch (%):", ""]
    for r in rows:
        lines.append(f"- {r.quant}: " + ", ".join(f"{100 * a:.2f}" for a in r.history))
    w1a1 = next((r for r in rows if r.quant == "w1a1"), None)
    lines.append("")
    if w1a1 is not None:
        verdict = "meets" if w1a1.accuracy >= W1A1_TARGET else "MISSES"
        lines.append(f"W1A1 {verdict} the 98.0 % target: {100 * w1a1.accuracy:.2f} % after "
                     f"{w1a1.epochs} epochs. Published anchors: {ANCHORS} (those train for "
                     "up to 1000 epochs).")
        lines.append("")
    lines += [
        f"Machine: {os.cpu_count()} CPU cores ({_cpu_name()}), {threads} torch threads, no GPU; "
        f"torch {torch.__version__}, Python {platform.python_version()}; "
        f"run finished {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Wall time "
        "includes loading MNIST and evaluating on the 10,000 test images after each epoch; "
        "other processes shared the machine, so times are upper bounds.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--quants", default=",".join(DEFAULT_QUANTS))
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(_ROOT / "docs" / "accuracy.md"))
    parser.add_argument("--json", default=None, help="also write the rows as JSON")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    data_dir = args.data_dir or os.environ.get("BNNSIM_DATA") or str(_ROOT.parent / "shared"
                                                                      / "data")
    threads = configure_threads()
    rows: list[Row] = []
    for spec in args.quants.split(","):
        weights, acts = _describe(spec)
        result = train("lfc", spec, "mnist", args.epochs, data_dir=data_dir,
                       batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                       progress=not args.quiet)
        epoch_s = sum(h.wall_s for h in result.history) / len(result.history)
        rows.append(Row(spec, weights, acts, result.accuracy, len(result.history),
                        result.wall_s, epoch_s,
                        tuple(h.test_accuracy for h in result.history)))
        print(f"{spec}: {100 * result.accuracy:.2f} % in {result.wall_s:.0f} s "
              f"({epoch_s:.1f} s/epoch)", flush=True)
    print()
    print(f"{'quant':8} {'accuracy':>9} {'wall s':>8} {'s/epoch':>8}")
    for r in rows:
        print(f"{r.quant:8} {100 * r.accuracy:8.2f}% {r.wall_s:8.0f} {r.epoch_s:8.1f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(_markdown(rows, args, threads), encoding="utf-8")
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in rows], indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
