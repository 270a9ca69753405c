"""Technology scaling by Stillmaker & Baas's equations (simulator/tech_scaling.py)."""

from __future__ import annotations

import pytest

from bnnsim.cli import main
from simulator import apply_overrides, load_chip, load_tech, simulate
from simulator.tech_scaling import area_factor, energy_factor, scale_tech
from workloads import get_network


def test_energy_factor_by_hand():
    # E_n(V) = a·V² + b·V + c. 45 nm at 0.9 V: 1.103·0.81 − 0.362·0.9 + 0.2767 = 0.844243;
    # 65 nm at 1.2 V: 3.755·1.44 − 4.398·1.2 + 1.975 = 2.1046 → 2.4929×.
    e45 = 1.103 * 0.81 - 0.362 * 0.9 + 0.2767
    e65 = 3.755 * 1.44 - 4.398 * 1.2 + 1.975
    assert energy_factor(45, 0.9, 65, 1.2) == pytest.approx(e65 / e45)
    assert energy_factor(45, 0.9, 45, 0.9) == 1.0
    # lower voltage, same node: cheaper
    assert energy_factor(45, 0.9, 45, 0.6) < 1.0
    # 28 nm lies a third of the way from 32 to 20 nm: coefficients interpolated there
    a = 0.9559 + (0.373 - 0.9559) / 3
    b = -0.7823 + (-0.1582 + 0.7823) / 3
    c = 0.471 + (0.04104 - 0.471) / 3
    assert energy_factor(45, 0.9, 28, 0.8) == pytest.approx((a * 0.64 + b * 0.8 + c) / e45)


def test_area_factor_by_hand():
    assert area_factor(45, 45) == 1.0
    assert area_factor(45, 65) == pytest.approx(1.5)
    assert area_factor(45, 28) == pytest.approx(0.46 + (0.21 - 0.46) / 3)
    assert area_factor(65, 45) == pytest.approx(0.66)


def test_a_scaled_table_scales_every_entry():
    base = load_tech("45nm")
    t = scale_tech(base, 28, 0.8)
    e, a = energy_factor(45, 0.9, 28, 0.8), area_factor(45, 28)
    assert t.name == "45nm→28nm@0.8V" and (t.node_nm, t.voltage_v) == (28, 0.8)
    for x, y in zip(base.entries, t.entries, strict=True):
        if x.energy_pj is not None:
            assert y.energy_pj == pytest.approx(x.energy_pj * e)
        if x.area_um2 is not None:
            assert y.area_um2 == pytest.approx(x.area_um2 * a)
    assert t.leakage_mw_per_mm2 == pytest.approx(base.leakage_mw_per_mm2 * e / a)


def test_a_chip_at_another_node():
    # every on-chip energy scales by the energy factor (leakage too: per mm² × e / a over an
    # area × a), the DRAM's does not, and the area by the area factor
    net = get_network("sfc")
    base = simulate(net, "edge")
    chip = apply_overrides(load_chip("edge"), ["node.nm=28", "node.voltage_v=0.8"])
    scaled = simulate(net, chip)
    e, a = energy_factor(45, 0.9, 28, 0.8), area_factor(45, 28)
    assert scaled.provenance["tech"] == "45nm→28nm@0.8V"
    assert scaled.area_mm2 == pytest.approx(base.area_mm2 * a)
    for part in ("compute", "input_buffer", "ppu", "leakage"):
        assert scaled.energy_breakdown_pj[part] == pytest.approx(
            base.energy_breakdown_pj[part] * e)
    assert scaled.energy_breakdown_pj["dram"] == pytest.approx(base.energy_breakdown_pj["dram"])


@pytest.mark.parametrize(("setting", "expect"), [("node.nm=3", "number in [7.0, 130.0]"),
                                                 ("node.voltage_v=2", "number in [0.3, 1.5]")])
def test_out_of_range_nodes_fail_in_one_line(capsys, setting, expect):
    assert main(["simulate", "--network", "sfc", "--set", setting]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and expect in err
