"""Chip settings as a typed table of dotted key paths, validated the same way for every family.

A family declares its chip file as a :class:`Schema`: key path → :class:`Setting` (type, range
or allowed values, required or default). The schema flattens a file's nested mapping, rejects
unknown keys and sections, fills defaults and checks each value, so every family's errors name
the file, the key path, the value and what is allowed — and ``--set key.path=value`` (and an
explorer's search space) go through exactly the same checks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from workloads.errors import ConfigError
from workloads.files import is_printable_name, loads_yaml

__all__ = ["Schema", "Setting", "parse_override", "unflatten"]

SettingKind = Literal["int", "float", "bool", "str"]


@dataclass(frozen=True, slots=True)
class Setting:
    """One chip field: its type, its range (numbers) or allowed values (strings), and whether
    a file must give it (otherwise ``default`` applies; ``None``: left out)."""

    kind: SettingKind
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None
    required: bool = True
    default: Any = None
    allow_empty: bool = False  # a string that may be ""
    #: added after chip digests were recorded (studies, results): at its default the setting
    #: is left out of the digest, so a chip that does not use it keeps the digest it had
    later: bool = False

    @property
    def numeric(self) -> bool:
        return self.kind in ("int", "float")

    def check(self, path: str, value: Any, *, file: str | None) -> Any:
        """``value`` converted to the setting's type; a :class:`ConfigError` otherwise."""
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise ConfigError("must be true or false", file=file, key=path, value=value,
                                  has_value=True)
            return value
        if self.kind == "str":
            if not isinstance(value, str) or (not value and not self.allow_empty):
                raise ConfigError("must be a non-empty string", file=file, key=path, value=value,
                                  has_value=True)
            if not is_printable_name(value) or len(value) > 4096:
                raise ConfigError("must be printable text on one line (at most 4,096 "
                                  "characters)", file=file, key=path, value=value,
                                  has_value=True)
            if self.choices is not None and value not in self.choices:
                raise ConfigError(f"allowed: {', '.join(self.choices)}", file=file, key=path,
                                  value=value, has_value=True)
            return value
        low, high = self.low, self.high
        if isinstance(value, str) and value.isascii():  # YAML 1.1 reads 1e3 as a string
            with contextlib.suppress(ValueError):
                value = (float(value) if self.kind == "float" or not value.isdigit()
                         else int(value))
        span = f" in [{low}, {high}]" if low is not None and high is not None else ""
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"must be a number{span}", file=file, key=path,
                              value=value, has_value=True)
        if self.kind == "int":
            if isinstance(value, float) and not value.is_integer():
                raise ConfigError(f"must be an integer{span}", file=file, key=path,
                                  value=value, has_value=True)
            value = int(value)
        if (low is not None and not low <= value) or (high is not None and not value <= high):
            what = "an integer" if self.kind == "int" else "a number"
            raise ConfigError(f"must be {what}{span}", file=file, key=path,
                              value=value, has_value=True)
        return float(value) if self.kind == "float" else value


class Schema(Mapping[str, Setting]):
    """A family's chip settings by dotted key path (read-only mapping)."""

    def __init__(self, settings: Mapping[str, Setting], *,
                 retired: Mapping[str, str] | None = None) -> None:
        self._settings = dict(settings)
        self._retired = dict(retired or {})  # key path → what replaced it
        self._sections = {path.rsplit(".", i)[0] for path in self._settings
                          for i in range(1, path.count(".") + 1)}

    def __getitem__(self, key: str) -> Setting:
        return self._settings[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._settings)

    def __len__(self) -> int:
        return len(self._settings)

    def digest_items(self, raw: tuple[tuple[str, Any], ...]) -> tuple[tuple[str, Any], ...]:
        """The settings a spec's digest covers: all but :attr:`Setting.later` ones at their
        default."""
        def left_out(key: str, value: Any) -> bool:
            setting = self._settings.get(key)
            return setting is not None and setting.later and value == setting.default
        return tuple(x for x in raw if not left_out(*x))

    @property
    def sections(self) -> frozenset[str]:
        """Key paths that hold a mapping of further keys (``buffers``, ``buffers.input``…)."""
        return frozenset(self._sections)

    def flatten(self, data: Mapping[str, Any], *, file: str | None, prefix: str = ""
                ) -> dict[str, Any]:
        """``{'a': {'b': 1}}`` → ``{'a.b': 1}``, rejecting unknown keys and non-mapping
        sections."""
        out: dict[str, Any] = {}
        for key, value in data.items():
            if not isinstance(key, str):
                raise ConfigError("keys must be strings", file=file, key=f"{prefix}{key}")
            path = f"{prefix}{key}"
            if path in self._sections:
                if not isinstance(value, Mapping):
                    raise ConfigError("expected a mapping (a section of keys)", file=file,
                                      key=path, value=value, has_value=True)
                out.update(self.flatten(value, file=file, prefix=f"{path}."))
            elif path in self._settings:
                out[path] = value
            elif path in self._retired:
                raise ConfigError(f"no longer a setting: {self._retired[path]}", file=file,
                                  key=path)
            else:
                siblings = sorted({k[len(prefix):].split(".")[0]
                                   for k in (*self._settings, *self._sections)
                                   if k.startswith(prefix)})
                raise ConfigError(f"unknown key; allowed here: {', '.join(siblings)}", file=file,
                                  key=path)
        return out

    def validate(self, data: Any, *, file: str | None, what: str = "a chip file"
                 ) -> dict[str, Any]:
        """The checked, typed flat values of a file's mapping, defaults filled in."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"{what} must be a mapping of keys", file=file)
        flat = {path: s.default for path, s in self._settings.items()
                if not s.required and s.default is not None}
        flat.update(self.flatten(data, file=file))
        for path, setting in self._settings.items():
            if setting.required and path not in flat:
                raise ConfigError("missing required key", file=file, key=path)
        return {path: self._settings[path].check(path, value, file=file)
                for path, value in flat.items()}

    def check_keys(self, keys: Sequence[str], *, file: str | None = "--set") -> None:
        """Fail on a key path that is not a setting (with a hint for a bare leaf name)."""
        for key in keys:
            if key in self._retired:
                raise ConfigError(f"no longer a setting: {self._retired[key]}", file=file,
                                  key=key)
            if key not in self._settings:
                close = [k for k in self._settings if k.endswith("." + key.split(".")[-1])]
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                raise ConfigError(f"not a chip setting{hint}", file=file, key=key)

    def merge(self, raw: Mapping[str, Any], overrides: Sequence[str] | Mapping[str, Any]
              ) -> dict[str, Any]:
        """``raw`` (validated flat values) with ``overrides`` (``KEY=VALUE`` strings or a
        mapping) applied: the nested mapping to validate again."""
        pairs = dict(overrides.items() if isinstance(overrides, Mapping)
                     else map(parse_override, overrides))
        self.check_keys(list(pairs))
        return unflatten({**raw, **pairs})


def unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``{'a.b': 1}`` → ``{'a': {'b': 1}}``."""
    out: dict[str, Any] = {}
    for path, value in flat.items():
        node = out
        *parents, leaf = path.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


def parse_override(text: str) -> tuple[str, Any]:
    """``key.path=value`` → (path, YAML-typed value)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError("expected KEY=VALUE, e.g. pe_array.rows=32", key="--set", value=text,
                          has_value=True)
    return key.strip(), loads_yaml(raw, source="--set") if raw.strip() else raw
