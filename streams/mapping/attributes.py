"""Turning free-form traits and properties into Intercom's flat attribute values."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any


def flatten(values: Mapping[str, Any], *, separator: str = "_", prefix: str = "") -> dict[str, Any]:
    """Nested objects become ``parent_child`` keys; arrays become JSON text (Intercom has no arrays)."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{separator}{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            flat.update(flatten(value, separator=separator, prefix=name))
        elif isinstance(value, list | tuple):
            flat[name] = json.dumps(value, separators=(",", ":"), default=str)
        else:
            flat[name] = value
    return flat


def without(values: Mapping[str, Any], reserved: Iterable[str]) -> dict[str, Any]:
    """Drop reserved keys (even falsy ones): they are mapped to standard fields, not attributes."""
    drop = set(reserved)
    return {k: v for k, v in values.items() if k not in drop}


def compact(body: Mapping[str, Any]) -> dict[str, Any]:
    """Remove absent values so a partial update never blanks a field by accident."""
    return {k: v for k, v in body.items() if v is not None and v != {}}
