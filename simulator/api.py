"""The family-neutral entry points: load a chip of any family, override it, simulate on it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from simulator.families import DEFAULT_FAMILY, FAMILIES
from simulator.family import ChipSpec, Family
from simulator.result import Result
from simulator.tech import TechTable
from workloads.errors import ConfigError
from workloads.files import load_yaml
from workloads.network import Network

__all__ = ["apply_overrides", "builtin_chips", "get_family", "load_chip", "simulate"]


def get_family(name: str, *, file: str | None = None) -> Family:
    """The family called ``name``; an unknown one is a :class:`ConfigError` listing them."""
    try:
        return FAMILIES[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown accelerator family; allowed: {', '.join(FAMILIES)}",
                          file=file, key="family", value=name, has_value=True) from None


def builtin_chips() -> list[str]:
    """Names of the chips shipped with bnnsim, of every family."""
    return sorted(name for family in FAMILIES.values() for name in family.builtin_names())


def chip_from_dict(data: Any, *, file: str | Path | None = None) -> ChipSpec:
    """Validate a chip mapping (as read from YAML) with the family its ``family:`` key names
    (the overlay when there is none)."""
    src = str(file) if file is not None else None
    if not isinstance(data, Mapping):
        raise ConfigError("a chip file must be a mapping of keys", file=src)
    return get_family(data.get("family", DEFAULT_FAMILY), file=src).spec_from_dict(data,
                                                                                   file=src)


def load_chip(name_or_path: str | Path) -> ChipSpec:
    """A built-in chip by name, or a chip YAML file by path."""
    text = str(name_or_path)
    for family in FAMILIES.values():
        if text in family.builtin_names():
            return family.load_builtin(text)
    if not Path(text).exists():
        raise ConfigError(f"no such chip file or built-in chip; built-in: "
                          f"{', '.join(builtin_chips())}", key="--chip", value=text,
                          has_value=True)
    return chip_from_dict(load_yaml(text), file=text)


def apply_overrides(chip: ChipSpec, overrides: Sequence[str] | Mapping[str, Any]) -> ChipSpec:
    """A new chip with dotted-path overrides (``pe_array.rows=32``), validated like the file."""
    return get_family(chip.family).apply_overrides(chip, overrides)


def simulate(
    workload: Network,
    chip: ChipSpec | str | Path,
    *,
    engine: Any = None,
    tech: TechTable | None = None,
    trace: bool = False,
    batch: int = 1,
) -> Result:
    """Run ``batch`` frames of ``workload`` on ``chip`` (a spec, a built-in name or a YAML path)
    with its family's ``engine`` (a name, an engine instance, or ``None`` for the family's
    default). With ``trace=True`` an event engine records busy intervals per component.

    Raises :class:`~workloads.errors.InfeasibleError` when the chip cannot run a layer.
    """
    spec = load_chip(chip) if isinstance(chip, str | Path) else chip
    return get_family(spec.family).simulate(workload, spec, engine=engine, tech=tech,
                                            trace=trace, batch=batch)
