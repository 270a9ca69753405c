"""The ``bnnsim`` command line: simulate, list, and the reference's train / eval / summary.

Every bad input — a flag argparse rejects, a :class:`~workloads.errors.ConfigError` from a
file, a flag value or an infeasible design — prints one line ``bnnsim <command>: error: …``
and exits with code 2. Each command declares its output files before any work
(:class:`~workloads.files.Outputs`) and writes them atomically only after it succeeded, never
onto a file it reads. ``bnnsim simulate`` never imports torch unless ``--network`` is a
checkpoint.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from workloads.errors import ConfigError
from workloads.files import Outputs, track_reads
from workloads.flags import bounded

__all__ = ["main"]


def _existing_path(spec: str | None) -> str | None:
    """``spec`` if it names an existing file (a flag that takes a name or a path)."""
    return spec if spec is not None and Path(spec).exists() else None


def _load_network(spec: str, quant: str | None) -> Any:
    """``--network``: a zoo name or network YAML (torch-free), or a checkpoint (lowered by the
    torch reference, imported only then)."""
    from workloads import is_checkpoint_path, load_network

    if is_checkpoint_path(spec):
        from reference.lowering import network_from_checkpoint

        return network_from_checkpoint(spec, quant=quant)
    return load_network(spec, quant)


# --------------------------------------------------------------------------- simulate
def _cmd_simulate(args: argparse.Namespace, out: Outputs) -> int:
    from reports.terminal import layer_csv_text, result_text, trace_csv_text
    from simulator import apply_overrides, get_family, load_chip, simulate

    for flag, value in (("--chip", args.chip), ("--network", args.network),
                        ("--quant", args.quant), ("--engine", args.engine)):
        if value is not None and not value.strip():
            raise ConfigError("is empty", key=flag, value=value, has_value=True)
    out.inputs(_existing_path(args.chip), _existing_path(args.network),
               _existing_path(args.quant))
    for flag, target in (("--json", args.json), ("--csv", args.csv), ("--trace", args.trace)):
        out.declare(flag, target)
    out.declare_folder("--report", args.report)
    chip = load_chip(args.chip)
    if args.set:
        chip = apply_overrides(chip, args.set)
    family = get_family(chip.family)
    if args.folding is not None:
        out.inputs(args.folding)
        with_folding = getattr(family, "with_folding", None)
        if with_folding is None:
            raise ConfigError(f"applies to dataflow chips; {chip.name} is a {chip.family} "
                              "chip", key="--folding", value=args.folding, has_value=True)
        chip = with_folding(chip, args.folding)
    traced = bool(args.trace) or (args.report is not None and args.engine is None
                                  and bool(family.trace_engines))
    engine = args.engine if args.engine is not None else (
        family.trace_engines[0] if traced and family.trace_engines else family.engines[0])
    if engine not in family.engines:
        raise ConfigError(f"allowed for the {family.name} family: {', '.join(family.engines)}",
                          key="--engine", value=engine, has_value=True)
    if args.trace and engine not in family.trace_engines:
        tracing = ", ".join(family.trace_engines) or "none"
        raise ConfigError(f"the {engine} engine records no busy intervals; engines that do: "
                          f"{tracing}", key="--trace", value=args.trace, has_value=True)
    net = _load_network(args.network, args.quant)
    traced = (traced or args.report is not None) and engine in family.trace_engines
    result = simulate(net, chip, engine=engine, trace=traced, batch=args.batch)
    if args.json != "-":
        print(result_text(result, family))
    if args.json:
        out.stage_json("--json", result.to_dict(include_trace=bool(args.trace)))
    if args.csv:
        out.stage_text("--csv", layer_csv_text(result))
    if args.trace:
        if args.trace.lower().endswith(".json"):
            from reports.trace import chrome_trace

            out.stage_json("--trace", chrome_trace(result.to_dict(include_trace=True)))
        else:
            out.stage_text("--trace", trace_csv_text(result))
    if args.report is not None:
        from reports.build import result_report

        out.stage("--report", result_report([result.to_dict(include_trace=traced)]).write)
        if args.json != "-":
            page = Path(args.report) / "index.html"
            out.on_commit(lambda: print(f"\nreport: {page}"))
    return 0


# --------------------------------------------------------------------------- list
def _cmd_list(args: argparse.Namespace, out: Outputs) -> int:
    from reports.terminal import fixed_table as _fmt_table
    from simulator import FAMILIES, builtin_chips, builtin_tech, get_family, load_chip
    from simulator.dram_types import DRAM_TYPES
    from workloads import ZOO, get_network, zoo_names

    out.declare("--json", args.json)
    nets: list[dict[str, Any]] = []
    for name in zoo_names():
        net = get_network(name)
        nets.append({"name": name, "layers": len(net), "macs": net.macs,
                     "weight_bits": net.weight_bits, "quant": ZOO[name].quant.name,
                     "input": list(net.input_shape)})
    chips: list[dict[str, Any]] = []
    for name in builtin_chips():
        c = load_chip(name)
        chips.append({"name": name, "family": c.family, "clock_mhz": c.clock_mhz,
                      "summary": get_family(c.family).describe(c)})
    families = {name: {"engines": list(f.engines)} for name, f in FAMILIES.items()}
    drams = [{"name": t.name, "channel": t.standard, "channel_gbps": t.channel_gbps,
              "burst_bytes": t.burst_bytes, "latency_ns": t.latency_ns,
              "energy_pj_per_bit": t.energy_pj_per_bit, "source": t.source}
             for t in DRAM_TYPES.values()]
    payload = {"networks": nets, "chips": chips, "tech": builtin_tech(), "dram_types": drams,
               "families": families}
    if args.json:
        out.stage_json("--json", payload)
        if args.json == "-":
            return 0
    print("networks")
    print(_fmt_table(("name", "input", "layers", "MACs", "weight bits", "default quant"),
                     [(n["name"], "x".join(map(str, n["input"])), n["layers"], f"{n['macs']:,}",
                       f"{n['weight_bits']:,}", n["quant"]) for n in nets]))
    print("\nchips")
    print(_fmt_table(("name", "family", "MHz", "summary"),
                     [(c["name"], c["family"], f"{c['clock_mhz']:g}", c["summary"])
                      for c in chips], "llrl"))
    print("\nDRAM types (dram.type; per channel)")
    print(_fmt_table(("name", "channel", "GB/s", "burst B", "latency ns", "pJ/bit"),
                     [(d["name"], d["channel"], f"{d['channel_gbps']:g}", d["burst_bytes"],
                       f"{d['latency_ns']:g}", f"{d['energy_pj_per_bit']:g}") for d in drams],
                     "llrrrr"))
    print(f"\ntechnology tables: {', '.join(builtin_tech())}")
    for name, f in families.items():
        print(f"family {name}: engines {', '.join(f['engines'])}")
    return 0


def _frames(text: str) -> int:
    """argparse type of ``--batch``: an integer frame count (one line on error)."""
    from simulator.family import MAX_BATCH

    return int(bounded("--batch", int, 1, MAX_BATCH)(text))


_frames.__name__ = "--batch"


# --------------------------------------------------------------------------- parser
class _Parser(argparse.ArgumentParser):
    """argparse with the one error style: ``bnnsim <command>: error: …`` on one line, exit 2
    (no usage block). ``commands`` maps each subcommand to its parser."""

    commands: dict[str, argparse.ArgumentParser]

    def error(self, message: str) -> NoReturn:
        line = " ".join(message.split())
        self.exit(2, f"{self.prog}: error: {line}\n")


def build_parser() -> _Parser:
    parser = _Parser(
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
                          "(binary bases), wp5a2 (INQ's powers of two), w1a1g8 (a "
                          "Real-to-Binary gate, reduction 8), or a YAML file with per-layer "
                          "overrides (default: the network's paper setting)")
    sim.add_argument("--chip", default="edge", help="built-in chip name or chip YAML path "
                                                    "(default: edge)")
    sim.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override a chip field by dotted path, e.g. pe_array.rows=32 "
                          "(repeatable)")
    sim.add_argument("--engine", default=None,
                     help="timing engine of the chip's family: analytical or event (default: "
                          "the family's first, analytical)")
    sim.add_argument("--batch", type=_frames, default=1, metavar="N",
                     help="frames per run (overlay: layer by layer, fully connected layers "
                          "reusing their weights across the batch; dataflow: streamed "
                          "through the pipeline, its steady state measured; default 1)")
    sim.add_argument("--folding", metavar="FILE",
                     help="dataflow chips: each layer's PE, SIMD and FIFO depth — FINN's "
                          "folding JSON (MVAU_hls_<i>: {PE, SIMD}) or bnnsim's YAML "
                          "(layer: {pe, simd, fifo_depth})")
    sim.add_argument("--json", metavar="FILE", help="write the result as JSON ('-': stdout)")
    sim.add_argument("--csv", metavar="FILE", help="write the per-layer table as CSV")
    sim.add_argument("--trace", metavar="FILE",
                     help="event engine: write the busy intervals of each component — FILE.json "
                          "as a Chrome/Perfetto trace (opens in ui.perfetto.dev), any other "
                          "name (and '-', standard output) as CSV")
    sim.add_argument("--report", metavar="DIR",
                     help="write the HTML report of this design into DIR (tables, figures, "
                          "a Perfetto trace; uses the event engine unless --engine is given)")
    sim.set_defaults(func=_cmd_simulate)

    lst = sub.add_parser("list", help="name the zoo networks, built-in chips, DRAM types and "
                                      "tech tables")
    lst.add_argument("--json", metavar="FILE", help="write the listing as JSON ('-': stdout)")
    lst.set_defaults(func=_cmd_list)

    from bnnsim import fold, verify
    from explorer import commands as explorer_commands
    from reference import commands
    from reports import commands as report_commands

    commands.register(sub)
    fold.register(sub)
    explorer_commands.register(sub)
    report_commands.register(sub)
    verify.register(sub)
    parser.commands = dict(sub.choices)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:  # reported by the command's own parser: "bnnsim simulate: error: ..."
            parser.commands[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as stop:  # a bad flag (one line on stderr) or --help
        return stop.code if isinstance(stop.code, int) else 2
    out = Outputs()
    stdout = sys.stdout
    if stdout is not None:
        reconfigure = getattr(stdout, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):
                reconfigure(errors="backslashreplace")  # e.g. an ASCII-only terminal
        sys.stdout = _Stdout(stdout)
    try:
        with track_reads() as reads:
            code = int(args.func(args, out) or 0)
            if code == 0 or (code == 1 and out.results_on_failure):
                out.commit(reads=reads)
            sys.stdout.flush()
        return code
    except ConfigError as err:
        print(f"bnnsim {args.command}: error: {err}", file=sys.stderr)
        return 2
    except _StdoutError as err:
        _silence_stdout()
        print(f"bnnsim {args.command}: error: cannot write to standard output "
              f"({err.reason})", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bnnsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return 0
    finally:
        if isinstance(sys.stdout, _Stdout):
            sys.stdout = sys.stdout.stream


class _StdoutError(Exception):
    """Standard output could not be written (a full disk, a closed descriptor)."""

    def __init__(self, err: OSError) -> None:
        self.reason = err.strerror or str(err)
        super().__init__(self.reason)


class _Stdout:
    """Standard output whose write failures are reported as such, not as internal errors."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    broken = False  # the reader went away (``| head``): the rest is dropped, the work goes on

    def write(self, text: str) -> int:
        if self.broken:
            return len(text)
        try:
            return int(self.stream.write(text))
        except BrokenPipeError:
            self._drop()
            return len(text)
        except OSError as err:
            raise _StdoutError(err) from None

    def flush(self) -> None:
        if self.broken:
            return
        try:
            self.stream.flush()
        except BrokenPipeError:
            self._drop()
        except OSError as err:
            raise _StdoutError(err) from None

    def _drop(self) -> None:
        """Stop writing to a pipe whose reader closed it — so the command still finishes and
        writes its files (a ``--json FILE`` is not lost because ``| head`` stopped reading)."""
        self.broken = True
        _silence_stdout()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def _silence_stdout() -> None:
    """Point the real standard output at /dev/null so the interpreter's final flush of what
    could not be written raises nothing more."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.__stdout__.fileno() if sys.__stdout__ else 1)
        os.close(devnull)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
