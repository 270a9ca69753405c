"""Key paths of a ``--json`` result document, for the golden schema test."""

from __future__ import annotations

from typing import Any

#: opaque objects: their keys are another schema's (the chip file's settings)
OPAQUE = ("inputs.chip",)


def key_paths(doc: Any, prefix: str = "") -> set[str]:
    """Every key path of a JSON document; list items collapse to ``[]``; the keys inside
    :data:`OPAQUE` objects are not followed."""
    out: set[str] = set()
    if prefix in OPAQUE:
        return out
    if isinstance(doc, dict):
        for k, v in doc.items():
            path = f"{prefix}.{k}" if prefix else k
            out.add(path)
            out |= key_paths(v, path)
    elif isinstance(doc, list):
        for item in doc:
            out |= key_paths(item, f"{prefix}[]")
    return out
