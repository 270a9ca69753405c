"""``bnnsim verify`` and ``bnnsim lower``: a trained checkpoint lowered to integers, executed
by the simulator's functional model in the chip mapper's tile schedule, and compared with
the torch model bit for bit — every layer's integer pre-activations and the class — on real
images. Exit 0 when every image agrees, 1 on any mismatch, 2 on bad input."""

from __future__ import annotations

import argparse
import time
from typing import Any

from workloads.errors import ConfigError
from workloads.files import Outputs
from workloads.flags import bounded

__all__ = ["register"]

#: images the functional model runs at once (bounds its memory)
CHUNK = 1000


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "verify", help="check the functional model against the torch model bit for bit",
        description="Lower a checkpoint (packed weights, folded thresholds), run it on the "
                    "functional model tile by tile in the chip mapper's schedule, and compare "
                    "every layer's integer pre-activations and the class with the torch model "
                    "on N images. Exit 0 when all agree, 1 on any mismatch.")
    p.add_argument("--checkpoint", required=True, metavar="CKPT", help="a bnnsim train .pt")
    p.add_argument("--dataset", default=None, help="default: the checkpoint's dataset")
    p.add_argument("--data-dir", default=None, help="dataset folder (default: $BNNSIM_DATA)")
    p.add_argument("--samples", type=bounded("--samples", int, 1, 10**7), default=1000,
                   metavar="N", help="test images to compare (default 1000; more than the "
                                     "split holds: all of it)")
    p.add_argument("--chip", default="edge", help="whose mapper's schedule to follow "
                                                  "(default edge)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a chip field (repeatable)")
    p.add_argument("--json", default=None, metavar="FILE", help="also write results as JSON")
    p.set_defaults(func=_verify)

    q = subparsers.add_parser(
        "lower", help="lower a checkpoint to its integer form (.npz)",
        description="Write a trained checkpoint's packed weights and folded thresholds as a "
                    "lowered network (.npz with a JSON description, no pickle), which "
                    "`bnnsim simulate --network FILE.npz` reads.")
    q.add_argument("--checkpoint", required=True, metavar="CKPT")
    q.add_argument("--out", required=True, metavar="FILE.npz")
    q.set_defaults(func=_lower)


def _lower(args: argparse.Namespace, out: Outputs) -> int:
    if not str(args.out).endswith(".npz") or args.out == "-":
        raise ConfigError("a lowered network is a .npz file", key="--out", value=args.out,
                          has_value=True)
    out.inputs(args.checkpoint)
    out.declare("--out", args.out)
    from reference.lowering import lowered_from_checkpoint
    from workloads.lowered import save_lowered

    lowered = lowered_from_checkpoint(args.checkpoint)
    out.stage("--out", lambda path: save_lowered(lowered, path))
    bits = sum(x.weight_planes.size * 8 for x in lowered.layers.values())
    print(f"{lowered.network.name} {lowered.network.quant}: {len(lowered.layers)} layers "
          f"lowered ({bits / 8 / 1024:,.1f} KiB of weight planes) → {args.out}")
    return 0


def _verify(args: argparse.Namespace, out: Outputs) -> int:
    out.inputs(args.checkpoint)
    out.declare("--json", args.json)
    import numpy as np

    from reference.checkpoint import build_from_checkpoint, load_checkpoint
    from reference.data import load_dataset
    from reference.lowering import lower_model, reference_pre_activations
    from simulator import apply_overrides, load_chip
    from simulator.functional import execute, mapper_tilings

    ckpt = load_checkpoint(args.checkpoint)
    model = build_from_checkpoint(ckpt)
    try:
        lowered = lower_model(model)
    except ConfigError as err:
        raise err.with_context(file=str(args.checkpoint)) from None
    chip = load_chip(args.chip)
    if args.set:
        chip = apply_overrides(chip, args.set)
    dataset = args.dataset or ckpt.dataset
    ds = load_dataset(dataset, split="test", data_dir=args.data_dir)
    if tuple(ds.shape) != tuple(lowered.network.input_shape):
        raise ConfigError(f"images of shape {tuple(ds.shape)}; the checkpoint's network "
                          f"reads {tuple(lowered.network.input_shape)}", key="--dataset",
                          value=dataset, has_value=True)
    out.check_reads()
    n = min(args.samples, len(ds))
    pixels = ds.images[:n].numpy()
    labels = ds.labels[:n].numpy()
    tilings = mapper_tilings(lowered, chip)
    t0 = time.perf_counter()
    runs = [execute(lowered, pixels[i:i + CHUNK], tilings=tilings) for i in range(0, n, CHUNK)]
    functional_s = time.perf_counter() - t0
    pre = {name: np.concatenate([r.pre_activations[name] for r in runs])
           for name in lowered.layers}
    logits = np.concatenate([r.logits for r in runs])
    ref_pre, ref_logits, frac = reference_pre_activations(model, lowered, pixels)
    rows = []
    exact = np.ones(n, bool)
    for name in lowered.layers:
        same = (pre[name] == ref_pre[name]).reshape(n, -1)
        ok = same.all(axis=1)
        exact &= ok
        rows.append({"layer": name, "outputs": int(same.size), "mismatches": int((~same).sum()),
                     "images_exact": int(ok.sum()), "tiles": runs[0].tiles[name],
                     "torch_distance_from_integer": frac[name]})
    classes = logits.argmax(axis=1)
    same_class = classes == ref_logits.argmax(axis=1)
    exact &= same_class
    passed = bool(exact.all())
    summary = {
        "command": "verify", "checkpoint": str(args.checkpoint), "model": ckpt.model_name,
        "quant": ckpt.quant.name, "dataset": dataset, "chip": chip.name, "images": n,
        "images_exact": int(exact.sum()), "classes_agree": int(same_class.sum()),
        "accuracy_functional": float((classes == labels).mean()),
        "accuracy_torch": float((ref_logits.argmax(axis=1) == labels).mean()),
        "functional_s": functional_s, "layers": rows, "passed": passed,
    }
    if args.json != "-":
        from reports.terminal import fixed_table

        print(f"{ckpt.model_name} {ckpt.quant.name} on {n:,} {dataset} test images, in "
              f"{chip.name}'s tile schedule ({functional_s:.2f} s functional model):")
        print(fixed_table(("layer", "outputs", "mismatches", "images exact", "tiles",
                           "torch vs integer"),
                          [(r["layer"], f"{r['outputs']:,}", r["mismatches"],
                            f"{r['images_exact']:,}", r["tiles"],
                            f"{r['torch_distance_from_integer']:.2g}") for r in rows]))
        print(f"classes: {int(same_class.sum()):,} of {n:,} agree; accuracy "
              f"{100 * summary['accuracy_functional']:.2f} % (torch "
              f"{100 * summary['accuracy_torch']:.2f} %)")
        print(f"{'bit-exact' if passed else 'MISMATCH'}: {int(exact.sum()):,} of {n:,} images "
              "agree in every pre-activation and the class")
    if args.json:
        out.stage_json("--json", summary)
    return 0 if passed else 1
