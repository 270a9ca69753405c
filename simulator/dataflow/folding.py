"""Folding: each layer's PE, SIMD, input FIFO depth and weight memory — from a chip file,
from a FINN folding configuration, or chosen to meet a target frame rate with the least
resources.

Names: a layer is named by the network (``conv3``), by its index among the matrix layers
(``#2``), or as FINN names its units — ``MatrixVectorActivation_<i>``, ``MVAU_hls_<i>``,
``MVAU_rtl_<i>`` (the i-th matrix layer), ``VectorVectorActivation_<i>`` / ``VVAU_hls_<i>``
/ ``VVAU_rtl_<i>`` (the i-th depthwise layer), ``StreamingMaxPool_<i>`` / ``Pool_hls_<i>``
(the i-th pool) and ``AddStreams_<i>`` (the i-th residual add). A FINN file's ``Defaults``
entry, and FINN's other node types (FIFOs, width converters, window generators, whose
folding follows their unit's here) are read and left aside.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from simulator.dataflow.chip import DataflowChip, LayerFolding, parse_layer_foldings
from simulator.dataflow.pipeline import check_divides, divisors, mac_stage
from simulator.dataflow.resources import Resources
from workloads.errors import ConfigError
from workloads.files import check_regular
from workloads.layers import Conv2d, Layer, Pool
from workloads.network import Network

__all__ = ["FINN_IGNORED", "FoldChoice", "auto_fold", "budget_fold", "export_finn",
           "load_folding", "resolve", "set_folding", "target_cycles", "with_choices"]

#: FINN node types a folding file may configure that bnnsim reads and leaves aside.
FINN_IGNORED = ("StreamingFIFO", "StreamingDataWidthConverter", "ConvolutionInputGenerator",
                "Thresholding", "FMPadding", "LabelSelect", "DuplicateStreams",
                "StreamingDataflowPartition", "IODMA", "ChannelwiseOp", "GlobalAccPool")
MAX_FOLDING_BYTES = 4 << 20


def _is_depthwise(x: Conv2d) -> bool:
    return x.groups > 1 and x.groups == x.in_shape[0] == x.out_channels


#: FINN's unit names by kind of layer (older and newer spellings), each indexed in order.
_FINN_NAMES = {
    "dense": ("MVAU_hls", "MVAU_rtl", "MatrixVectorActivation", "MVAU"),
    "depthwise": ("VVAU_hls", "VVAU_rtl", "VectorVectorActivation", "VVAU"),
    "maxpool": ("StreamingMaxPool_hls", "StreamingMaxPool_Batch", "StreamingMaxPool"),
    "pool": ("Pool_hls", "Pool_Batch", "Pool"),
    "add": ("AddStreams_hls", "AddStreams"),
}


def _kind(layer: Layer) -> str:
    if isinstance(layer, Conv2d):
        return "depthwise" if _is_depthwise(layer) else "dense"
    if isinstance(layer, Pool):
        return "maxpool" if layer.mode == "max" else "pool"
    return "add"


def layer_names(net: Network) -> dict[str, str]:
    """Every name a layer of ``net`` answers to (its own, ``#i``, FINN's) → its name."""
    out = {x.name: x.name for x in net}
    macs: list[Layer] = [x for x in net if isinstance(x, Conv2d)]
    for i, x in enumerate(macs):
        out[f"#{i}"] = x.name
    for kind, prefixes in _FINN_NAMES.items():
        group = [x for x in net if _kind(x) == kind]
        for prefix in prefixes:
            for i, x in enumerate(group):
                out[f"{prefix}_{i}"] = x.name
    return out


def _finn_ignored(name: str) -> bool:
    return name == "Defaults" or any(name.startswith(p + "_") or name == p
                                     for p in FINN_IGNORED)


def resolve(net: Network, chip: DataflowChip) -> dict[str, tuple[int, int, int | None, str]]:
    """Each layer's (pe, simd, input FIFO depth, weight ram style) on ``chip``: its entries in
    the chip's folding (under any name it answers to, merged key by key in order: a later
    entry — a ``--set`` or a ``--folding`` file's — wins), else the chip's defaults: the
    largest divisor of the layer's dimension not above ``folding.pe`` / ``folding.simd`` (a
    pool or add: all its channels). A depth of ``None`` is left to the pipeline
    (:func:`simulator.dataflow.pipeline.build_pipeline`). A name no layer answers to, a PE
    or SIMD that does not divide the layer, or a SIMD on a pool or add is a one-line
    :class:`ConfigError` naming the file it came from."""
    names = layer_names(net)
    given: dict[str, dict[str, Any]] = {}
    where: dict[str, tuple[str, str]] = {}  # layer → (its last entry's key, file)
    for key, entry in chip.layers:
        if _finn_ignored(key):
            continue
        src = entry.source or chip.source or None
        if key not in names:
            shown = ", ".join(x.name for x in net)
            raise ConfigError(f"network '{net.name}' has no layer '{key}'; its layers: "
                              f"{shown} (or #<i> for the i-th matrix layer, or FINN's "
                              "MVAU_hls_<i>)", file=src, key=f"folding.layers.{key}")
        target = names[key]
        given.setdefault(target, {}).update(entry.items())
        where[target] = (key, src or "")
    out: dict[str, tuple[int, int, int | None, str]] = {}
    for layer in net:
        got = given.get(layer.name, {})
        key, src = where.get(layer.name, (layer.name, chip.source))
        pe_dim, simd_dim = _dims(layer)
        if isinstance(layer, Conv2d):
            for field, total in (("pe", pe_dim), ("simd", simd_dim)):
                if field in got:
                    try:
                        check_divides(layer.name, field, got[field], total, "")
                    except ConfigError as err:
                        raise err.with_context(file=src or None,
                                               key=f"folding.layers.{key}.{field}") from None
        else:
            if "simd" in got:
                raise ConfigError(f"layer '{layer.name}' is a {layer.kind.value}: it takes a "
                                  "pe (channels a cycle), not a simd", file=src or None,
                                  key=f"folding.layers.{key}.simd")
            if "pe" in got and pe_dim % got["pe"]:
                good = ", ".join(map(str, divisors(pe_dim)))
                raise ConfigError(f"pe {got['pe']} does not divide layer '{layer.name}''s "
                                  f"{pe_dim} channels; valid: {good}", file=src or None,
                                  key=f"folding.layers.{key}.pe")
        # a pool or add streams whole pixels (every channel at once) unless folded
        cap = chip.pe if isinstance(layer, Conv2d) else pe_dim
        pe = got.get("pe", _at_most(pe_dim, cap))
        simd = got.get("simd", _at_most(simd_dim, chip.simd))
        depth = got.get("fifo_depth")  # (None: the pipeline sizes it)
        out[layer.name] = (pe, simd, depth, got.get("ram_style", chip.ram_style))
    return out


def _dims(layer: Layer) -> tuple[int, int]:
    """(what PE divides, what SIMD divides) of a layer."""
    if isinstance(layer, Conv2d):
        kh, kw = layer.kernel
        if _is_depthwise(layer):
            return layer.out_channels, kh * kw
        return layer.out_channels_per_group, layer.in_channels_per_group * kh * kw
    return layer.in_shape[0], 1


def _at_most(n: int, cap: int) -> int:
    return max(d for d in divisors(n) if d <= cap)


# ----------------------------------------------------------------------------- files
def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ConfigError("is given twice", key=str(key))
        out[key] = value
    return out


def load_folding(path: str | Path) -> tuple[tuple[str, LayerFolding], ...]:
    """A folding file — FINN's JSON (``{"MVAU_hls_0": {"PE": 16, "SIMD": 3}, …}``) or
    bnnsim's YAML/JSON ``{layer: {pe, simd, fifo_depth, ram_style}}`` — as per-layer
    entries (checked against a network when it runs; each remembers the file). FINN's
    ``inFIFODepths`` set the layer's input FIFO depth, read as rows (FINN counts stream
    words)."""
    p = check_regular(path, limit=MAX_FOLDING_BYTES, what="folding file")
    text = p.read_text(encoding="utf-8", errors="replace")
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError:
        from workloads.files import loads_yaml

        data = loads_yaml(text, source=str(p))
    except RecursionError:
        raise ConfigError("is nested too deeply to be a folding file", file=str(p)) from None
    except ConfigError as err:
        raise err.with_context(file=str(p), key=err.key) from None
    if not isinstance(data, Mapping):
        raise ConfigError("a folding file is a mapping of layer (or FINN node) name to its "
                          "settings", file=str(p))
    entries: dict[str, Any] = {}
    for name, value in data.items():
        if not isinstance(value, Mapping):
            raise ConfigError("expected a mapping of settings", file=str(p), key=str(name),
                              value=value, has_value=True)
        if _finn_ignored(str(name)):
            continue
        entries[str(name)] = _from_finn(value, file=str(p), key=str(name))
    return parse_layer_foldings(entries, file=str(p))


_FINN_KEYS = {"PE": "pe", "SIMD": "simd", "ram_style": "ram_style"}
_FINN_LEFT = ("mem_mode", "resType", "runtime_writeable_weights", "outFIFODepths",
              "ram_style_thresholds", "parallel_window", "depth_trigger_uram",
              "depth_trigger_bram", "preferred_impl_style")


def _from_finn(value: Mapping[str, Any], *, file: str, key: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in value.items():
        k = str(k)
        if k in _FINN_KEYS:
            out[_FINN_KEYS[k]] = v
        elif k == "inFIFODepths":
            if (not isinstance(v, list) or not v or any(
                    isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in v)):
                raise ConfigError("expected a list of positive integer depths", file=file,
                                  key=f"{key}.inFIFODepths", value=v, has_value=True)
            out["fifo_depth"] = max(v)
        elif k in ("pe", "simd", "fifo_depth"):
            out[k] = v
        elif k not in _FINN_LEFT:
            raise ConfigError("unknown setting; bnnsim reads PE, SIMD, ram_style and "
                              f"inFIFODepths (and leaves {', '.join(_FINN_LEFT)} aside)",
                              file=file, key=f"{key}.{k}")
    return out


def export_finn(net: Network, folding: Mapping[str, tuple[int, int, int | None, str]]
                ) -> dict[str, Any]:
    """``folding`` as FINN's build flow writes it: ``Defaults`` and one entry per unit,
    named as FINN names them now (``MVAU_hls_<i>``, ``VVAU_hls_<i>``,
    ``StreamingMaxPool_hls_<i>``, ``Pool_hls_<i>``, ``AddStreams_hls_<i>``, each indexed
    among its kind)."""
    out: dict[str, Any] = {"Defaults": {}}
    prefix = {kind: names[0] for kind, names in _FINN_NAMES.items()}
    count: dict[str, int] = {}
    for layer in net:
        kind = _kind(layer)
        i = count.get(kind, 0)
        count[kind] = i + 1
        pe, simd, depth, ram = folding[layer.name]
        entry: dict[str, Any] = {"PE": pe}
        if isinstance(layer, Conv2d):
            entry["SIMD"] = simd
            entry["ram_style"] = ram
        if depth is not None:
            entry["inFIFODepths"] = [depth] * len(net.inputs_of(layer.name) or ("input",))
        out[f"{prefix[kind]}_{i}"] = entry
    return out


# ------------------------------------------------------------------------ automatic folding
@dataclass(frozen=True, slots=True)
class FoldChoice:
    """One layer's chosen folding, its cycles a frame and its resources."""

    pe: int
    simd: int
    cycles: int
    resources: Resources


def _cost(r: Resources, chip: DataflowChip) -> float:
    """Resources as the fraction of the device they take (LUTs and BRAM18s, URAMs)."""
    return (r.luts / chip.luts + (r.bram18 / chip.bram18 if chip.bram18 else r.bram18)
            + (r.uram / chip.uram if chip.uram else r.uram))


@lru_cache(maxsize=512)
def _options(layer: Conv2d, chip: DataflowChip, ram: str, last: bool) -> tuple[FoldChoice, ...]:
    """Every (PE, SIMD) of a matrix layer: PE through the divisors of MH, SIMD of MW."""
    pe_dim, simd_dim = _dims(layer)
    out = []
    for pe in divisors(pe_dim):
        for simd in divisors(simd_dim):
            st = mac_stage(layer, chip, pe=pe, simd=simd, inputs=(), rows_in=1, ram_style=ram,
                           last=last, key="fold")
            out.append(FoldChoice(pe, simd, st.cycles, st.resources))
    return tuple(out)


def auto_fold(net: Network, chip: DataflowChip, target_cycles: int
              ) -> dict[str, FoldChoice]:
    """Each matrix layer's cheapest (PE, SIMD) — least LUTs + memories as fractions of the
    device — whose cycles a frame (the window generator's included) are at most
    ``target_cycles``; a layer that cannot reach it takes its fastest folding. The cost is
    a sum over layers, so choosing each layer's cheapest is the cheapest whole."""
    last = net.mac_layers[-1].name
    out = {}
    for layer in net.mac_layers:
        opts = _options(layer, chip, chip.ram_style, layer.name == last)
        ok = [o for o in opts if o.cycles <= target_cycles]
        if ok:
            out[layer.name] = min(ok, key=lambda o: (_cost(o.resources, chip), -o.cycles,
                                                     o.pe, o.simd))
        else:
            out[layer.name] = min(opts, key=lambda o: (o.cycles, _cost(o.resources, chip)))
    return out


def set_folding(net: Network, chip: DataflowChip, target_cycles: int, *,
                mvau_wwidth_max: int = 36, two_pass: bool = True) -> dict[str, FoldChoice]:
    """FINN's greedy ``SetFolding`` as its source describes it, the baseline auto-folding is
    compared with: per matrix layer, SIMD rises through the divisors of MW until the unit's
    own cycles (FINN's ``get_exp_cycles``) are under the target or the weight stream
    (SIMD · W bits) would exceed ``mvau_wwidth_max``; then PE rises through the divisors of MH
    until they are. With ``two_pass``, when some stage misses the target, it runs again with
    the slowest stage's cycles as the target. (FINN folds a window generator on its own; here
    it follows its unit's SIMD, so a stage may stay slower than its unit.)"""
    last = net.mac_layers[-1].name

    def stage(layer: Conv2d, pe: int, simd: int) -> tuple[int, FoldChoice]:
        """(the unit's own cycles — what SetFolding compares, FINN's ``get_exp_cycles`` —
        and the choice with the whole stage's cycles and resources)."""
        st = mac_stage(layer, chip, pe=pe, simd=simd, inputs=(), rows_in=1,
                       ram_style=chip.ram_style, last=layer.name == last, key="fold")
        assert st.folded is not None
        return st.folded.cycles, FoldChoice(pe, simd, st.cycles, st.resources)

    def one(target: int) -> dict[str, FoldChoice]:
        out = {}
        for layer in net.mac_layers:
            pe_dim, simd_dim = _dims(layer)
            w_bits = 1 if layer.weights.kind == "bases" else layer.weights.storage_bits
            pe, simd = 1, 1
            for s in divisors(simd_dim):
                prev, simd = simd, s
                if stage(layer, pe, simd)[0] < target:
                    break
                if w_bits * simd > mvau_wwidth_max:
                    simd = prev
                    break
            for p in divisors(pe_dim):
                pe = p
                if stage(layer, pe, simd)[0] < target:
                    break
            out[layer.name] = stage(layer, pe, simd)[1]
        return out

    first = one(target_cycles)
    # FINN's second pass takes the slowest node's cycles (window generators included)
    slowest = max(c.cycles for c in first.values())
    if two_pass and slowest > target_cycles:
        return one(slowest)
    return first


def budget_fold(net: Network, chip: DataflowChip, budget_luts: int,
                pipeline: Callable[[Network, DataflowChip], Any]
                ) -> tuple[int, dict[str, FoldChoice]]:
    """(target cycles, folding) of the fastest automatic folding whose whole pipeline
    (``pipeline(net, chip)`` → (chip, stages, edges): window generators, pools and FIFOs
    included) needs at most ``budget_luts`` LUTs: a bisection over the distinct cycle counts
    of every layer's foldings (a looser target never needs more: each layer's choice only
    gets cheaper, and LUTs are most of a binary network's cost)."""
    from simulator.dataflow.resources import Resources, fifo_resources

    last = net.mac_layers[-1].name
    targets = sorted({o.cycles for layer in net.mac_layers
                      for o in _options(layer, chip, chip.ram_style, layer.name == last)})

    def luts(target: int) -> int:
        folded = with_choices(chip, auto_fold(net, chip, target))
        _, stages, edges = pipeline(net, folded)
        units = sum((s.resources for s in stages), Resources())
        return sum((fifo_resources(e) for e in edges), units).luts

    if luts(targets[-1]) > budget_luts:
        raise ConfigError(f"even the smallest folding needs {luts(targets[-1]):,} LUTs",
                          key="--budget-luts", value=budget_luts, has_value=True)
    lo, hi = 0, len(targets) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if luts(targets[mid]) <= budget_luts:
            hi = mid
        else:
            lo = mid + 1
    return targets[lo], auto_fold(net, chip, targets[lo])


def target_cycles(chip: DataflowChip, fps: float) -> int:
    """Cycles a frame may take at ``fps`` frames/s on ``chip``'s clock."""
    return max(1, math.floor(chip.clock_mhz * 1e6 / fps))


def with_choices(chip: DataflowChip, choices: Mapping[str, FoldChoice]) -> DataflowChip:
    """``chip`` with ``choices`` as its layers' PE and SIMD (their FIFO depths and memory
    styles, and the other layers' entries, kept)."""
    kept = dict(chip.layers)
    for name, c in choices.items():
        old = kept.get(name, LayerFolding())
        kept[name] = LayerFolding(c.pe, c.simd, old.fifo_depth, old.ram_style)
    return chip.with_layers(tuple(kept.items()))
