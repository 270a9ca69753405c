"""Scale a technology table to another CMOS node and supply voltage.

The equations are Stillmaker & Baas's fits to simulated circuits from 130 nm to 7 nm: [SB17]
A. Stillmaker, B. Baas, "Scaling equations for the accurate prediction of CMOS device
performance from 180nm to 7nm", Integration, the VLSI Journal 58 (2017) 74–81. For each node
``n`` the energy of an operation is a quadratic in the supply voltage,
``E_n(V) = a_n·V² + b_n·V + c_n`` (relative units), and area scales by a factor per pair of
nodes. The coefficients below are the paper's, as tabulated in Accelergy's ``hwcomponents``
(``scaling/techscaling.py``); between two nodes of the table, coefficients and factors are
interpolated linearly in the node's position in the table.

A table made at node ``n₀`` and voltage ``V₀`` moves to ``(n₁, V₁)`` by:

* every energy × ``E_n₁(V₁) / E_n₀(V₀)`` (DRAM energy is not in the table and does not
  scale: it belongs to the memory);
* every area × the area factor ``A[n₀ → n₁]``;
* leakage per mm² × the energy factor / the area factor (a device's leakage taken to scale
  as its switching energy, as ``hwcomponents`` does, over a device that shrinks).

The fits hold within each node's usual supply range; the voltage must be in [0.3, 1.5] V and
the node in [7, 130] nm (outside, a :class:`~workloads.errors.ConfigError`).
"""

from __future__ import annotations

import dataclasses

from simulator.tech import TechTable
from workloads.errors import ConfigError

__all__ = ["NODES_NM", "area_factor", "energy_factor", "scale_tech"]

#: Nodes of [SB17]'s tables (nm), largest first.
NODES_NM = (130.0, 90.0, 65.0, 45.0, 32.0, 20.0, 16.0, 14.0, 10.0, 7.0)

#: Area of the column node relative to the row node ([SB17]).
_AREA = (
    (1, 0.44, 0.23, 0.16, 0.072, 0.033, 0.03, 0.027, 0.016, 0.0092),
    (2.3, 1, 0.53, 0.35, 0.16, 0.075, 0.067, 0.061, 0.036, 0.021),
    (4.3, 1.9, 1, 0.66, 0.31, 0.14, 0.13, 0.12, 0.068, 0.039),
    (6.4, 2.8, 1.5, 1, 0.46, 0.21, 0.19, 0.17, 0.1, 0.059),
    (14, 6.1, 3.3, 2.2, 1, 0.46, 0.41, 0.38, 0.22, 0.13),
    (30, 13, 7.1, 4.7, 2.2, 1, 0.89, 0.82, 0.48, 0.28),
    (34, 15, 7.9, 5.3, 2.4, 1.1, 1, 0.91, 0.54, 0.31),
    (37, 16, 8.7, 5.8, 2.7, 1.2, 1.1, 1, 0.59, 0.34),
    (63, 28, 15, 9.8, 4.5, 2.1, 1.9, 1.7, 1, 0.58),
    (110, 48, 25, 17, 7.8, 3.6, 3.2, 2.9, 1.7, 1),
)

#: (a, b, c) of the energy fit a·V² + b·V + c per node ([SB17]).
_ENERGY = (
    (7.171, -6.709, 2.904), (4.762, -4.781, 2.092), (3.755, -4.398, 1.975),
    (1.103, -0.362, 0.2767), (0.9559, -0.7823, 0.471), (0.373, -0.1582, 0.04104),
    (0.2958, -0.1241, 0.03024), (0.2363, -0.09675, 0.02239), (0.2068, -0.09311, 0.02375),
    (0.1776, -0.09097, 0.02447),
)

VOLTAGE_RANGE = (0.3, 1.5)


def _position(node_nm: float, *, key: str) -> float:
    """The node's position in :data:`NODES_NM` (fractional between two of them)."""
    if not NODES_NM[-1] <= node_nm <= NODES_NM[0]:
        raise ConfigError(f"scaling covers {NODES_NM[-1]:g} to {NODES_NM[0]:g} nm "
                          "(Stillmaker & Baas, 2017)", key=key, value=node_nm, has_value=True)
    for i in range(len(NODES_NM) - 1):
        hi, lo = NODES_NM[i], NODES_NM[i + 1]
        if lo <= node_nm <= hi:
            return i + (hi - node_nm) / (hi - lo)
    return float(len(NODES_NM) - 1)  # pragma: no cover (the range check above)


def _lerp(values: tuple[float, ...], x: float) -> float:
    i = min(int(x), len(values) - 2)
    t = x - i
    return values[i] * (1 - t) + values[i + 1] * t


def _energy(node_nm: float, volts: float, *, key: str) -> float:
    if not VOLTAGE_RANGE[0] <= volts <= VOLTAGE_RANGE[1]:
        raise ConfigError(f"supply voltage must be in [{VOLTAGE_RANGE[0]:g}, "
                          f"{VOLTAGE_RANGE[1]:g}] V", key=key, value=volts, has_value=True)
    x = _position(node_nm, key=key)
    a, b, c = (_lerp(tuple(row[j] for row in _ENERGY), x) for j in range(3))
    return a * volts * volts + b * volts + c


def energy_factor(from_nm: float, from_v: float, to_nm: float, to_v: float) -> float:
    """Energy of an operation at ``(to_nm, to_v)`` over its energy at ``(from_nm, from_v)``."""
    return (_energy(to_nm, to_v, key="node.voltage_v")
            / _energy(from_nm, from_v, key="tech voltage_v"))


def area_factor(from_nm: float, to_nm: float) -> float:
    """Area at ``to_nm`` over area at ``from_nm`` (bilinear in the table's positions)."""
    x = _position(from_nm, key="tech node_nm")
    y = _position(to_nm, key="node.nm")
    i, j = min(int(x), len(NODES_NM) - 2), min(int(y), len(NODES_NM) - 2)
    tx, ty = x - i, y - j
    return ((_AREA[i][j] * (1 - ty) + _AREA[i][j + 1] * ty) * (1 - tx)
            + (_AREA[i + 1][j] * (1 - ty) + _AREA[i + 1][j + 1] * ty) * tx)


def scale_tech(table: TechTable, node_nm: float, voltage_v: float) -> TechTable:
    """``table`` (made at its ``node_nm`` and ``voltage_v``) moved to another node and supply
    voltage by [SB17]'s equations; its name says so (``45nm→28nm@0.8V``)."""
    if not table.node_nm or not table.voltage_v:
        raise ConfigError("the technology table names no node_nm and voltage_v to scale from",
                          file=table.source or table.name, key="node_nm")
    e = energy_factor(table.node_nm, table.voltage_v, node_nm, voltage_v)
    a = area_factor(table.node_nm, node_nm)
    entries = tuple(dataclasses.replace(
        x, energy_pj=None if x.energy_pj is None else x.energy_pj * e,
        area_um2=None if x.area_um2 is None else x.area_um2 * a) for x in table.entries)
    return dataclasses.replace(
        table, name=f"{table.name}→{node_nm:g}nm@{voltage_v:g}V", node_nm=node_nm,
        voltage_v=voltage_v, leakage_mw_per_mm2=table.leakage_mw_per_mm2 * e / a,
        entries=entries)
