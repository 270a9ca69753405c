"""The error types, by kind of failure.

* :class:`ConfigError` — bad input: a file, key, flag or value a user supplied. ``str(err)`` is
  one line (file, key, value, what is allowed); the CLI prints it and exits with code 2.
* :class:`InfeasibleError` — a well-formed design that cannot run a workload (a layer whose
  smallest tile does not fit a buffer). It names the layer, the resource, what is needed and
  what is there, so a design-space search records the design as infeasible instead of failing
  — while a typo, a plain :class:`ConfigError`, still stops the search.
* API misuse (a wrong argument type or value from Python code) raises ``TypeError`` or
  ``ValueError``; internal bugs raise whatever they raise and are never dressed up as either.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["BnnsimError", "ConfigError", "InfeasibleError"]


class BnnsimError(Exception):
    """Base of the errors bnnsim reports to a user as one line (never a bug)."""


def _one_line(text: str) -> str:
    """Newlines inside a user's key or value must not break the one-line rule."""
    return " ".join(text.split("\n")) if "\n" in text else text


class ConfigError(BnnsimError):
    """A user-supplied file, flag or value is invalid.

    ``str(err)`` is a single line: ``file: key 'k': value v: what is allowed``.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        key: str | None = None,
        value: Any = None,
        has_value: bool = False,
    ) -> None:
        self.file = str(file) if file is not None else None
        self.key = key
        self.value = value
        self.has_value = has_value
        self.message = message
        parts = []
        if self.file:
            parts.append(self.file)
        if key:
            parts.append(f"key '{key}'")
        if has_value:
            parts.append(f"value {value!r}")
        parts.append(message)
        super().__init__(_one_line(": ".join(parts)))

    def with_context(self, *, file: str | Path | None = None, key: str | None = None
                     ) -> ConfigError:
        """The same error with a file (and a key, when it had none) filled in; an error that
        already names its file is returned unchanged."""
        if self.file:
            return self
        return type(self)._rebuild(self, file=file, key=self.key or key)

    def _rebuild(self, *, file: str | Path | None, key: str | None) -> ConfigError:
        return ConfigError(self.message, file=file, key=key, value=self.value,
                           has_value=self.has_value)


class InfeasibleError(ConfigError):
    """A design that cannot run a layer: ``resource`` (a chip key path) holds ``available``
    where the layer needs at least ``needed`` (both in ``unit``)."""

    def __init__(
        self,
        message: str,
        *,
        layer: str,
        resource: str,
        needed: float,
        available: float,
        unit: str,
        file: str | Path | None = None,
        value: Any = None,
        has_value: bool = False,
    ) -> None:
        self.layer = layer
        self.resource = resource
        self.needed = needed
        self.available = available
        self.unit = unit
        super().__init__(message, file=file, key=resource, value=value, has_value=has_value)

    def _rebuild(self, *, file: str | Path | None, key: str | None) -> ConfigError:
        return InfeasibleError(self.message, layer=self.layer, resource=self.resource,
                               needed=self.needed, available=self.available, unit=self.unit,
                               file=file, value=self.value, has_value=self.has_value)
