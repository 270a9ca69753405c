"""Strict reading of user files (YAML) and the helpers every command writes outputs with.

Every package reads its files through :func:`load_yaml` so that duplicate keys, unknown
keys and bad values fail the same way: one :class:`~workloads.errors.ConfigError` line naming
the file, the key path, the value and what is allowed.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from workloads.errors import ConfigError

__all__ = [
    "check_keys",
    "check_output_path",
    "load_yaml",
    "loads_yaml",
    "write_json",
]


_SafeBase = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when available


class _StrictLoader(_SafeBase):  # type: ignore[valid-type,misc]
    """A safe loader that rejects duplicate mapping keys (PyYAML silently keeps the last)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    out: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, str | int | float | bool) and key is not None:
            line = key_node.start_mark.line + 1
            raise ConfigError(f"keys must be plain names, not {type(key).__name__} (line {line})")
        if key in out:
            line = key_node.start_mark.line + 1
            raise ConfigError(f"duplicate key (line {line})", key=str(key))
        out[key] = loader.construct_object(value_node, deep=deep)
    return out


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def loads_yaml(text: str, *, source: str = "<string>") -> Any:
    """Parse YAML text strictly (safe types only, no duplicate keys)."""
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except ConfigError as err:
        raise ConfigError(err.message, file=source, key=err.key) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"not valid YAML{where}: {problem}", file=source) from None


def load_yaml(path: str | Path) -> Any:
    """Read a YAML file strictly; a missing or unreadable file is a :class:`ConfigError`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", file=p) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read file ({err.__class__.__name__}: {err})", file=p) from None
    return loads_yaml(text, source=str(p))


def check_keys(
    data: Mapping[str, Any],
    *,
    allowed: Iterable[str],
    required: Iterable[str] = (),
    file: str | Path | None = None,
    prefix: str = "",
) -> None:
    """Reject unknown keys and report the first missing required key."""
    allowed_set = set(allowed)
    for key in data:
        if key not in allowed_set:
            raise ConfigError(
                f"unknown key; allowed keys here: {', '.join(sorted(allowed_set))}",
                file=file,
                key=f"{prefix}{key}",
            )
    for key in required:
        if key not in data:
            raise ConfigError("missing required key", file=file, key=f"{prefix}{key}")


def check_output_path(path: str | Path | None, *, flag: str) -> None:
    """Fail before any work when ``path`` cannot be an output file (``flag`` names the option).

    A directory, or a path whose parent directory does not exist or is not writable, is a
    :class:`ConfigError`; ``None`` and ``-`` (stdout) pass. A file that cannot be written for
    another reason still fails when it is written.
    """
    if path is None or str(path) == "-":
        return
    p = Path(path)
    if p.is_dir():
        raise ConfigError("is a directory; give a file name", key=flag, value=str(path),
                          has_value=True)
    parent = p.parent
    if not parent.is_dir():
        raise ConfigError(f"directory {str(parent)!r} does not exist", key=flag,
                          value=str(path), has_value=True)
    if not os.access(parent, os.W_OK):
        raise ConfigError(f"directory {str(parent)!r} is not writable", key=flag,
                          value=str(path), has_value=True)


def write_json(target: str | Path | None, payload: Any, *, flag: str = "--json") -> None:
    """Write ``payload`` as indented JSON to ``target`` (``-``: standard output; None: nothing).

    A file that cannot be written is a one-line :class:`ConfigError` naming ``flag``.
    """
    if target is None:
        return
    text = json.dumps(payload, indent=2) + "\n"
    if str(target) == "-":
        sys.stdout.write(text)
        return
    try:
        Path(target).write_text(text, encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot write ({err.strerror or err})", key=flag, value=str(target),
                          has_value=True) from None
