"""bnnsim's per-fold array cycles against SCALE-Sim 3.0, layer by layer.

For each network (bnn-cifar10, resnet18 from bnnsim's zoo) and dataflow (os / ws / is) this
writes the network's conv layers as a SCALE-Sim topology, runs SCALE-Sim on a 32×32 array with
large SRAMs in its default ``CALC`` (estimate-bandwidth) mode, where reads never miss, and reads
each layer's cycles from its ``COMPUTE_REPORT.csv`` (``Total Cycles − Stall Cycles``). The same
layers, as int8 convs, are priced by bnnsim's overlay model as ONE tile each (``price`` with the
whole layer as the tile) on a 32×32 int8 array whose buffers and ports never limit it, with
``fold_timing: per_fold`` (SCALE-Sim's convention) and, for information, ``pipelined``.

``ss_formula`` is what SCALE-Sim computes, read from its ``compute/systolic_compute_*.py`` and
``memory/double_buffered_scratchpad_mem.py``: every fold is padded to the FULL array (``R × C``,
unused rows and columns filled with null requests), a fold lasts ``T + R + C − 2`` cycles under
os (its outputs leave while the skew runs) and ``2R + C + T − 2`` under ws / is, and a layer's
cycles are the index of its last demand line, ``folds × per_fold − 1``. bnnsim's ``per_fold``
convention is that count without the final ``− 1`` (a count, not an index), so the two must
differ by exactly one cycle per layer; ``pipelined`` (bnnsim's default) is shown beside them.

SCALE-Sim has no padding field and computes ``ofmap = ⌈(H − FY + S) / S⌉``
(topology_utils.py, ``topo_calc_hyperparams``), so each layer gets the input rows its windows
actually cover, ``(OY − 1)·S + FY``: that is ``H + 2p`` when ``S`` divides ``H + 2p − FY``,
and one row less otherwise (``H + 2p`` would give SCALE-Sim one output row too many there).

SCALE-Sim is slow (minutes per network) and needs several GB, so its parsed results are cached
(``--cache``) and only rerun with ``--rerun``. ``python -m scalesim.scale`` ignores its ``-s``
flag (it always writes traces, GBs for resnet18), so the runs call ``scalesim.scale_sim`` with
``save_disk_space=True`` in SCALE-Sim's own interpreter (``--scalesim-python``)::

    python benchmarks/scalesim_compare.py --scalesim-python /path/to/venv/bin/python \\
        [--networks bnn-cifar10 resnet18] [--dataflows os ws is] [--jobs 2] \\
        [--workdir DIR] [--cache PATH] [--rerun] [--json out.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from workloads import get_network
from workloads.formats import INT8
from workloads.layers import Conv2d

NETWORKS = ("bnn-cifar10", "resnet18")
DATAFLOWS = {"os": "output_stationary", "ws": "weight_stationary", "is": "input_stationary"}
CACHE_VERSION = 1
BIG_KIB = 1 << 20  # bnnsim buffers: 1 GiB each ...
BIG_PORT = 1 << 20  # ... with 2**20-bit ports, so nothing but the array limits a layer
SCALESIM_SRAM_KB = 1 << 16  # SCALE-Sim SRAMs: 64 MiB each

#: Run by SCALE-Sim's interpreter: one network, no traces; wall time and peak RSS to a file.
RUNNER = """
import json, resource, sys, time
from scalesim.scale_sim import scalesim
cfg, topo, layout, out, stats = sys.argv[1:6]
t0 = time.perf_counter()
s = scalesim(save_disk_space=True, verbose=False, config=cfg, topology=topo, layout=layout,
             input_type_gemm=False)
