"""Search spaces: which chip fields, quantisations and objectives a study explores.

A space is a YAML file, validated as strictly as a chip file (unknown and duplicate keys,
values out of the chip schema's range, unknown objectives: one line naming the file and
key)::

    name: lfc-edge
    network: lfc                     # zoo name or network YAML
    chip: edge                       # the base chip: built-in name or chip YAML
    parameters:                      # chip fields by dotted path, as --set takes them
      pe_array.rows: {low: 4, high: 32, log: true}      # int fields: integers
      clock_mhz: {low: 100, high: 400, step: 100}       # float fields: reals (step optional)
      dataflow: {choices: [output_stationary, weight_stationary]}
    quant:                           # quantisations the study chooses between
      choices: [w1a1, w1a2, wta2, w2a2]
    objectives: {accuracy: max, energy: min, latency: min}
    constraints: {area: {max: 2.0}, accuracy: {min: 97.0}}
    accuracy:                        # measured accuracies (%), by quantisation
      table: {w1a1: 98.4, w1a2: 98.7, wta2: 98.8, w2a2: 98.9}

Metrics (objectives and constraints): ``accuracy`` (%), ``latency`` (s per frame),
``energy`` (µJ per frame), ``area`` (mm²), ``fps`` (frames/s), ``edp`` (µJ·s), and on
a dataflow chip ``luts`` and ``bram18`` (its resources).
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from workloads.errors import ConfigError, InfeasibleError
from workloads.files import check_keys, is_printable_name, load_yaml, read_regular

__all__ = ["METRICS", "AccuracyTable", "Constraint", "Parameter", "Space", "load_space",
           "parse_space"]

#: metric → (its unit, the direction a study usually wants)
METRICS: dict[str, tuple[str, str]] = {
    "accuracy": ("%", "max"),
    "latency": ("s", "min"),
    "energy": ("µJ", "min"),
    "area": ("mm²", "min"),
    "fps": ("frames/s", "max"),
    "edp": ("µJ·s", "min"),
    # a dataflow (FPGA) chip's resources; 0 on an overlay chip, which has area instead
    "luts": ("LUTs", "min"),
    "bram18": ("BRAM18", "min"),
}
DIRECTIONS = ("min", "max")
MAX_PARAMETERS = 64
MAX_CHOICES = 4096


@dataclass(frozen=True, slots=True)
class Parameter:
    """One chip field the study sets: an int or float range, or a list of choices."""

    path: str
    kind: str  # "int" | "float" | "choice"
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()

    def grid(self) -> list[Any]:
        """Every value a full grid takes: the choices, or the range by its step (ints: by 1
        unless a step is given)."""
        if self.kind == "choice":
            return list(self.choices)
        assert self.low is not None and self.high is not None
        if self.kind == "int":
            step = int(self.step or 1)
            return list(range(int(self.low), int(self.high) + 1, step))
        if self.step is None:
            raise ConfigError("a grid needs 'choices' or a 'step' for a float range",
                              key=f"parameters.{self.path}")
        n = self.count()
        digits = max(0, -math.floor(math.log10(self.step))) + 6
        return [min(round(self.low + i * self.step, digits), self.high) for i in range(n)]

    def count(self) -> int:
        """How many values :meth:`grid` has, without building it."""
        if self.kind == "choice":
            return len(self.choices)
        assert self.low is not None and self.high is not None
        if self.kind == "int":
            return (int(self.high) - int(self.low)) // int(self.step or 1) + 1
        if self.step is None:
            raise ConfigError("a grid needs 'choices' or a 'step' for a float range",
                              key=f"parameters.{self.path}")
        return math.floor((self.high - self.low) / self.step + 1e-9) + 1


@dataclass(frozen=True, slots=True)
class Constraint:
    metric: str
    low: float | None = None  # the metric must be ≥ low
    high: float | None = None  # … and ≤ high

    def violation(self, value: float) -> float:
        """How far ``value`` is outside the bounds, relative to them (≤ 0: satisfied); the
        form Optuna's constraint-aware samplers take."""
        worst = -1.0
        if self.low is not None:
            worst = max(worst, (self.low - value) / max(abs(self.low), 1e-12))
        if self.high is not None:
            worst = max(worst, (value - self.high) / max(abs(self.high), 1e-12))
        return worst

    def describe(self) -> str:
        unit = METRICS[self.metric][0]
        parts = []
        if self.low is not None:
            parts.append(f"≥ {self.low:g} {unit}")
        if self.high is not None:
            parts.append(f"≤ {self.high:g} {unit}")
        return f"{self.metric} {' and '.join(parts)}"


