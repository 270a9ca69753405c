"""The event engine's trace as a Chrome trace (the Trace Event Format that Perfetto's UI,
ui.perfetto.dev, and chrome://tracing open): one process for the chip, one thread per
component (DRAM, PE array, int8 unit, post-processing) plus a ``layers`` track with each
layer's span; every busy interval a complete event (``ph: X``) named after its layer, so a
layer's events share a colour, with the stream or tile, and the cycles, in its ``args``.

Timestamps are microseconds (the format's unit) at the chip's clock; ``displayTimeUnit`` is
``ns`` so short intervals stay legible.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["COMPONENT_NAMES", "chrome_trace"]

#: component → the track's name, in display order
COMPONENT_NAMES = {"layers": "layers", "dram": "DRAM", "array": "PE array",
                   "int8_unit": "int8 unit", "ppu": "post-processing"}


def chrome_trace(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The Chrome trace of a result document with a ``trace`` (``simulate --trace``); a
    result without one gives a trace of the layers' metadata only."""
    us_per_cycle = 1.0 / float(doc["clock_mhz"])
    pid = 1
    components = list(COMPONENT_NAMES)
    for t in doc.get("trace") or ():
        if t["component"] not in components:
            components.append(str(t["component"]))
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
        layer, _, item = str(t["label"]).partition(":")
        start, end = int(t["start"]), int(t["end"])
        span = spans.setdefault(layer, [start, end])
        span[0], span[1] = min(span[0], start), max(span[1], end)
        events.append({"ph": "X", "name": layer, "cat": t["component"], "pid": pid,
                       "tid": tid[t["component"]], "ts": start * us_per_cycle,
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
