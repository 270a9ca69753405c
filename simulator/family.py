"""The family seam: what an accelerator family provides so that the CLI, the explorer and the
reports treat every family alike.

A family owns its chip-file schema (:class:`~simulator.settings.Schema`), turns a validated
file into a frozen spec, applies ``--set`` overrides through the same validation, ships its
built-in chips, and simulates a workload into the family-neutral
:class:`~simulator.result.Result`. The overlay PE-array accelerator (``simulator.overlay``) is
one family; a new family is a new package beside it plus one line in
``simulator/families.py`` — it never touches another family's files. Contract tests:
``simulator.testing.family.FamilyContract``.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from importlib.abc import Traversable
from pathlib import Path
from typing import Any, ClassVar, Protocol

from simulator.result import LayerResult, Result
from simulator.settings import Schema
from simulator.tech import TechTable
from workloads.errors import ConfigError
from workloads.files import loads_yaml
from workloads.layers import Conv2d, Layer
from workloads.network import Network

__all__ = ["MAX_BATCH", "ChipSpec", "Family", "check_batch", "precision_label", "spec_digest"]


class ChipSpec(Protocol):
    """What every family's chip spec offers (a frozen, validated dataclass)."""

    @property
    def name(self) -> str: ...

    @property
    def family(self) -> str: ...

    @property
    def clock_mhz(self) -> float: ...

    @property
    def source(self) -> str:
        """The file (or ``name + --set``) it came from."""

    @property
    def raw(self) -> tuple[tuple[str, Any], ...]:
        """The validated flat settings, sorted by key path (for --set, digests, the explorer)."""

    def digest(self) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...


def precision_label(layer: Layer) -> str:
    """A layer's ``LayerResult.precision``: ``w<W>a<A>`` (weights, input activations) for a
    MAC layer, ``a<A>`` for a pool or add."""
    if isinstance(layer, Conv2d):
        return f"w{layer.weights.label}a{layer.activations.label}"
    return f"a{layer.activations.label}"


def spec_digest(raw: tuple[tuple[str, Any], ...]) -> str:
    """A short hash of a spec's validated settings, for provenance (the family, recorded
    beside it, is left out: a file that gains ``family: overlay`` keeps its digest)."""
    return hashlib.sha256(repr(sorted(x for x in raw if x[0] != "family")).encode()
                          ).hexdigest()[:16]


class Family(ABC):
    """An accelerator family. Subclasses set :attr:`name`, :attr:`engines` and
    :attr:`schema` and implement :meth:`from_settings` and :meth:`simulate`."""

    #: The value of ``family:`` in a chip file.
    name: ClassVar[str]
    #: Timing engines by name; the first is the default.
    engines: ClassVar[tuple[str, ...]]
    #: The engines that record busy intervals (``simulate(..., trace=True)``).
    trace_engines: ClassVar[tuple[str, ...]] = ()
    #: The chip file's settings (``family`` among them).
    schema: ClassVar[Schema]

    # ------------------------------------------------------------------ specs
    @abstractmethod
    def from_settings(self, values: Mapping[str, Any], *, file: str | None) -> ChipSpec:
        """A spec from validated flat ``values`` (``schema.validate``'s output); checks across
        fields (a ConfigError naming the key) belong here."""

    def spec_from_dict(self, data: Any, *, file: str | Path | None = None) -> ChipSpec:
        """Validate a chip mapping (as read from YAML) into this family's spec."""
        src = str(file) if file is not None else None
        return self.from_settings(self.schema.validate(data, file=src), file=src)

    def apply_overrides(self, spec: ChipSpec, overrides: Sequence[str] | Mapping[str, Any]
                        ) -> ChipSpec:
        """A new spec with dotted-path overrides (``pe_array.rows=32`` strings or a mapping),
        validated exactly like the file."""
        data = self.schema.merge(dict(spec.raw), overrides)
        where = (spec.source if spec.source.endswith("--set")
                 else f"{spec.source} + --set" if spec.source else "--set")
        return self.spec_from_dict(data, file=where)

    def reuse_order(self, paths: Sequence[str]) -> list[str]:
        """``paths`` (chip settings a sweep varies) in the order to vary them, slowest first,
        so that consecutive chips share the most of what the family keeps between simulations
        (only an order: no result depends on it). Default: as given."""
        return list(paths)

    def builtin_dir(self) -> Traversable | None:
        """The folder of this family's built-in chip files (``<name>.yaml``), or None."""
        return None

    def builtin_names(self) -> list[str]:
        folder = self.builtin_dir()
        if folder is None:
            return []
        return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))

    def load_builtin(self, name: str) -> ChipSpec:
        folder = self.builtin_dir()
        if folder is None or name not in self.builtin_names():
            raise ValueError(f"no built-in {self.name} chip {name!r}; built-in: "
                             f"{', '.join(self.builtin_names()) or 'none'}")
        text = (folder / f"{name}.yaml").read_text(encoding="utf-8")
        return self.spec_from_dict(loads_yaml(text, source=name), file=name)

    @abstractmethod
    def describe(self, spec: ChipSpec) -> str:
        """A one-line summary of a chip for listings (``16x16 xnor x64b, 160 KiB SRAM``)."""

    def layer_columns(self, layer: LayerResult) -> dict[str, str]:
        """Family-specific columns of the terminal table for one layer (header → cell; cells
        that are all numbers are right-aligned)."""
        return {}

    def total_lines(self, result: Result) -> list[tuple[str, str]]:
        """Family-specific lines under the terminal table's totals (label, text)."""
        return []

    # ------------------------------------------------------------------ simulation
    @abstractmethod
    def simulate(self, workload: Network, spec: ChipSpec, *, engine: Any = None,
                 tech: TechTable | None = None, trace: bool = False, batch: int = 1) -> Result:
        """Run ``batch`` frames of ``workload`` on ``spec`` with ``engine`` (a name from
        :attr:`engines`, or a family engine instance; ``None``: the first). Raises
        :class:`~workloads.errors.InfeasibleError` when the chip cannot run a layer, and a
        :class:`~workloads.errors.ConfigError` for a batch the family cannot run."""


#: Most frames one run simulates.
MAX_BATCH = 4096


def check_batch(batch: Any) -> int:
    """``batch`` as a frame count, or a :class:`ConfigError` naming ``--batch``."""
    if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= MAX_BATCH:
        raise ConfigError(f"must be an integer in [1, {MAX_BATCH}]", key="--batch",
                          value=batch, has_value=True)
    return batch
