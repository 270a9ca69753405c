"""``bnnsim fold``: choose each layer's PE and SIMD of a dataflow chip for a frame rate (or a
LUT budget) with the least resources, beside FINN's greedy SetFolding, and write the folding
as FINN's build flow reads it.

Bad input raises :class:`~workloads.errors.ConfigError` (one line, exit 2).
"""

from __future__ import annotations

import argparse
from typing import Any

from workloads.errors import ConfigError
from workloads.files import Outputs
from workloads.flags import bounded

__all__ = ["fold_report", "register"]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "fold", help="choose PE and SIMD per layer of a dataflow chip for a frame rate",
        description="Fold a network on a dataflow chip: each layer's PE and SIMD for a target "
                    "frame rate (or the fastest folding within a LUT budget) with the least "
                    "LUTs and memories, compared with FINN's SetFolding.")
    p.add_argument("--network", default="cnv", help="zoo name or network YAML (default: cnv)")
    p.add_argument("--quant", default=None, help="quantisation (default: the paper's)")
    p.add_argument("--chip", default="pynq-z1",
                   help="dataflow chip name or YAML (default: pynq-z1)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a chip field (repeatable)")
    goal = p.add_mutually_exclusive_group(required=True)
    goal.add_argument("--target-fps", type=bounded("--target-fps", float, 1e-3, 1e9),
                      help="frames per second to reach")
    goal.add_argument("--budget-luts", type=bounded("--budget-luts", int, 1, 1 << 30),
                      help="the fastest folding whose pipeline needs at most this many LUTs")
    p.add_argument("--out", metavar="FILE",
                   help="write the folding as FINN's JSON (MVAU_hls_<i>: {PE, SIMD, …})")
    p.add_argument("--json", metavar="FILE", help="write the comparison as JSON ('-': stdout)")
    p.set_defaults(func=_cmd_fold)


def fold_report(net: Any, chip: Any, *, target_fps: float | None = None,
                budget_luts: int | None = None) -> dict[str, Any]:
    """The chosen folding (``bnnsim``) and SetFolding's for the same target, each with its
    per-layer cycles and resources and the whole pipeline's (FIFOs included)."""
    from simulator.dataflow.family import DataflowFamily
    from simulator.dataflow.folding import (
        auto_fold,
        budget_fold,
        set_folding,
        target_cycles,
        with_choices,
    )

    family = DataflowFamily()
    if target_fps is not None:
        target = target_cycles(chip, target_fps)
        ours = auto_fold(net, chip, target)
    else:
        assert budget_luts is not None
        target, ours = budget_fold(net, chip, budget_luts, family.pipeline)
    base = set_folding(net, chip, target)
    out: dict[str, Any] = {"network": net.name, "quant": net.quant, "chip": chip.name,
                           "clock_mhz": chip.clock_mhz, "target_cycles": target,
                           "target_fps": chip.clock_mhz * 1e6 / target}
    for label, choices in (("bnnsim", ours), ("setfolding", base)):
        folded = with_choices(chip, choices)
        _, stages, edges = family.pipeline(net, folded)
        from simulator.dataflow.resources import Resources, fifo_resources

        units = sum((s.resources for s in stages), Resources())
        fifos = sum((fifo_resources(e) for e in edges), Resources())
        slowest = max(s.cycles for s in stages)
        out[label] = {
            "layers": {name: {"pe": c.pe, "simd": c.simd, "cycles": c.cycles,
                              "luts": c.resources.luts, "bram18": c.resources.bram18,
                              "uram": c.resources.uram} for name, c in choices.items()},
            "luts": units.luts + fifos.luts, "bram18": units.bram18 + fifos.bram18,
            "uram": units.uram + fifos.uram, "slowest_cycles": slowest,
            "fps": chip.clock_mhz * 1e6 / slowest,
            "meets_target": slowest <= target,
            "fits": (units.luts + fifos.luts <= chip.luts
                     and units.bram18 + fifos.bram18 <= chip.bram18
                     and units.uram + fifos.uram <= chip.uram),
        }
    return out


def _cmd_fold(args: argparse.Namespace, out: Outputs) -> int:
    from pathlib import Path

    from reports.terminal import fixed_table
    from simulator import apply_overrides, load_chip
    from simulator.dataflow.folding import export_finn, resolve, with_choices
    from workloads import load_network

    for path in (args.chip, args.network, args.quant):
        if path is not None and Path(path).exists():
            out.inputs(path)
    out.declare("--out", args.out)
    out.declare("--json", args.json)
    from simulator.dataflow import DataflowChip

    spec = load_chip(args.chip)
    if args.set:
        spec = apply_overrides(spec, args.set)
    if not isinstance(spec, DataflowChip):
        raise ConfigError(f"is a {spec.family} chip; bnnsim fold folds a dataflow chip's "
                          "layers (e.g. --chip pynq-z1)", key="--chip", value=args.chip,
                          has_value=True)
    chip = spec
    net = load_network(args.network, args.quant)
    report = fold_report(net, chip, target_fps=args.target_fps, budget_luts=args.budget_luts)
    ours, base = report["bnnsim"], report["setfolding"]
    if args.json != "-":
        rows = []
        for name, c in ours["layers"].items():
            b = base["layers"][name]
            rows.append((name, f"{c['pe']}×{c['simd']}", f"{c['cycles']:,}", c["luts"],
                         c["bram18"], f"{b['pe']}×{b['simd']}", f"{b['cycles']:,}", b["luts"],
                         b["bram18"]))
        print(f"{net.name} ({net.quant}) on {chip.name}: target {report['target_cycles']:,} "
              f"cycles a frame ({report['target_fps']:,.1f} frames/s at "
              f"{chip.clock_mhz:g} MHz)")
        print(fixed_table(("layer", "PE×SIMD", "cycles", "LUTs", "BRAM18", "SetFolding",
                           "cycles", "LUTs", "BRAM18"), rows, "llrrrlrrr"))
        for label, r in (("bnnsim", ours), ("SetFolding", base)):
            print(f"{label:<11} {r['fps']:,.1f} frames/s, {r['luts']:,} LUTs, "
                  f"{r['bram18']:,} BRAM18 (FIFOs included)"
                  + ("" if r["meets_target"] else "; misses the target")
                  + ("" if r["fits"] else f"; exceeds the device ({chip.luts:,} LUTs, "
                                          f"{chip.bram18:,} BRAM18)"))
    if args.out:
        from simulator.dataflow.folding import FoldChoice
        from simulator.dataflow.resources import Resources

        choices = {n: FoldChoice(c["pe"], c["simd"], c["cycles"], Resources())
                   for n, c in ours["layers"].items()}
        folded = with_choices(chip, choices)
        out.stage_json("--out", export_finn(net, resolve(net, folded)))
    if args.json:
        out.stage_json("--json", {"command": "fold", **report})
    return 0
