"""Every figure renders — from a small simulation and a small study — as a PNG and as an SVG
whose ids never clash with another figure's on the same page."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from reports import figures as F
from reports import tables as T

PNG = b"\x89PNG\r\n\x1a\n"


def _check(fig, salt):
    png, svg = F.render(fig, salt=salt)
    assert png.startswith(PNG) and len(png) > 5000
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    texts = "".join(root.itertext())
    return svg, texts


def _ids(svg):
    return set(re.findall(r'\bid="([^"]+)"', svg))


def test_design_figures_render(traced_doc):
    layers = [x["name"] for x in traced_doc["layers"]]
    figs = {
        "cycles": F.cycles_figure(T.cycles_table(traced_doc)),
        "energy": F.energy_figure(T.energy_table(traced_doc)),
        "roofline": F.roofline_figure(T.roofline_table(traced_doc), T.roofs(traced_doc)),
        "timeline": F.timeline_figure(T.timeline_table(traced_doc), layers=layers,
                                      clock_mhz=traced_doc["clock_mhz"]),
        "stages": F.stages_figure(T.layer_table(traced_doc), interval_cycles=1000),
        "compare": F.compare_figure(T.compare_table([traced_doc, traced_doc], ["a", "b"])),
    }
    seen: set[str] = set()
    labels = {"cycles": "cycles", "energy": "energy (µJ)", "roofline": "ops per DRAM byte",
              "timeline": "cycles (at", "stages": "initiation interval",
              "compare": "latency (ms)"}
    for name, fig in figs.items():
        svg, texts = _check(fig, name)
        assert labels[name] in texts, name  # axes labelled with units
        ids = _ids(svg)
        assert not ids & seen, f"{name} reuses ids {sorted(ids & seen)[:3]}"
        seen |= ids


def test_study_figures_render(records):
    trials = T.trials_table(records)
    for name, fig in {
        "pareto": F.pareto_figure(trials, records.objectives),
        "parallel": F.parallel_figure(trials, records.objectives),
        "hypervolume": F.hypervolume_figure(T.hypervolume_table(records)),
    }.items():
        _, texts = _check(fig, name)
        if name == "pareto":  # every pair of the three objectives, with units
            for label in ("accuracy (%)", "energy (µJ)", "latency (ms)"):
                assert label in texts
            front = trials[trials["pareto"]]
            for number in front["trial"]:
                assert str(number) in texts  # the front is labelled


@pytest.mark.parametrize("objectives", [(("energy", "min"), ("latency", "min")),
                                        (("accuracy", "max"),)])
def test_pareto_figure_for_fewer_objectives(records, objectives):
    _check(F.pareto_figure(T.trials_table(records), objectives), "p")