s.run_scale(top_path=out)
with open(stats, "w") as f:
    json.dump({"wall_s": time.perf_counter() - t0,
               "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}, f)
"""

CONFIG = """[general]
run_name = {run_name}

[architecture_presets]
ArrayHeight: {rows}
ArrayWidth: {cols}
IfmapSramSzkB: {sram}
FilterSramSzkB: {sram}
OfmapSramSzkB: {sram}
IfmapOffset: 0
FilterOffset: 10000000
OfmapOffset: 20000000
Bandwidth: 10
Dataflow: {df}
MemoryBanks: 1
ReadRequestBuffer: 512
WriteRequestBuffer: 512

[layout]
IfmapCustomLayout: False
FilterCustomLayout: False
IfmapSRAMBankBandwidth: 10
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterSRAMBankBandwidth: 10
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2

[run_presets]
InterfaceBandwidth: CALC
UseRamulatorTrace: False

[sparsity]
SparsitySupport: false
SparseRep: ellpack_block
OptimizedMapping: false
BlockSize: 8
RandomNumberGeneratorSeed: 40
"""

TOPO_HEADER = ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
               "Num Filter, Strides,")
# SCALE-Sim reads a layout file even with custom layouts off; these rows are never used.
LAYOUT_HEADER = "Layer name," + ",".join(f"f{i}" for i in range(20)) + ","
LAYOUT_ROW = "1,1,1,1,1,1,0,1,2,0,1,2,0,1,2,3,0,1,2,3"


# ---------------------------------------------------------------------------------------------
# the layers


def conv_layers(network: str) -> list[Conv2d]:
    """The network's ungrouped conv layers (SCALE-Sim has no groups)."""
    out = []
    for layer in get_network(network).layers:
        if layer.kind.value == "conv" and isinstance(layer, Conv2d) and layer.groups == 1:
            out.append(layer)
    return out


def scalesim_ofmap(ifmap: int, kernel: int, stride: int) -> int:
    """SCALE-Sim's output size (topology_utils.py, ``topo_calc_hyperparams``)."""
    return math.ceil((ifmap - kernel + stride) / stride)


def topo_row(i: int, layer: Conv2d) -> list[Any]:
    """One SCALE-Sim topology row: name, ifmap H, W, filter H, W, channels, filters, stride.

    The ifmap is the padded input cut to the rows and columns the windows cover, so SCALE-Sim's
    output size equals the layer's.
    """
    c, _, _ = layer.in_shape
    fy, fx = layer.kernel
    s = layer.stride
    h = (layer.out_h - 1) * s + fy
    w = (layer.out_w - 1) * s + fx
    if (scalesim_ofmap(h, fy, s), scalesim_ofmap(w, fx, s)) != (layer.out_h, layer.out_w):
        raise AssertionError(f"{layer.name}: SCALE-Sim would not reproduce the output size")
    # lower case: SCALE-Sim treats a name containing "DP" as a depthwise layer
    name = f"l{i:02d}_" + re.sub(r"[^A-Za-z0-9_]", "_", layer.name).lower()
    return [name, h, w, fy, fx, c, layer.out_channels, s]


def padded_ifmap_matches(layer: Conv2d) -> bool:
    """Whether the plain padded size ``H + 2p`` would have given SCALE-Sim the right output."""
    _, h, w = layer.in_shape
    fy, fx = layer.kernel
    p, s = layer.padding, layer.stride
    return (scalesim_ofmap(h + 2 * p, fy, s), scalesim_ofmap(w + 2 * p, fx, s)) == (
        layer.out_h, layer.out_w)


def dims(layer: Conv2d, df: str) -> tuple[int, int, int]:
    """(S_r, S_c, T) as both simulators map the layer (topology_utils.py
    ``calc_spatio_temporal_params``; bnnsim cost.py ``array_cycles``)."""
    px = layer.out_h * layer.out_w
    window = layer.in_shape[0] * layer.kernel[0] * layer.kernel[1]
    k = layer.out_channels
    return {"os": (px, k, window), "ws": (window, k, px), "is": (window, px, k)}[df]


def ss_formula(sr: int, sc: int, t: int, df: str, rows: int, cols: int) -> int:
    """SCALE-Sim's cycles as read from its source: full-array folds, minus one."""
    folds = math.ceil(sr / rows) * math.ceil(sc / cols)
    per_fold = t + rows + cols - 2 if df == "os" else 2 * rows + cols + t - 2
    return folds * per_fold - 1


# ---------------------------------------------------------------------------------------------
# SCALE-Sim


def write_inputs(network: str, df: str, rows: int, cols: int, workdir: Path) -> tuple[Path, ...]:
    """Config, topology and layout files for one SCALE-Sim run."""
    d = workdir / f"{network}-{df}"
    d.mkdir(parents=True, exist_ok=True)
    cfg, topo, layout = d / "scale.cfg", d / "topology.csv", d / "layout.csv"
    cfg.write_text(CONFIG.format(run_name=f"{network}_{df}", rows=rows, cols=cols,
                                 sram=SCALESIM_SRAM_KB, df=df))
    layers = conv_layers(network)
    topo.write_text("\n".join([TOPO_HEADER] + [
        ", ".join(str(x) for x in topo_row(i, lay)) + "," for i, lay in enumerate(layers)])
        + "\n")
    layout.write_text("\n".join([LAYOUT_HEADER] + [
        f"{topo_row(i, lay)[0]},{LAYOUT_ROW}," for i, lay in enumerate(layers)]) + "\n")
    return d, cfg, topo, layout


def parse_compute_report(path: Path) -> list[dict[str, float]]:
    """COMPUTE_REPORT.csv rows: total, stall and compute cycles, utilisation, mapping eff."""
    rows = []
    with path.open() as f:
        reader = csv.reader(f, skipinitialspace=True)
        next(reader)
        for rec in reader:
            if not rec or not rec[0].strip():
                continue
            total, stall = int(float(rec[2])), int(float(rec[3]))
            rows.append({"total_cycles": total, "stall_cycles": stall,
                         "compute_cycles": total - stall, "overall_util_pct": float(rec[4]),
                         "mapping_eff_pct": float(rec[5]), "compute_util_pct": float(rec[6])})
    return rows


def run_scalesim(network: str, df: str, rows: int, cols: int, workdir: Path,
                 python: str) -> dict[str, Any]:
    """Run SCALE-Sim on one network and dataflow; its parsed per-layer results."""
    d, cfg, topo, layout = write_inputs(network, df, rows, cols, workdir)
    out, stats = d / "out", d / "stats.json"
    out.mkdir(exist_ok=True)
    log = d / "scalesim.log"
    t0 = time.perf_counter()
    with log.open("w") as f:
        proc = subprocess.run([python, "-c", RUNNER, str(cfg), str(topo), str(layout), str(out),
                               str(stats)], stdout=f, stderr=subprocess.STDOUT, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"SCALE-Sim failed on {network}/{df} (exit {proc.returncode}); "
                           f"see {log}")
    report = parse_compute_report(out / f"{network}_{df}" / "COMPUTE_REPORT.csv")
    run = json.loads(stats.read_text())
    layers = conv_layers(network)
    if len(report) != len(layers):
        raise RuntimeError(f"{network}/{df}: {len(report)} report rows for {len(layers)} layers")
    return {"key": run_key(network, df, rows, cols), "wall_s": round(wall, 1),
            "scalesim_wall_s": round(run["wall_s"], 1),
            "peak_rss_mib": round(run["peak_rss_mib"], 1),
            "topology": [topo_row(i, lay) for i, lay in enumerate(layers)],
            "layers": report}


def run_key(network: str, df: str, rows: int, cols: int) -> str:
    return f"{network}/{df}/{rows}x{cols}/sram{SCALESIM_SRAM_KB}kB/CALC"


def load_cache(path: Path) -> dict[str, Any]:
    if path.exists():
        data = json.loads(path.read_text())
        if data.get("version") == CACHE_VERSION:
            return dict(data.get("runs", {}))
    return {}


def scalesim_results(jobs: list[tuple[str, str]], rows: int, cols: int, workdir: Path,
                     cache_path: Path, python: str, rerun: bool,
                     parallel: int) -> dict[str, Any]:
    """SCALE-Sim results per key, from the cache or fresh runs (``parallel`` at once)."""
    cache = load_cache(cache_path)
    todo = []
    for net, df in jobs:
        key = run_key(net, df, rows, cols)
        hit = cache.get(key)
        fresh = hit is not None and hit["topology"] == [
            topo_row(i, lay) for i, lay in enumerate(conv_layers(net))]
        if rerun or not fresh:
            todo.append((net, df))
    if todo:
        print(f"running SCALE-Sim: {', '.join(f'{n}/{d}' for n, d in todo)} "
              f"({parallel} at once)", file=sys.stderr)
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            futs = {(n, d): pool.submit(run_scalesim, n, d, rows, cols, workdir, python)
                    for n, d in todo}
            for (n, d), fut in futs.items():
                res = fut.result()
                cache[res["key"]] = res
                print(f"  {n}/{d}: {res['wall_s']} s, peak {res['peak_rss_mib']:.0f} MiB",
                      file=sys.stderr)
                cache_path.parent.mkdir(parents=True, exist_ok=True)
                cache_path.write_text(json.dumps({"version": CACHE_VERSION, "runs": cache},
                                                 indent=1))
    return cache


# ---------------------------------------------------------------------------------------------
# bnnsim


def bnn_chip(df: str, fold_timing: str, rows: int, cols: int) -> Any:
    """An overlay chip whose buffers, ports and DRAM never limit the int8 array."""
    import simulator

    big = {"size_kib": BIG_KIB, "port_bits": BIG_PORT, "double_buffered": True}
    data = {
        "name": f"scalesim-compare-{df}-{fold_timing}",
        "clock_mhz": 1000,
        "pe_array": {"rows": rows, "cols": cols, "lane_bits": 8, "pe_type": "int8",
                     "fold_timing": fold_timing},
        "dataflow": DATAFLOWS[df],
        "buffers": {"input": big, "weight": big, "output": big},
        "dram": {"type": "hbm2", "channels": 64, "data_rate_mtps": 100_000, "latency_ns": 0},
        "ppu": {"lanes": 1 << 16},
        "int8_unit": {"macs_per_cycle": 0},
        "full_precision": "bit_serial",
        "accumulator_bits": 32,
        "tech": "45nm",
    }
    return simulator.chip_from_dict(data, file="scalesim-compare")


def bnn_cycles(layer: Conv2d, chip: Any) -> int:
    """bnnsim's array compute cycles for the whole layer as one int8 tile."""
    from simulator.overlay.mapping import price
    from simulator.overlay.problem import problem_for

    int8 = Conv2d(layer.name, layer.in_shape, layer.out_channels, layer.kernel, layer.stride,
                  layer.padding, layer.groups, weights=INT8, activations=INT8)
    p = problem_for(int8, chip)
    _, totals = price(p, chip, tk=p.K, tc=p.C, toy=p.OY, tox=p.OX)
    return int(totals.compute_cycles)


# ---------------------------------------------------------------------------------------------
# comparison


def compare(network: str, df: str, ss: dict[str, Any], rows: int, cols: int) -> dict[str, Any]:
    per_fold, pipelined = bnn_chip(df, "per_fold", rows, cols), bnn_chip(df, "pipelined", rows,
                                                                        cols)
    out = []
    for layer, rep in zip(conv_layers(network), ss["layers"], strict=True):
        sr, sc, t = dims(layer, df)
        b_pf, b_pl = bnn_cycles(layer, per_fold), bnn_cycles(layer, pipelined)
        s_c = int(rep["compute_cycles"])
        out.append({
            "layer": layer.name, "S_r": sr, "S_c": sc, "T": t,
            "folds": math.ceil(sr / rows) * math.ceil(sc / cols),
            "scalesim": s_c, "scalesim_stalls": int(rep["stall_cycles"]),
            "scalesim_mapping_eff_pct": round(rep["mapping_eff_pct"], 2),
            "ss_formula": ss_formula(sr, sc, t, df, rows, cols),
            "bnnsim_per_fold": b_pf, "difference": b_pf - s_c,
            "ratio": round(b_pf / s_c, 4), "bnnsim_pipelined": b_pl,
            "padded_ifmap_ok": padded_ifmap_matches(layer),
        })
    tot = {k: sum(r[k] for r in out) for k in ("scalesim", "ss_formula", "bnnsim_per_fold",
                                                "difference", "bnnsim_pipelined")}
    tot["ratio"] = round(tot["bnnsim_per_fold"] / tot["scalesim"], 4)
    return {"network": network, "dataflow": df, "layers": out, "totals": tot,
            "scalesim_run": {k: ss[k] for k in ("wall_s", "scalesim_wall_s", "peak_rss_mib")}}


def print_table(res: dict[str, Any]) -> None:
    print(f"\n{res['network']} — {res['dataflow']} (SCALE-Sim run {res['scalesim_run']['wall_s']}"
          f" s, peak {res['scalesim_run']['peak_rss_mib']:.0f} MiB)")
    head = (f"{'layer':26} {'Sr':>6} {'Sc':>6} {'T':>6} {'folds':>5} {'SCALE-Sim':>10} "
            f"{'ss_form':>10} {'bnn/fold':>10} {'diff':>5} {'ratio':>6} {'pipelined':>10}")
    print(head)
    print("-" * len(head))
    for r in res["layers"]:
        flag = "" if r["scalesim"] == r["ss_formula"] and r["difference"] == 1 else "  *"
        print(f"{r['layer'][:26]:26} {r['S_r']:>6} {r['S_c']:>6} {r['T']:>6} {r['folds']:>5} "
              f"{r['scalesim']:>10} {r['ss_formula']:>10} {r['bnnsim_per_fold']:>10} "
              f"{r['difference']:>5} {r['ratio']:>6.3f} {r['bnnsim_pipelined']:>10}{flag}")
    t = res["totals"]
    print(f"{'TOTAL':26} {'':>6} {'':>6} {'':>6} {'':>5} {t['scalesim']:>10} "
          f"{t['ss_formula']:>10} {t['bnnsim_per_fold']:>10} {t['difference']:>5} "
          f"{t['ratio']:>6.3f} {t['bnnsim_pipelined']:>10}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--networks", nargs="+", default=list(NETWORKS))
    ap.add_argument("--dataflows", nargs="+", choices=list(DATAFLOWS), default=list(DATAFLOWS))
    ap.add_argument("--array", type=int, default=32, help="array rows = cols (default 32)")
    ap.add_argument("--scalesim-python", default=os.environ.get("SCALESIM_PYTHON", "python3"),
                    help="interpreter with scalesim installed (env SCALESIM_PYTHON)")
    ap.add_argument("--workdir", type=Path,
                    default=Path(tempfile.gettempdir()) / "bnnsim-scalesim",
                    help="SCALE-Sim inputs, logs and reports")
    ap.add_argument("--cache", type=Path, default=None,
                    help="parsed SCALE-Sim results (default WORKDIR/cache.json)")
    ap.add_argument("--rerun", action="store_true", help="rerun SCALE-Sim despite the cache")
    ap.add_argument("--jobs", type=int, default=2,
                    help="SCALE-Sim runs at once (each needs GBs; default 2)")
    ap.add_argument("--json", type=Path, default=None, help="write all results here")
    args = ap.parse_args(argv)

    rows = cols = args.array
    cache = args.cache or args.workdir / "cache.json"
    jobs = [(n, d) for n in args.networks for d in args.dataflows]
    ss = scalesim_results(jobs, rows, cols, args.workdir, cache, args.scalesim_python,
                          args.rerun, max(1, args.jobs))
    results = [compare(n, d, ss[run_key(n, d, rows, cols)], rows, cols) for n, d in jobs]
    for res in results:
        print_table(res)
    print("\n* = SCALE-Sim differs from its closed form, or bnnsim per_fold from SCALE-Sim by "
          "other than one cycle\n")
    print(f"{'network':12} {'df':3} {'SCALE-Sim':>12} {'bnn per_fold':>12} {'ratio':>6} "
          f"{'bnn pipelined':>13}")
    for res in results:
        t = res["totals"]
        print(f"{res['network']:12} {res['dataflow']:3} {t['scalesim']:>12} "
              f"{t['bnnsim_per_fold']:>12} {t['ratio']:>6.3f} {t['bnnsim_pipelined']:>13}")
    if args.json:
        args.json.write_text(json.dumps({"array": [rows, cols], "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
