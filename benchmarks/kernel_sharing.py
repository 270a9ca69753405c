"""Kernel decomposition and result sharing on real and random binary weights: the additions
each form issues per output position (``workloads.weight_stats``), per conv layer; then the
same layers priced by the cost model on an adder-tree chip in each form
(``pe_array.weight_sharing``): additions issued, cycles and energy net of the extra hardware.

Trained: the small MNIST conv net with binary weights and 2-bit inputs (w1a2, HWGQ-style
binary-weight / 2-bit-activation), trained ``--steps`` by the reference. Random: the same
shapes with random ±1 weights, and BNN CIFAR-10's conv shapes (128–512 filters), which cannot
be trained here (no CIFAR-10).

    python benchmarks/kernel_sharing.py [--data-dir ../shared/data] [--steps 300]

The chip: ``edge`` with ``pe_array.pe_type: adder2`` (64 taps of 2-bit activations per PE).
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


FORMS = ("none", "decompose", "share", "share_decompose")


def _with_random_stats(net, rng):  # type: ignore[no-untyped-def]
    """The network with random ±1 weights' counts on its binary MAC layers."""
    import dataclasses

    from workloads.network import Network
    from workloads.weight_stats import weight_stats

    layers = []
    for x in net.layers:
        if x.kind.value in ("conv", "fc") and x.weights.kind == "binary":
            shape = (x.out_channels, x.in_channels_per_group, *x.kernel)
            x = dataclasses.replace(x, weight_stats=weight_stats(
                rng.choice([-1, 1], shape).astype(np.int8), x.groups))
        layers.append(x)
    return Network(net.name, net.input_shape, tuple(layers), net.inputs, net.quant, net.source)


def cost_rows(label: str, net) -> list[str]:  # type: ignore[no-untyped-def]
    """Per binary conv layer with counts: each form's additions (taps, window sums,
    combinations, the decomposed form's 2S − J) against the direct form's, its cycles and its
    energy against the direct form's, on edge with adder2 PEs."""
    from simulator import apply_overrides, load_chip, simulate

    base = load_chip("edge")
    runs = {f: simulate(net, apply_overrides(base, {"pe_array.pe_type": "adder2",
                                                    "pe_array.weight_sharing": f}))
            for f in FORMS}
    rows = []
    for i, layer in enumerate(runs["none"].layers):
        if layer.kind != "conv" or not layer.details.actions.compute.tap_slots:
            continue
        src = next(x for x in net.layers if x.name == layer.name)
        if src.weight_stats is None or src.weights.kind != "binary":
            continue
        cells = [f"{label} | {layer.name}"]
        direct = layer.details.actions.compute.tap_slots
        for f in FORMS[1:]:
            x = runs[f].layers[i]
            c = x.details.actions.compute
            extra_ppu = x.details.actions.ppu_ops - layer.details.actions.ppu_ops
            adds = c.tap_adds + c.window_adds + c.combine_adds + extra_ppu
            base_compute = layer.energy_breakdown_pj["compute"]
            cells.append(f"{100 * (1 - adds / direct):.1f} % / "
                         f"{100 * (1 - x.energy_breakdown_pj['compute'] / base_compute):.1f} %"
                         f" / {100 * (1 - x.energy_pj / layer.energy_pj):.1f} %")
        cells.append(" / ".join(f"{runs[f].layers[i].cycles:,}" for f in FORMS))
        rows.append("| " + " | ".join(cells) + " |")
    area = {f: runs[f].area_mm2 for f in FORMS}
    rows.append(f"| {label} | chip area (mm²) | {area['decompose']:.3f} | {area['share']:.3f} | "
                f"{area['share_decompose']:.3f} | none: {area['none']:.3f} |")
    return rows


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
    print("\nPriced on edge with adder2 PEs: additions saved / compute energy saved / layer "
          "energy saved, against the direct form, and the layer's cycles in each form (none, "
          "decompose, share, share + decompose): the array gates taps in its dense schedule; "
          "the post-processing unit's extra adds take its cycles\n")
    print("| weights | layer | decompose | share | share + decompose | cycles |")
    print("|---|---|---|---|---|---|")
    trained = lowered.with_weight_stats()
    for row in (cost_rows("trained", trained)
                + cost_rows("random", _with_random_stats(trained, rng))
                + cost_rows("random, bnn-cifar10 w1a2",
                            _with_random_stats(get_network("bnn-cifar10", "w1a2"), rng))):
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
