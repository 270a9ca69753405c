"""The ``bnnsim`` command line: simulate, list, and the reference's train / eval / summary.

Bad input (a :class:`~workloads.errors.ConfigError`) prints one line and exits with code 2.
``bnnsim simulate`` never imports torch unless ``--network`` is a checkpoint.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from typing import Any

from workloads.errors import ConfigError
from workloads.files import check_output_path, write_json

__all__ = ["main"]


def _fmt_table(headers: Sequence[str], rows: Sequence[Sequence[Any]],
               align: str | None = None) -> str:
    """A plain fixed-width table (first column left-aligned, the rest right-aligned)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    align = align or "l" + "r" * (len(headers) - 1)
    out = []
    for j, r in enumerate(cells):
        out.append("  ".join(c.ljust(w) if a == "l" else c.rjust(w)
                             for c, w, a in zip(r, widths, align, strict=True)).rstrip())
        if j == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def _si(value: float, unit: str) -> str:
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.2f} {prefix}{unit}"
    return f"{value:.0f} {unit}"


def _check_output(target: str | None, flag: str) -> None:
    """Fail before any work when an output file cannot be written."""
    check_output_path(target, flag=flag)


def _open_output(target: str, flag: str) -> Any:
    try:
        return open(target, "w", newline="", encoding="utf-8")  # the caller closes it
    except OSError as err:
        raise ConfigError(f"cannot write ({err.strerror or err})", key=flag, value=target,
                          has_value=True) from None


def _load_network(spec: str, quant: str | None) -> Any:
    """``--network``: a zoo name or network YAML (torch-free), or a checkpoint (lowered by the
    torch reference, imported only then)."""
    from workloads import is_checkpoint_path, load_network

    if is_checkpoint_path(spec):
        from reference.lowering import network_from_checkpoint

        return network_from_checkpoint(spec, quant=quant)
    return load_network(spec, quant)


# --------------------------------------------------------------------------- simulate
def _cmd_simulate(args: argparse.Namespace) -> int:
    from simulator import apply_overrides, load_chip, simulate

    for target, flag in ((args.json, "--json"), (args.csv, "--csv"), (args.trace, "--trace")):
        _check_output(target, flag)
    chip = load_chip(args.chip)
    if args.set:
        chip = apply_overrides(chip, args.set)
    net = _load_network(args.network, args.quant)
    result = simulate(net, chip, engine=args.engine, trace=bool(args.trace))
    quiet = args.json == "-"
    if not quiet:
        rows = [(x.name, x.kind, x.precision, x.unit, _si(x.macs, ""), x.cycles, x.stall_cycles,
                 f"{100 * x.utilization:.1f}", f"{x.dram_bytes / 1024:.1f}",
                 f"{x.energy_pj / 1e6:.3f}", x.bound, x.mapping.describe())
                for x in result.layers]
        body = result.quant.rstrip("+")
        other = [f"{x.name} {x.precision}" for x in result.layers
                 if x.kind in ("conv", "fc") and x.precision != body]
        note = (f"; {', '.join(other)}" if len(other) <= 3
                else f"; {len(other)} layers differ, see prec") if other else ""
        print(f"{result.network} ({body}{note}) on {result.chip} — {result.engine} engine")
        print(_fmt_table(("layer", "kind", "prec", "unit", "MACs", "cycles", "stall", "util%",
                          "DRAM KiB", "energy uJ", "bound", "mapping"), rows,
                         "lllllrrrrrll"))
        e = result.energy_breakdown_pj
        parts = ", ".join(f"{k} {v / 1e6:.3f}" for k, v in e.items())
        print()
        print(f"total cycles      {result.cycles:,} ({result.latency_s * 1e3:.4f} ms at "
              f"{result.clock_mhz:g} MHz, {result.frames_per_s:,.1f} frames/s)")
        print(f"stall cycles      {sum(x.stall_cycles for x in result.layers):,}")
        print(f"energy/inference  {result.energy_pj / 1e6:.3f} uJ ({parts} uJ)")
        print(f"efficiency        {result.tops_per_w:.3f} TOPS/W (2 ops per MAC); array "
              f"utilization {100 * result.utilization:.1f} %")
        print(f"DRAM traffic      {result.dram_bytes / 1024:,.1f} KiB; MACs {result.macs:,}; "
              f"weights {result.weight_bits:,} bits")
        print(f"area              {result.area_mm2:.3f} mm² (tech {result.provenance['tech']})")
    if args.json:
        write_json(args.json, result.to_dict(include_trace=bool(args.trace)))
    if args.csv:
        with _open_output(args.csv, "--csv") as fh:
            w = csv.writer(fh)
            w.writerow(["name", "kind", "precision", "unit", "macs", "weight_bits", "cycles",
                        "compute_cycles", "stall_cycles", "utilization", "dram_bytes",
                        "energy_pj", "bound", "mapping"])
            for x in result.layers:
                w.writerow([x.name, x.kind, x.precision, x.unit, x.macs, x.weight_bits,
                            x.cycles, x.compute_cycles, x.stall_cycles, f"{x.utilization:.6f}",
                            x.dram_bytes, f"{x.energy_pj:.3f}", x.bound, x.mapping.describe()])
    if args.trace:
        with _open_output(args.trace, "--trace") as fh:
            w = csv.writer(fh)
            w.writerow(["component", "start", "end", "label"])
            for t in result.trace or ():
                w.writerow([t.component, t.start, t.end, t.label])
    return 0


