"""Declarative field tables: an Intercom field, where to find it in the event, and how to convert it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from streams.events import TRAIT_SOURCES, SegmentEvent, is_present

Converter = Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Field:
    target: str
    paths: Sequence[str]
    convert: Converter = _same


def lookup(event: SegmentEvent | Mapping[str, Any], path: str) -> Any:
    """``"context.traits.email"`` → the value, or None. Paths start at the raw event (or a mapping)."""
    node: Any = event.raw if isinstance(event, SegmentEvent) else event
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def first(event: SegmentEvent | Mapping[str, Any], paths: Sequence[str]) -> Any:
    for path in paths:
        value = lookup(event, path)
        if is_present(value):
            return value
    return None


def apply_table(event: SegmentEvent | Mapping[str, Any], table: Sequence[Field]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for spec in table:
        value = first(event, spec.paths)
        if value is not None:
            converted = spec.convert(value)
            if converted is not None:
                body[spec.target] = converted
    return body


def traits_paths(*names: str) -> list[str]:
    """The paths of traits ``names`` for field tables: each name in ``TRAIT_SOURCES`` order (the
    precedence of ``SegmentEvent.trait``, which reads a trait outside tables)."""
    return [f"{source}.{name}" for name in names for source in TRAIT_SOURCES]


def as_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(int(value)) if float(value).is_integer() else str(value)
    return None


def as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


INTEGRATION_NAMES = ("Intercom", "intercom", "INTERCOM")


def intercom_paths(*names: str) -> list[str]:
    """Per-destination options: ``integrations.Intercom.<name>`` in any of the spellings peers accept."""
    return [f"integrations.{key}.{name}" for name in names for key in INTEGRATION_NAMES]


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError, OverflowError):  # OverflowError: "inf", "1e400"
        return None
