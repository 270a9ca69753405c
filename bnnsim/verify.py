"""``bnnsim verify`` and ``bnnsim lower``: a trained checkpoint lowered to integers, executed
by the simulator's functional model in the chip mapper's tile schedule, and compared with
the torch model bit for bit — every layer's integer pre-activations and the class — on real
images. Exit 0 when every image agrees, 1 on any mismatch, 2 on bad input."""

from __future__ import annotations

import argparse
import copy
import time
from typing import Any

from workloads.errors import ConfigError
from workloads.files import Outputs
from workloads.flags import bounded

__all__ = ["register"]

#: images compared at once, at most; fewer for a network whose activations are large
CHUNK = 500
#: memory the compared activations may take (the functional model's and both torch runs'),
#: and about what one output value costs across them (int64 and float64 copies)
MEMORY_BYTES = 1.5e9
BYTES_PER_OUTPUT = 64


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
    from workloads.netfile import is_lowered_path

    if not is_lowered_path(args.out) or args.out == "-":
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

    out.results_on_failure = True  # a mismatch is a finding: its report is written
    ckpt = load_checkpoint(args.checkpoint)
    model = build_from_checkpoint(ckpt)
    # the reference: torch in float64 with exact integer multiply-accumulates (see
    # reference_pre_activations); its quantisers' codes are computed in float64, so the
    # lowering reads the same float64 model. The model as trained (float32) is compared too,
    # for information: its rounding can flip a code within ~1e-7 of a boundary.
    exact_model = copy.deepcopy(model).double()
    try:
        lowered = lower_model(exact_model)
    except ConfigError as err:
        raise err.with_context(file=str(args.checkpoint)) from None
    chip = load_chip(args.chip)
    if args.set:
        chip = apply_overrides(chip, args.set)
    chip_label = chip.name + (f" with {', '.join(args.set)}" if args.set else "")
    dataset = args.dataset or ckpt.dataset
    ds = load_dataset(dataset, split="test", data_dir=args.data_dir,
                      shape=tuple(lowered.network.input_shape))
    if tuple(ds.shape) != tuple(lowered.network.input_shape):
        raise ConfigError(f"images of shape {tuple(ds.shape)}; the checkpoint's network "
                          f"reads {tuple(lowered.network.input_shape)}", key="--dataset",
                          value=dataset, has_value=True)
    out.check_reads()
    n = min(args.samples, len(ds))
    pixels = ds.images[:n].numpy()
    labels = ds.labels[:n].numpy()
    tilings = mapper_tilings(lowered, chip)
    names = list(lowered.layers)
    per_image = sum(int(np.prod(x.out_shape)) for x in lowered.network.mac_layers)
    chunk = max(1, min(CHUNK, int(MEMORY_BYTES // (BYTES_PER_OUTPUT * per_image))))
    stats = {name: {"outputs": 0, "mismatches": 0, "images_exact": 0, "distance": 0.0}
             for name in names}
    exact_images = same_class_n = f32_images = f32_classes = right = right_torch = 0
    functional_s = 0.0
    tiles: dict[str, int] = {}
    for i in range(0, n, chunk):  # a chunk at a time: the activations of 10,000 images
        px, lab = pixels[i:i + chunk], labels[i:i + chunk]  # would not fit in memory
        m = len(px)
        t0 = time.perf_counter()
        run = execute(lowered, px, tilings=tilings)
        functional_s += time.perf_counter() - t0
        tiles = run.tiles
        ref_pre, ref_logits, _ = reference_pre_activations(model, lowered, px)
        f32_pre, f32_logits, frac32 = reference_pre_activations(model, lowered, px,
                                                                exact=False)
        exact = np.ones(m, bool)
        f32_same = np.ones(m, bool)
        for name in names:
            same = (run.pre_activations[name] == ref_pre[name]).reshape(m, -1)
            ok = same.all(axis=1)
            exact &= ok
            st = stats[name]
            st["outputs"] += int(same.size)
            st["mismatches"] += int((~same).sum())
            st["images_exact"] += int(ok.sum())
            st["distance"] = max(st["distance"], frac32[name])
            f32_same &= (f32_pre[name] == run.pre_activations[name]).reshape(m, -1).all(axis=1)
        classes = run.classes
        same_class = classes == ref_logits.argmax(axis=1)
        exact &= same_class
        exact_images += int(exact.sum())
        same_class_n += int(same_class.sum())
        f32_images += int(f32_same.sum())
        f32_classes += int((f32_logits.argmax(axis=1) == classes).sum())
        right += int((classes == lab).sum())
        right_torch += int((ref_logits.argmax(axis=1) == lab).sum())
    rows = [{"layer": name, "outputs": stats[name]["outputs"],
             "mismatches": stats[name]["mismatches"],
             "images_exact": stats[name]["images_exact"], "tiles": tiles[name],
             "torch_distance_from_integer": stats[name]["distance"]} for name in names]
    passed = exact_images == n
    summary = {
        "command": "verify", "checkpoint": str(args.checkpoint), "model": ckpt.model_name,
        "quant": ckpt.quant.name, "dataset": dataset, "chip": chip.name,
        "chip_overrides": list(args.set), "images": n,
        "images_exact": exact_images, "classes_agree": same_class_n,
        "accuracy_functional": right / n, "accuracy_torch": right_torch / n,
        "functional_s": functional_s, "layers": rows, "passed": passed,
        "float32": {"images_exact": f32_images, "classes_agree": f32_classes},
    }
    if args.json != "-":
        from reports.terminal import fixed_table

        print(f"{ckpt.model_name} {ckpt.quant.name} on {n:,} {dataset} test images, in "
              f"{chip_label}'s tile schedule ({functional_s:.2f} s functional model):")
        print(fixed_table(("layer", "outputs", "mismatches", "images exact", "tiles",
                           "float32 torch vs integer"),
                          [(r["layer"], f"{r['outputs']:,}", r["mismatches"],
                            f"{r['images_exact']:,}", r["tiles"],
                            f"{r['torch_distance_from_integer']:.2g}") for r in rows]))
        print(f"classes: {same_class_n:,} of {n:,} agree; accuracy "
              f"{100 * summary['accuracy_functional']:.2f} % (torch "
              f"{100 * summary['accuracy_torch']:.2f} %)")
        print(f"{'bit-exact' if passed else 'MISMATCH'}: {exact_images:,} of {n:,} images "
              "agree in every pre-activation and the class (torch with exact integer "
              "multiply-accumulates)")
        print(f"torch in float32, for information: {f32_images:,} images identical, "
              f"{f32_classes:,} classes agree (float32 rounding can flip a threshold decision "
              "within ~1e-7 of its boundary)")
    if args.json:
        out.stage_json("--json", summary)
    return 0 if passed else 1
