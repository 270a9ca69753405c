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

__all__ = ["ECHO_CHARS", "BnnsimError", "ConfigError", "InfeasibleError", "shorten"]


class BnnsimError(Exception):
    """Base of the errors bnnsim reports to a user as one line (never a bug)."""


#: Characters of a key or a value's repr an error message echoes (longer ones are shortened).
ECHO_CHARS = 80


def shorten(text: str, limit: int = ECHO_CHARS) -> str:
    """``text`` cut to ``limit`` characters (an ellipsis and the length mark the cut)."""
    return text if len(text) <= limit else f"{text[:limit - 20]}… ({len(text):,} chars)"


def _one_line(text: str) -> str:
    """Newlines inside a user's key or value must not break the one-line rule."""
    return " ".join(text.splitlines()) if "\n" in text or "\r" in text else text


def _repr(value: Any) -> str:
    try:
        text = repr(value)
    except ValueError:  # an int too long to print (sys.int_info.str_digits_check_threshold)
        text = f"<int of {value.bit_length():,} bits>" if isinstance(value, int) \
            else f"<{type(value).__name__}>"
    return shorten(text)


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
            parts.append(shorten(self.file, 4 * ECHO_CHARS))
        if key:
            parts.append(f"key '{shorten(str(key))}'")
        if has_value:
            parts.append(f"value {_repr(value)}")
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
