"""One design point of a space: its chip, its quantisation, its metrics — or why it cannot run.

The same evaluation serves an Optuna trial, a full grid and a test's brute force, so they
can only differ in which points they visit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from explorer.space import AccuracyTable, Space
from workloads.errors import ConfigError, InfeasibleError

__all__ = ["QUANT", "Evaluation", "Evaluator", "dominates", "pareto_front"]

#: The name of the quantisation choice among a point's parameters.
QUANT = "quant"


@dataclass(frozen=True)
class Evaluation:
    """What a point gives. ``feasible`` is False when the chip cannot be built (a check
    across fields) or cannot run a layer (an :class:`~workloads.errors.InfeasibleError`: an
    accumulator too narrow, a tile that fits no buffer): ``reason`` says why, in the
    simulator's words, and ``metrics`` is empty. Any other error (a tech table without an
    entry, a network too big for the event engine) stops the study: it is not the design's."""

    point: dict[str, Any]
    feasible: bool
    reason: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    chip: dict[str, Any] = field(default_factory=dict)  # the chip's validated settings
    totals: dict[str, Any] = field(default_factory=dict)  # the simulator's network totals

    def violations(self, space: Space) -> list[float]:
        """One value per constraint, then one for feasibility: ≤ 0 satisfied (Optuna's
        ``constraints_func`` form)."""
        if not self.feasible:
            return [1.0] * (len(space.constraints) + 1)
        return [c.violation(self.metrics[c.metric]) for c in space.constraints] + [-1.0]

    def admissible(self, space: Space) -> bool:
        return all(v <= 0 for v in self.violations(space))


class Evaluator:
    """Evaluates points of ``space`` (the base chip and each quantisation's network loaded
    once). ``accuracy`` gives a quantisation's accuracy (%) — by default the space's table;
    a space that trains for it needs one (``explorer.accuracy.trained_accuracy``). It is asked
    only for feasible designs."""

    def __init__(self, space: Space, *, engine: str | None = None,
                 accuracy: Callable[[str], float] | None = None) -> None:
        from simulator import load_chip

        self.space = space
        self.engine = engine
        self.base = load_chip(space.chip)
        self._networks: dict[str, Any] = {}
        table = space.accuracy
        if accuracy is None and isinstance(table, AccuracyTable):
            values = dict(table.values)
            accuracy = values.get  # type: ignore[assignment]
        self.accuracy = accuracy

    def network(self, label: str, spec: Any = None) -> Any:
        """The network at quantisation ``label`` (``spec``: what ``load_network`` takes for
        it, the label itself by default)."""
        from workloads import load_network
        from workloads.quant import parse_quant

        if label not in self._networks:
            if isinstance(spec, Mapping):
                spec = parse_quant(spec)
            self._networks[label] = load_network(self.space.network,
                                                 (spec if spec is not None else label) or None)
        return self._networks[label]

    def __call__(self, point: Mapping[str, Any]) -> Evaluation:
        from simulator import apply_overrides, simulate

        point = dict(point)
        quant, spec = self.space.quant_of(point)
        overrides = {k: v for k, v in point.items()
                     if k != QUANT and not k.startswith(f"{QUANT}.")}
        try:  # the space checked each field: what fails here is a check across fields
            chip = apply_overrides(self.base, overrides) if overrides else self.base
        except ConfigError as err:
            return Evaluation(point, False, str(err))
        try:
            result = simulate(self.network(quant, spec), chip, engine=self.engine)
        except InfeasibleError as err:  # a layer this design cannot run; anything else stops
            return Evaluation(point, False, str(err))
        metrics = {
            "latency": result.latency_s,
            "energy": result.energy_pj * 1e-6,
            "area": result.area_mm2,
            "fps": result.frames_per_s,
            "edp": result.energy_pj * 1e-6 * result.latency_s,
            "luts": float(getattr(result.details, "luts", 0)),
            "bram18": float(getattr(result.details, "bram18", 0)),
        }
        if self.accuracy is not None:
            value = self.accuracy(quant)
            if value is not None:
                metrics["accuracy"] = float(value)
        return Evaluation(point, True, "", metrics, dict(getattr(chip, "raw", ())),
                          result.total_dict())


def dominates(a: Mapping[str, float], b: Mapping[str, float],
              objectives: tuple[tuple[str, str], ...]) -> bool:
    """Whether ``a`` is at least as good as ``b`` in every objective and better in one."""
    better = False
    for metric, direction in objectives:
        x, y = (a[metric], b[metric]) if direction == "min" else (b[metric], a[metric])
        if x > y:
            return False
        better = better or x < y
    return better


def pareto_front(items: list[tuple[Any, Mapping[str, float]]],
                 objectives: tuple[tuple[str, str], ...]) -> list[Any]:
    """The keys of ``items`` (key, metrics) no other item dominates, in their order."""
    return [key for key, m in items
            if not any(dominates(other, m, objectives) for _, other in items)]
