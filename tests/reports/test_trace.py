"""The Chrome/Perfetto trace, validated against the Trace Event Format (the fields each
phase requires, their types, microsecond timestamps) and against the result it comes from."""

from __future__ import annotations

import pytest
from report_helpers import validate

from reports.trace import chrome_trace


def test_trace_is_valid_and_complete(traced_doc):
    doc = chrome_trace(traced_doc)
    validate(doc)
    busy = [e for e in doc["traceEvents"] if e["ph"] == "X" and e["cat"] != "layer"]
    assert len(busy) == len(traced_doc["trace"])
    us = 1 / traced_doc["clock_mhz"]
    for e, t in zip(busy, traced_doc["trace"], strict=True):
        assert e["ts"] == pytest.approx(t["start"] * us)
        assert e["dur"] == pytest.approx((t["end"] - t["start"]) * us)
        assert e["name"] == t["label"].split(":")[0]
    layers = [e for e in doc["traceEvents"] if e.get("cat") == "layer"]
    assert {e["name"] for e in layers} <= {x["name"] for x in traced_doc["layers"]}
    threads = {e["args"]["name"] for e in doc["traceEvents"] if e["name"] == "thread_name"}
    assert {"layers", "DRAM", "PE array", "post-processing"} <= threads


def test_a_result_without_trace_gives_metadata_only(analytical_doc):
    doc = chrome_trace(analytical_doc)
    validate(doc)
    assert all(e["ph"] == "M" for e in doc["traceEvents"])


def test_each_dram_channel_is_a_track():
    from simulator import apply_overrides, load_chip, simulate
    from workloads import get_network

    chip = apply_overrides(load_chip("edge"), ["dram.channels=2"])
    doc = simulate(get_network("sfc"), chip, engine="event", trace=True).to_dict(
        include_trace=True)
    trace = chrome_trace(doc)
    validate(trace)
    threads = {e["args"]["name"] for e in trace["traceEvents"] if e["name"] == "thread_name"}
    assert {"dram ch0", "dram ch1"} <= threads and "DRAM" not in threads
    busy = [e for e in trace["traceEvents"] if e["ph"] == "X" and e["cat"] == "dram"]
    assert busy and all(not e["args"]["item"].startswith("ch") for e in busy)
