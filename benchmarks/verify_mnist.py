"""The functional model on the whole MNIST test set: for each network, train briefly with the
reference (or take ``--checkpoint`` files), then run ``bnnsim verify`` on 10,000 images in the
edge chip's tile schedule and print whether every image was bit-exact and the images per
second of the functional model.

    python benchmarks/verify_mnist.py [--data-dir ../shared/data] [--steps 150] [--only hwgq …]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

#: HWGQ as its paper trains it: binary weights with a scale per filter, 2-bit HWGQ inputs
HWGQ = {"default": {"weights": {"kind": "binary", "quantizer": "xnor_weight"},
                    "activations": {"kind": "int", "bits": 2, "quantizer": "hwgq"}},
        "first": "w8a8", "last": "w8a8"}
#: (model, label, quantisation)
NETWORKS = (("lfc", "w1a1", "w1a1"), ("lfc", "w1a2", "w1a2"), ("lfc", "wta2", "wta2"),
            ("mnist-cnv", "w1a1", "w1a1"), ("mnist-cnv", "wta2", "wta2"),
            ("lfc", "hwgq", HWGQ), ("lfc", "wb3ab2", "wb3ab2"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--steps", type=int, default=150, help="training steps per network")
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--only", nargs="+", metavar="LABEL",
                        help="run only these quantisation labels (w1a1, hwgq, wb3ab2, …)")
    args = parser.parse_args(argv)
    from bnnsim.cli import main as bnnsim
    from reference.train import train

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model, quant, spec in NETWORKS:
            if args.only and quant not in args.only:
                continue
            ckpt = Path(tmp) / f"{model}-{quant}.pt"
            t0 = time.perf_counter()
            train(model, spec, "mnist", 1, data_dir=args.data_dir, max_steps=args.steps,
                  progress=False, out=ckpt)
            trained_s = time.perf_counter() - t0
            report = Path(tmp) / f"{model}-{quant}.json"
            code = bnnsim(["verify", "--checkpoint", str(ckpt), "--samples",
                           str(args.samples), "--json", str(report)]
                          + (["--data-dir", args.data_dir] if args.data_dir else []))
            doc = json.loads(report.read_text())
            rows.append((model, quant, trained_s, doc, code))
    print(f"\n{'network':10s} {'quant':6s} {'images':>7s} {'bit-exact':>9s} "
          f"{'float32 same':>12s} {'accuracy %':>10s} {'functional s':>12s} {'images/s':>9s}")
    for model, quant, _, doc, code in rows:
        print(f"{model:10s} {quant:6s} {doc['images']:7,d} {doc['images_exact']:9,d} "
              f"{doc['float32']['images_exact']:12,d} "
              f"{100 * doc['accuracy_functional']:10.2f} {doc['functional_s']:12.2f} "
              f"{doc['images'] / doc['functional_s']:9.0f}" + ("" if code == 0 else "  MISMATCH"))
    return 0 if all(code == 0 for *_, code in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