@dataclass(frozen=True, slots=True)
class AccuracyTable:
    """Measured accuracies (%) by quantisation spec, for the space's network."""

    values: tuple[tuple[str, float], ...]
    source: str = ""

    def get(self, quant: str) -> float:
        return dict(self.values)[quant]


#: bump when the training recipe changes what a budget means (old results then retrain)
RECIPE = 1


@dataclass(frozen=True)
class TrainSpec:
    """How to train for an accuracy: the reference's recipe with this budget."""

    dataset: str
    epochs: int = 1
    batch_size: int = 100
    lr: float = 5e-3
    seed: int = 0
    max_steps: int | None = None

    def key(self, network: str, quant: str) -> str:
        payload = json.dumps({"network": network, "quant": quant, "recipe": RECIPE,
                              **asdict(self)}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:24]


def _train_spec(raw: Mapping[str, Any], *, network: str, file: str | None) -> TrainSpec:
    """The ``accuracy: {train: {...}}`` block, checked (the network must be a zoo model: the
    reference trains zoo models)."""
    from reference.data import DATASETS
    from workloads.zoo import zoo_names

    key = "accuracy.train"
    if not isinstance(raw, Mapping):
        raise ConfigError("expected {dataset:, epochs:, batch_size:, lr:, seed:, max_steps:}",
                          file=file, key=key)
    check_keys(raw, allowed=("dataset", "epochs", "batch_size", "lr", "seed", "max_steps"),
               required=("dataset",), file=file, prefix=f"{key}.")
    if network not in zoo_names():
        raise ConfigError(f"training needs a zoo network ({', '.join(zoo_names())}); for "
                          "another network give accuracy: {table: ...}", file=file,
                          key="network", value=network, has_value=True)
    if raw["dataset"] not in DATASETS:
        raise ConfigError(f"allowed: {', '.join(DATASETS)}", file=file, key=f"{key}.dataset",
                          value=raw["dataset"], has_value=True)

    def integer(name: str, default: Any, low: int, high: int) -> Any:
        value = raw.get(name, default)
        if value is None and name == "max_steps":
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(f"an integer in [{low}, {high}]", file=file,
                              key=f"{key}.{name}", value=value, has_value=True)
        return value

    lr = raw.get("lr", 5e-3)
    if isinstance(lr, bool) or not isinstance(lr, int | float) or not 0 < lr <= 1e3:
        raise ConfigError("a learning rate in (0, 1000]", file=file, key=f"{key}.lr", value=lr,
                          has_value=True)
    return TrainSpec(dataset=str(raw["dataset"]), epochs=integer("epochs", 1, 1, 100_000),
                     batch_size=integer("batch_size", 100, 1, 1 << 20), lr=float(lr),
                     seed=integer("seed", 0, 0, 2**32 - 1),
                     max_steps=integer("max_steps", None, 1, 1 << 40))


