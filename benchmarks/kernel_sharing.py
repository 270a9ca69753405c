"""Kernel decomposition and result sharing on real and random binary weights: the additions
each form issues per output position (``simulator.sharing``), per conv layer.

Trained: the small MNIST conv net with binary weights and 2-bit inputs (w1a2, HWGQ-style
binary-weight / 2-bit-activation), trained ``--steps`` by the reference. Random: the same
shapes with random ±1 weights, and BNN CIFAR-10's conv shapes (128–512 filters), which cannot
be trained here (no CIFAR-10).

    python benchmarks/kernel_sharing.py [--data-dir ../shared/data] [--steps 300]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def _row(label: str, name: str, w: np.ndarray) -> str:
    from simulator.sharing import count_operations

    n = count_operations(w)
    k, c, fy, fx = w.shape
    return (f"| {label} | {name} | {k}×{c}×{fy}×{fx} | {n.direct:,} | "
            f"{100 * n.saving('decomposed'):.1f} % | {100 * n.saving('shared'):.1f} % | "
            f"{100 * n.saving('shared_decomposed'):.1f} % | "
            f"{n.distinct_sub_kernels:,} of {n.sub_kernels:,} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args(argv)
    from reference.lowering import lower_model
    from reference.train import train
    from workloads import get_network

    result = train("mnist-cnv", "w1a2", "mnist", 1, data_dir=args.data_dir,
                   max_steps=args.steps, progress=False)
    lowered = lower_model(result.model)
    rng = np.random.default_rng(0)
    print(f"mnist-cnv w1a2 trained {result.steps} steps: test accuracy "
          f"{100 * result.accuracy:.2f} %\n")
    print("| weights | layer | K×C×FY×FX | direct additions / position | decomposed saves | "
          "shared saves | both save | distinct sub-kernels |")
    print("|---|---|---|---|---|---|---|---|")
    for name, x in lowered.layers.items():
        if x.kind != "conv":
            continue
        w = x.weight_codes()
        print(_row("trained", name, w))
        print(_row("random", name, rng.choice([-1, 1], w.shape).astype(np.int8)))
    for layer in get_network("bnn-cifar10").mac_layers:
        if layer.kind.value == "conv":
            shape = (layer.out_channels, layer.in_shape[0], *layer.kernel)
            print(_row("random", f"bnn-cifar10 {layer.name}", rng.choice([-1, 1], shape)
                       .astype(np.int8)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
