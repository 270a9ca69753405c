"""Record the golden numbers the restructure must not change (run from the repository root).

    python tests/golden/record.py            # rewrite tests/golden/*.json
    python tests/golden/record.py --check    # compare, print differences, exit 1 on any

``totals.json``: every zoo network × built-in chip × engine, plus dataflow, quantisation and
full-precision variants on ``edge``: total latency cycles, energy (pJ, exact float repr),
DRAM bytes, area, MACs, weight bits, energy by part and per-layer cycles.
``models.json``: every zoo torch model's state-dict keys and shapes, and its output on a fixed
input with deterministic weights, as exact float reprs (so checkpoints keep loading and the
models compute the same, bit for bit, with one thread).

Re-record only when a change is *meant* to move numbers, and say so in the commit.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

NETWORKS = ("sfc", "lfc", "cnv", "bnn-cifar10", "vgg-small", "alexnet", "resnet18")
CHIPS = ("edge", "large", "int8-baseline")
ENGINES = ("analytical", "event")
#: (label, network, quant, --set overrides) run on edge with both engines
VARIANTS: tuple[tuple[str, str, str | None, tuple[str, ...]], ...] = (
    ("ws", "bnn-cifar10", None, ("dataflow=weight_stationary",)),
    ("is", "bnn-cifar10", None, ("dataflow=input_stationary",)),
    ("ws", "resnet18", None, ("dataflow=weight_stationary",)),
    ("is", "alexnet", None, ("dataflow=input_stationary",)),
    ("w1a2", "cnv", "w1a2", ()),
    ("wta2", "cnv", "wta2", ()),
    ("w2a2", "vgg-small", "w2a2", ()),
    ("wb2ab2", "lfc", "wb2ab2", ()),
    ("w4a4-ws", "cnv", "w4a4", ("dataflow=weight_stationary",)),
    ("bitserial", "bnn-cifar10", None, ("full_precision=bit_serial",)),
    ("bitserial-is", "resnet18", None, ("full_precision=bit_serial",
                                        "dataflow=input_stationary", "accumulator_bits=32")),
    ("narrow-ports", "bnn-cifar10", None, ("buffers.input.port_bits=128",
                                           "buffers.weight.port_bits=64",
                                           "buffers.output.port_bits=32")),
    ("small-buffers", "cnv", None, ("buffers.input.size_kib=4", "buffers.weight.size_kib=2",
                                    "buffers.output.size_kib=1",
                                    "buffers.output.double_buffered=false")),
    ("dram-objective", "bnn-cifar10", None, ("mapping.objective=dram", "dram.channels=4")),
)


def _result_record(result: Any) -> dict[str, Any]:
    cycles = getattr(result, "latency_cycles", None)
    if cycles is None:  # the API before the restructure
        cycles = result.cycles
    return {
        "cycles": int(cycles),
        "energy_pj": repr(float(result.energy_pj)),
        "dram_bytes": int(result.dram_bytes),
        "area_mm2": repr(float(result.area_mm2)),
        "macs": int(result.macs),
        "weight_bits": int(result.weight_bits),
        "energy_breakdown_pj": {k: repr(float(v)) for k, v in
                                sorted(result.energy_breakdown_pj.items())},
        "layer_cycles": [int(x.cycles) for x in result.layers],
        "layer_dram_bytes": [int(x.dram_bytes) for x in result.layers],
    }


def record_totals() -> dict[str, Any]:
    from simulator import apply_overrides, load_chip, simulate
    from workloads import get_network

    out: dict[str, Any] = {}
    for net_name in NETWORKS:
        net = get_network(net_name)
        for chip_name in CHIPS:
            chip = load_chip(chip_name)
            for engine in ENGINES:
                out[f"{net_name}|{chip_name}|{engine}"] = _result_record(
                    simulate(net, chip, engine=engine))
    for label, net_name, quant, sets in VARIANTS:
        net = get_network(net_name, quant)
        chip = apply_overrides(load_chip("edge"), list(sets))
        for engine in ENGINES:
            out[f"{net_name}|edge+{label}|{engine}"] = _result_record(
                simulate(net, chip, engine=engine))
    return out


def _fill(state: dict[str, Any]) -> dict[str, Any]:
    """Deterministic weights: a smooth function of each tensor's name and element index."""
    import torch

    filled = {}
    for name, t in state.items():
        if not t.is_floating_point():
            filled[name] = t.clone()
            continue
        seed = sum(ord(ch) * (i + 1) for i, ch in enumerate(name)) % 997
        idx = torch.arange(t.numel(), dtype=torch.float64)
        values = torch.sin(idx * 0.7311 + seed) * 0.5
        if name.endswith("running_var"):
            values = values.abs() + 0.5
        filled[name] = values.reshape(t.shape).to(t.dtype)
    return filled


def record_models() -> dict[str, Any]:
    import torch

    from reference.models import build_model

    torch.set_num_threads(1)
    out: dict[str, Any] = {}
    for name in NETWORKS:
        model = build_model(name)
        state = model.state_dict()
        model.load_state_dict(_fill(state))
        model.eval()
        shape = model.input_shape
        x = (torch.arange(math.prod(shape), dtype=torch.float64) * 0.013).sin().abs()
        with torch.no_grad():
            y = model(x.reshape(1, *shape).float())[0].double()
        out[name] = {
            "state_dict": {k: list(v.shape) for k, v in sorted(state.items())},
            "output_sum": repr(float(y.sum())),
            "output_head": [repr(float(v)) for v in y[:16]],
            "argmax": int(y.argmax()),
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--only", choices=("totals", "models"))
    args = parser.parse_args()
    bad = 0
    for name, fn in (("totals", record_totals), ("models", record_models)):
        if args.only and args.only != name:
            continue
        data = fn()
        path = HERE / f"{name}.json"
        if args.check:
            old = json.loads(path.read_text())
            for key in sorted(set(old) | set(data)):
                if old.get(key) != data.get(key):
                    bad += 1
                    print(f"{name}: {key}: recorded {old.get(key)} != now {data.get(key)}")
        else:
            path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
            print(f"wrote {path} ({len(data)} entries)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