@dataclass(frozen=True)
class Space:
    name: str
    network: str
    chip: str
    parameters: tuple[Parameter, ...]
    quants: tuple[str, ...]  # the body's quantisation choices
    objectives: tuple[tuple[str, str], ...]  # (metric, "min" | "max")
    constraints: tuple[Constraint, ...] = ()
    accuracy: AccuracyTable | TrainSpec | None = None
    source: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)
    #: what the chip and the network are (their settings and layers), not where their files
    #: sit: a space moved to another folder or machine keeps its digest, an edited chip file
    #: changes it
    chip_digest: str = ""
    network_digest: str = ""
    #: per-layer quantisation choices: (layer name, its choices); the point's parameter is
    #: ``quant.<layer>``
    layer_quants: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: the contents of a chip's technology table when it is a file (a built-in table is
    #: known by its name)
    tech_digest: str = ""

    def quant_choices(self) -> list[tuple[str, tuple[str, ...]]]:
        """Every quantisation parameter of a point and its choices: ``quant`` (the body),
        then ``quant.<layer>`` for each layer with its own choices."""
        return [("quant", self.quants),
                *((f"quant.{layer}", choices) for layer, choices in self.layer_quants)]

    def quant_of(self, point: Mapping[str, Any]) -> tuple[str, str | dict[str, Any]]:
        """(a label, the spec ``load_network`` takes) of a point's quantisation: the body's
        compact spec, with ``layer=spec`` for each per-layer choice (``w1a1 fc1=w1a8``)."""
        body = str(point.get("quant", self.quants[0]))
        if not self.layer_quants:
            return body, body
        layers = {layer: str(point[f"quant.{layer}"]) for layer, _ in self.layer_quants}
        label = " ".join([body, *(f"{k}={v}" for k, v in layers.items())])
        return label, {"default": body, "layers": layers}

    def quant_labels(self) -> list[str]:
        """The label of every combination of quantisation choices."""
        names = [name for name, _ in self.quant_choices()]
        return [self.quant_of(dict(zip(names, values, strict=True)))[0]
                for values in itertools.product(*(c for _, c in self.quant_choices()))]

    @property
    def metrics(self) -> tuple[str, ...]:
        """Every metric a trial must report: the objectives', then the constraints'."""
        seen = dict.fromkeys(m for m, _ in self.objectives)
        seen.update(dict.fromkeys(c.metric for c in self.constraints))
        return tuple(seen)

    @cached_property
    def digest(self) -> str:
        """A hash of everything that defines the space (not its file name or comments): a
        study keeps it, and refuses a different space under the same name."""
        payload = json.dumps({
            "network": self.network_digest or self.network,
            "chip": self.chip_digest or self.chip,
            "parameters": [[p.path, p.kind, p.low, p.high, p.step, p.log, list(p.choices)]
                           for p in self.parameters],
            "quants": list(self.quants), "objectives": [list(o) for o in self.objectives],
            # (only when given: studies of spaces without them keep their digests)
            **({"layer_quants": [[n, list(c)] for n, c in self.layer_quants]}
               if self.layer_quants else {}),
            **({"tech": self.tech_digest} if self.tech_digest else {}),
            "constraints": [[c.metric, c.low, c.high] for c in self.constraints],
            "accuracy": (None if self.accuracy is None else
                         list(self.accuracy.values) if isinstance(self.accuracy, AccuracyTable)
                         else {"train": asdict(self.accuracy), "recipe": RECIPE}),
        }, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def grid_size(self) -> int:
        size = 1
        for _, choices in self.quant_choices():
            size *= len(choices)
        for p in self.parameters:
            size *= p.count()
        return size


def load_space(path: str | Path) -> Space:
    """A space from its YAML file (a :class:`ConfigError` naming the file and key on any
    problem)."""
    text = str(path)
    if not Path(text).exists():
        raise ConfigError("no such space file", key="--space", value=text, has_value=True)
    return parse_space(load_yaml(text), file=text)


def parse_space(data: Any, *, file: str | None = None) -> Space:
    """A validated :class:`Space` from a parsed YAML mapping."""
    from simulator import get_family, load_chip
    from workloads import load_network

    if not isinstance(data, Mapping):
        raise ConfigError("a space file is a mapping (name, network, chip, parameters, quant, "
                          "objectives, constraints, accuracy)", file=file)
    check_keys(data, allowed=("name", "network", "chip", "parameters", "quant", "objectives",
                              "constraints", "accuracy"),
               required=("network", "chip", "objectives"), file=file)
    name = _name(data.get("name", Path(file).stem if file else "study"), file)
    network = _string(data["network"], "network", file)
    chip_spec = _string(data["chip"], "chip", file)
    base = _resolve(chip_spec, file)
    try:
        chip = load_chip(base)
    except ConfigError as err:
        raise err.with_context(file=file, key="chip") from None
    schema = get_family(chip.family).schema
    parameters = _parameters(data.get("parameters") or {}, schema, file)
    _check_values_alone(chip, parameters, file)
    from workloads.quant import parse_quant

    quants, layer_quants = _quants(data.get("quant"), file)
    net_spec = _resolve(network, file)
    network_digests = []
    if layer_quants:
        try:
            names = {layer.name for layer in load_network(net_spec).layers}
        except ConfigError as err:
            raise err.with_context(file=file, key="network") from None
        except ValueError as err:  # e.g. a checkpoint
            raise ConfigError(f"{err}; a space takes a zoo name or a network YAML", file=file,
                              key="network", value=network, has_value=True) from None
        for q in quants:
            if q.endswith((".yaml", ".yml")) or Path(q).is_file():
                raise ConfigError("with per-layer choices, the body's choices are compact "
                                  "specs (w1a2, wta2, …), not files", file=file,
                                  key="quant.choices", value=q, has_value=True)
        for layer, choices in layer_quants:
            if names and layer not in names:
                raise ConfigError(f"no such layer in the network; layers: "
                                  f"{', '.join(sorted(names))}", file=file,
                                  key=f"quant.layers.{layer}")
            for choice in choices:  # each applies to its layer
                try:
                    load_network(net_spec, parse_quant({"default": quants[0] or "w1a1",
                                                        "layers": {layer: choice}}))
                except ConfigError as err:
                    raise ConfigError(err.message, file=file,
                                      key=f"quant.layers.{layer}.choices", value=choice,
                                      has_value=True) from None
    for q in quants:  # every quantisation applies to the network
        try:
            network_digests.append(load_network(net_spec, q or None).digest())
        except ConfigError as err:
            raise err.with_context(file=file, key="quant" if q else "network") from None
        except ValueError as err:  # e.g. a checkpoint: the explorer takes zoo names and YAML
            raise ConfigError(f"{err}; a space takes a zoo name or a network YAML", file=file,
                              key="network", value=network, has_value=True) from None
    objectives = _objectives(data["objectives"], file)
    constraints = _constraints(data.get("constraints") or {}, file)
    accuracy = _accuracy(data.get("accuracy"), network, file)
    needs = {m for m, _ in objectives} | {c.metric for c in constraints}
    # a metric the chip's family does not have would be 0 on every design
    absent = {"overlay": ("luts", "bram18"), "dataflow": ("area",)}.get(chip.family, ())
    for metric in sorted(needs & set(absent)):
        where = ("objectives" if metric in {m for m, _ in objectives}
                 else f"constraints.{metric}")
        article = "an" if chip.family[0] in "aeiou" else "a"
        raise ConfigError(f"{article} {chip.family} chip has no {metric} (it would be 0 on every "
                          "design); "
                          + ("use area" if chip.family == "overlay" else "use luts or bram18"),
                          file=file, key=where, value=metric, has_value=True)
    if "accuracy" in needs:
        if accuracy is None:
            raise ConfigError("the accuracy metric needs an accuracy source: accuracy: {table: "
                              "{quant: percent, ...}}, a CSV file, or {train: {dataset: ...}}",
                              file=file, key="accuracy")
        missing: list[str] = []
        if isinstance(accuracy, AccuracyTable):
            combos = len(quants)
            for _, choices in layer_quants:
                combos *= len(choices)
            if combos > MAX_CHOICES:
                raise ConfigError(f"an accuracy table cannot cover {combos:,} quantisation "
                                  f"combinations (at most {MAX_CHOICES:,}); train for them "
                                  "instead (accuracy: {train: ...})", file=file,
                                  key="accuracy.table")
            table = dict(accuracy.values)
            labels = Space(name, network, base, (), quants, (), layer_quants=layer_quants
                           ).quant_labels()
            missing = [q for q in labels if q not in table]
        if missing:
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5:,} more"
                                              if len(missing) > 5 else "")
            raise ConfigError(f"no accuracy for {shown} in the table", file=file,
                              key="accuracy.table")
    return Space(name=name, network=net_spec, chip=base, parameters=parameters, quants=quants,
                 objectives=objectives, constraints=constraints, accuracy=accuracy,
                 source=file or "", raw=dict(data), chip_digest=chip.digest(),
                 network_digest=hashlib.sha256("".join(network_digests).encode()
                                               ).hexdigest()[:16],
                 layer_quants=layer_quants, tech_digest=_tech_digest(chip, file))


