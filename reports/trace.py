"""The event engine's trace as a Chrome trace (the Trace Event Format that Perfetto's UI,
ui.perfetto.dev, and chrome://tracing open): one process for the chip, one thread per
component (DRAM — one per channel when it has several —, PE array, int8 unit,
post-processing) plus a ``layers`` track with each
layer's span; every busy interval a complete event (``ph: X``) named after its layer, so a
layer's events share a colour, with the stream or tile, and the cycles, in its ``args``.

Timestamps are microseconds (the format's unit) at the chip's clock; ``displayTimeUnit`` is
``ns`` so short intervals stay legible.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["COMPONENT_NAMES", "chrome_trace", "trace_track"]

#: component → the track's name, in display order
COMPONENT_NAMES = {"layers": "layers", "dram": "DRAM", "array": "PE array",
                   "int8_unit": "int8 unit", "ppu": "post-processing"}


def trace_track(interval: Mapping[str, Any],
                layers: Sequence[str] = ()) -> tuple[str, str, str]:
    """(track, layer, item) of one traced interval, whose label is ``layer:item``: the track
    is its component, or for a DRAM of several channels its channel (``dram ch1``); the item
    its stream or tile. ``layers`` (the result's layer names) resolve names that hold a
    ``:`` themselves — the longest one the label starts with wins."""
    label = str(interval["label"])
    layer = max((x for x in layers if label == x or label.startswith(x + ":")), key=len,
                default=None)
    if layer is None:
        layer, _, item = label.partition(":")
    else:
        item = label[len(layer) + 1:]
    track = str(interval["component"])
    if track == "dram":
        m = re.fullmatch(r"ch(\d+):(.*)", item)
        if m:
            track, item = f"dram ch{m.group(1)}", m.group(2)
    return track, layer, item


def chrome_trace(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The Chrome trace of a result document with a ``trace`` (``simulate --trace``); a
    result without one gives a trace of the layers' metadata only."""
    us_per_cycle = 1.0 / float(doc["clock_mhz"])
    pid = 1
    names = [str(x["name"]) for x in doc["layers"]]
    present = {trace_track(t, names)[0] for t in doc.get("trace") or ()}
    components = ["layers", *sorted(c for c in present if c.startswith("dram")),
                  *(c for c in COMPONENT_NAMES if c in present and not c.startswith("dram")),
                  *sorted(c for c in present if c not in COMPONENT_NAMES
                          and not c.startswith("dram"))]
    tid = {c: i for i, c in enumerate(components)}
    events: list[dict[str, Any]] = [
        {"ph": "M", "name": "process_name", "pid": pid, "tid": 0,
         "args": {"name": f"{doc['network']} {doc['quant']} on {doc['chip']} "
                          f"({doc['engine']} engine, {float(doc['clock_mhz']):g} MHz)"}},
    ]
    for c in components:
        events.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid[c],
                       "args": {"name": COMPONENT_NAMES.get(c, c)}})
        events.append({"ph": "M", "name": "thread_sort_index", "pid": pid, "tid": tid[c],
                       "args": {"sort_index": tid[c]}})
    spans: dict[str, list[int]] = {}
    for t in doc.get("trace") or ():
        track, layer, item = trace_track(t, names)
        start, end = int(t["start"]), int(t["end"])
        span = spans.setdefault(layer, [start, end])
        span[0], span[1] = min(span[0], start), max(span[1], end)
        events.append({"ph": "X", "name": layer, "cat": t["component"], "pid": pid,
                       "tid": tid[track], "ts": start * us_per_cycle,
                       "dur": (end - start) * us_per_cycle,
                       "args": {"item": item, "start_cycle": start, "end_cycle": end}})
    by_name = {x["name"]: x for x in doc["layers"]}
    for layer, (start, end) in spans.items():
        x = by_name.get(layer, {})
        events.append({"ph": "X", "name": layer, "cat": "layer", "pid": pid,
                       "tid": tid["layers"], "ts": start * us_per_cycle,
                       "dur": (end - start) * us_per_cycle,
                       "args": {k: x[k] for k in ("kind", "unit", "precision", "cycles",
                                                  "bound", "dram_bytes") if k in x}})
    return {"traceEvents": events, "displayTimeUnit": "ns",
            "otherData": {"bnnsim_version": str(doc.get("provenance", {}).get(
                "bnnsim_version", "")), "clock_mhz": float(doc["clock_mhz"]),
                "cycles_per_us": float(doc["clock_mhz"])}}