# --------------------------------------------------------------------------- list
def _cmd_list(args: argparse.Namespace) -> int:
    from simulator import ENGINES, builtin_chips, load_chip
    from simulator.tech import builtin_tech
    from workloads import ZOO, get_network, zoo_names

    nets: list[dict[str, Any]] = []
    for name in zoo_names():
        net = get_network(name)
        nets.append({"name": name, "layers": len(net), "macs": net.macs,
                     "weight_bits": net.weight_bits, "quant": ZOO[name].quant.name,
                     "input": list(net.input_shape)})
    chips: list[dict[str, Any]] = []
    for name in builtin_chips():
        c = load_chip(name)
        pe = c.pe_array
        chips.append({"name": name, "pe": f"{pe.rows}x{pe.cols} {pe.pe_type.value}"
                      + (f" x{pe.lane_bits}b" if pe.pe_type.value == "xnor" else ""),
                      "clock_mhz": c.clock_mhz, "dataflow": c.dataflow.value,
                      "sram_kib": c.input_buffer.size_kib + c.weight_buffer.size_kib
                      + c.output_buffer.size_kib, "dram_gbps": c.dram.bandwidth_gbps})
    _check_output(args.json, "--json")
    payload = {"networks": nets, "chips": chips, "tech": builtin_tech(),
               "engines": list(ENGINES)}
    if args.json:
        write_json(args.json, payload)
        if args.json == "-":
            return 0
    print("networks")
    print(_fmt_table(("name", "input", "layers", "MACs", "weight bits", "default quant"),
                     [(n["name"], "x".join(map(str, n["input"])), n["layers"], f"{n['macs']:,}",
                       f"{n['weight_bits']:,}", n["quant"]) for n in nets]))
    print("\nchips")
    print(_fmt_table(("name", "PE array", "MHz", "dataflow", "SRAM KiB", "DRAM GB/s"),
                     [(c["name"], c["pe"], f"{c['clock_mhz']:g}", c["dataflow"],
                       f"{c['sram_kib']:g}", f"{c['dram_gbps']:g}") for c in chips],
                     "llrlrr"))
    print(f"\ntechnology tables: {', '.join(builtin_tech())}")
    print(f"engines: {', '.join(ENGINES)}")
    return 0


# --------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bnnsim",
        description="Cycle-level simulator and design-space explorer for binary and ternary "
                    "neural-network accelerators.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sim = sub.add_parser("simulate", help="run a network on a chip and report cycles, energy, "
                                          "DRAM traffic and area")
    sim.add_argument("--network", default="bnn-cifar10",
                     help="zoo name (see `bnnsim list`), network YAML, or checkpoint .pt "
                          "(default: bnn-cifar10)")
    sim.add_argument("--quant", default=None,
                     help="quantisation: w1a1, w1a2, w2a2, wta2 (ternary weights), wb3ab1 "
                          "(ABC-Net bases), or a YAML file with per-layer overrides "
                          "(default: the network's paper setting)")
    sim.add_argument("--chip", default="edge", help="built-in chip name or chip YAML path "
                                                    "(default: edge)")
    sim.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override a chip field by dotted path, e.g. pe_array.rows=32 "
                          "(repeatable)")
    sim.add_argument("--engine", default="analytical", choices=("analytical", "event"),
                     help="timing engine (default: analytical)")
    sim.add_argument("--json", metavar="FILE", help="write the result as JSON ('-': stdout)")
    sim.add_argument("--csv", metavar="FILE", help="write the per-layer table as CSV")
    sim.add_argument("--trace", metavar="FILE",
                     help="event engine: write busy intervals per component as CSV")
    sim.set_defaults(func=_cmd_simulate)

    lst = sub.add_parser("list", help="name the zoo networks, built-in chips and tech tables")
    lst.add_argument("--json", metavar="FILE", help="write the listing as JSON ('-': stdout)")
    lst.set_defaults(func=_cmd_list)

    from reference import commands

    commands.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "trace", None) and getattr(args, "engine", "event") != "event":
        parser.error("--trace needs --engine event")
    try:
        return int(args.func(args) or 0)
    except ConfigError as err:
        print(f"bnnsim: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bnnsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