# ------------------------------------------------------------------------------ parts
def _tech_digest(chip: Any, file: str | None) -> str:
    """A hash of the chip's technology table file ("" for a built-in table)."""
    from simulator import builtin_tech

    tech = getattr(chip, "tech", "")
    if not tech or tech in builtin_tech():
        return ""
    try:
        return hashlib.sha256(read_regular(tech)).hexdigest()[:16]
    except (ConfigError, OSError):
        return ""  # (the simulator reports a missing table, with its own line)


def _string(value: Any, key: str, file: str | None) -> str:
    if not isinstance(value, str) or not value.strip() or not is_printable_name(value):
        raise ConfigError("must be a non-empty string on one line", file=file, key=key,
                          value=value, has_value=True)
    return value.strip()


def _name(value: Any, file: str | None) -> str:
    text = _string(value, "name", file)
    if len(text) > 200:
        raise ConfigError("at most 200 characters", file=file, key="name")
    return text


def _resolve(spec: str, file: str | None) -> str:
    """A path relative to the space file when it names a file there; else as given."""
    if file is not None and spec.endswith((".yaml", ".yml", ".pt")):
        candidate = Path(file).parent / spec
        if candidate.exists():
            return str(candidate)
    return spec


def _number(value: Any, key: str, file: str | None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError("must be a finite number", file=file, key=key, value=value,
                          has_value=True)
    return float(value)


def _check_values_alone(chip: Any, parameters: tuple[Parameter, ...],
                        file: str | None) -> None:
    """A value no design can take — one the chip's checks refuse for the field itself, not
    for how it meets another field (a DRAM burst that is not a power of two; ``int8`` PEs
    with 64-bit lanes may still meet 8-bit lanes elsewhere in the space) — is an error at
    load, naming the key, instead of a study of infeasible trials. Each choice and each
    range's ends are tried on the space's chip."""
    from simulator import apply_overrides

    for prm in parameters:
        ends = [v for v in (prm.low, prm.high) if v is not None]
        values = list(prm.choices) if prm.kind == "choice" else [
            int(v) if prm.kind == "int" else v for v in ends]
        for value in values:
            try:
                apply_overrides(chip, {prm.path: value})
            except InfeasibleError:
                continue  # a layer the value cannot run belongs to the trial
            except ConfigError as err:
                if err.key == prm.path:
                    raise ConfigError(err.message, file=file,
                                      key=f"parameters.{prm.path}", value=value,
                                      has_value=True) from None


def _parameters(raw: Any, schema: Any, file: str | None) -> tuple[Parameter, ...]:
    if not isinstance(raw, Mapping):
        raise ConfigError("a mapping of chip field (dotted path) to a range or choices",
                          file=file, key="parameters")
    if len(raw) > MAX_PARAMETERS:
        raise ConfigError(f"at most {MAX_PARAMETERS} parameters", file=file, key="parameters")
    out = []
    for path, spec in raw.items():
        key = f"parameters.{path}"
        if path not in schema:
            raise ConfigError("not a field of the chip; see the chip files' keys in "
                              "docs/simulator.md", file=file, key=key)
        if path in ("name", "family", "description", "tech"):
            raise ConfigError("not a searchable field", file=file, key=key)
        setting = schema[path]
        if not isinstance(spec, Mapping):
            raise ConfigError("expected {low:, high:[, step:, log:]} or {choices: [...]}",
                              file=file, key=key)
        if "choices" in spec:
            check_keys(spec, allowed=("choices",), file=file, prefix=f"{key}.")
            choices = spec["choices"]
            if not isinstance(choices, list) or not choices or len(choices) > MAX_CHOICES:
                raise ConfigError(f"a non-empty list (at most {MAX_CHOICES})", file=file,
                                  key=f"{key}.choices")
            checked = tuple(setting.check(path, c, file=file) for c in choices)
            if len(set(map(repr, checked))) != len(checked):
                raise ConfigError("repeated choice", file=file, key=f"{key}.choices")
            out.append(Parameter(path, "choice", choices=checked))
            continue
        if not setting.numeric:
            raise ConfigError("a field that is not a number takes {choices: [...]}",
                              file=file, key=key)
        check_keys(spec, allowed=("low", "high", "step", "log"), required=("low", "high"),
                   file=file, prefix=f"{key}.")
        low = _number(spec["low"], f"{key}.low", file)
        high = _number(spec["high"], f"{key}.high", file)
        if setting.kind == "int" and not (low.is_integer() and high.is_integer()):
            raise ConfigError("an integer field takes integer bounds", file=file, key=key)
        setting.check(path, int(low) if setting.kind == "int" else low, file=file)
        setting.check(path, int(high) if setting.kind == "int" else high, file=file)
        if low >= high:
            raise ConfigError("low must be below high", file=file, key=key)
        step = None if spec.get("step") is None else _number(spec["step"], f"{key}.step", file)
        log = spec.get("log", False)
        if not isinstance(log, bool):
            raise ConfigError("must be true or false", file=file, key=f"{key}.log", value=log,
                              has_value=True)
        if step is not None and (step <= 0 or log or
                                 (setting.kind == "int" and not step.is_integer())):
            raise ConfigError("a positive step (an integer for an integer field), without "
                              "log", file=file, key=f"{key}.step", value=step, has_value=True)
        if log and low <= 0:
            raise ConfigError("a log range needs low > 0", file=file, key=key)
        out.append(Parameter(path, setting.kind, low, high, step, log))
    return tuple(out)


def _quants(raw: Any, file: str | None
            ) -> tuple[tuple[str, ...], tuple[tuple[str, tuple[str, ...]], ...]]:
    """(the body's choices, per-layer choices) of the ``quant`` block."""
    if raw is None:
        return ("",), ()  # the network's own (paper) setting
    if not isinstance(raw, Mapping):
        raise ConfigError("expected {choices: [w1a1, ...], layers: {name: {choices: [...]}}}",
                          file=file, key="quant")
    check_keys(raw, allowed=("choices", "layers"), required=("choices",), file=file,
               prefix="quant.")
    body = _specs(raw["choices"], "quant.choices", file)
    layers_raw = raw.get("layers") or {}
    if not isinstance(layers_raw, Mapping):
        raise ConfigError("a mapping of layer name to {choices: [...]}", file=file,
                          key="quant.layers")
    layers = []
    for name, spec in layers_raw.items():
        key = f"quant.layers.{name}"
        if not isinstance(spec, Mapping):
            raise ConfigError("expected {choices: [...]}", file=file, key=key)
        check_keys(spec, allowed=("choices",), required=("choices",), file=file,
                   prefix=f"{key}.")
        layers.append((str(name), _specs(spec["choices"], f"{key}.choices", file)))
    return body, tuple(layers)


def _specs(choices: Any, key: str, file: str | None) -> tuple[str, ...]:
    from workloads.quant import parse_quant

    if not isinstance(choices, list) or not choices or len(choices) > MAX_CHOICES:
        raise ConfigError("a non-empty list of quantisation specs", file=file, key=key)
    out = []
    for q in choices:
        if not isinstance(q, str):
            raise ConfigError("a compact spec such as w1a2", file=file, key=key, value=q,
                              has_value=True)
        try:
            parse_quant(q)
        except ConfigError as err:
            raise ConfigError(err.message, file=file, key=key, value=q,
                              has_value=True) from None
        out.append(q.strip() if q.strip().endswith((".yaml", ".yml")) else q.strip().lower())
    if len(set(out)) != len(out):
        raise ConfigError("repeated choice (specs are not case-sensitive)", file=file, key=key)
    return tuple(out)


def _objectives(raw: Any, file: str | None) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigError(f"a mapping of metric ({', '.join(METRICS)}) to min or max",
                          file=file, key="objectives")
    out = []
    for metric, direction in raw.items():
        if metric not in METRICS:
            raise ConfigError(f"unknown metric; allowed: {', '.join(METRICS)}", file=file,
                              key=f"objectives.{metric}")
        if direction not in DIRECTIONS:
            raise ConfigError("allowed: min, max", file=file, key=f"objectives.{metric}",
                              value=direction, has_value=True)
        out.append((str(metric), str(direction)))
    return tuple(out)


def _constraints(raw: Any, file: str | None) -> tuple[Constraint, ...]:
    if not isinstance(raw, Mapping):
        raise ConfigError("a mapping of metric to {min:, max:}", file=file, key="constraints")
    out = []
    for metric, spec in raw.items():
        key = f"constraints.{metric}"
        if metric not in METRICS:
            raise ConfigError(f"unknown metric; allowed: {', '.join(METRICS)}", file=file,
                              key=key)
        if not isinstance(spec, Mapping) or not spec:
            raise ConfigError("expected {min: value} and/or {max: value}", file=file, key=key)
        check_keys(spec, allowed=("min", "max"), file=file, prefix=f"{key}.")
        low = None if spec.get("min") is None else _number(spec["min"], f"{key}.min", file)
        high = None if spec.get("max") is None else _number(spec["max"], f"{key}.max", file)
        if low is not None and high is not None and low > high:
            raise ConfigError("min must not exceed max", file=file, key=key)
        out.append(Constraint(str(metric), low, high))
    return tuple(out)


def _accuracy(raw: Any, network: str, file: str | None) -> AccuracyTable | TrainSpec | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or len(raw) != 1:
        raise ConfigError("expected {table: {quant: percent}}, {table: file.csv} or "
                          "{train: {dataset: ..., epochs: ...}}", file=file, key="accuracy")
    check_keys(raw, allowed=("table", "train"), file=file, prefix="accuracy.")
    if "train" in raw:
        return _train_spec(raw["train"], network=network, file=file)
    table = raw["table"]
    source = file or ""
    if isinstance(table, str):
        path = Path(_resolve(table, file)) if table.endswith(".csv") else Path(table)
        if file is not None and not path.is_absolute() and not path.exists():
            path = Path(file).parent / table
        try:
            table, source = _read_csv(path), str(path)
        except ConfigError as err:
            raise err.with_context(file=file, key="accuracy.table") from None
    if not isinstance(table, Mapping) or not table:
        raise ConfigError("a non-empty mapping of quantisation spec to accuracy in %",
                          file=file, key="accuracy.table")
    values = []
    for q, acc in table.items():
        value = _number(acc, f"accuracy.table.{q}", file)
        if not 0.0 <= value <= 100.0:
            raise ConfigError("an accuracy in percent, 0 to 100", file=file,
                              key=f"accuracy.table.{q}", value=acc, has_value=True)
        values.append((_label_key(str(q)), value))
    return AccuracyTable(tuple(values), source)


def _label_key(label: str) -> str:
    """A table's label as :meth:`Space.quant_of` writes it: specs in lower case (layer names
    as they are), one space apart."""
    if not label.split():
        return ""
    body, *layers = label.split()
    parts = [body.lower()]
    for item in layers:
        name, _, spec = item.partition("=")
        parts.append(f"{name}={spec.lower()}")
    return " ".join(parts)


def _read_csv(path: Path) -> dict[str, float]:
    """``quant,accuracy`` rows (a header line first)."""
    if not path.exists():
        raise ConfigError("no such accuracy table", key="accuracy.table", value=str(path),
                          has_value=True)
    try:
        text = read_regular(path).decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8 text", file=path) from None
    rows = list(csv.reader(text.splitlines()))
    if not rows or [c.strip() for c in rows[0]] != ["quant", "accuracy"]:
        raise ConfigError("expected a header line 'quant,accuracy'", file=path)
    out: dict[str, float] = {}
    for i, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != 2:
            raise ConfigError(f"line {i}: expected two fields, quant and accuracy", file=path)
        try:
            out[row[0].strip()] = float(row[1])
        except ValueError:
            raise ConfigError(f"line {i}: the accuracy is not a number", file=path,
                              value=row[1], has_value=True) from None
    return out
