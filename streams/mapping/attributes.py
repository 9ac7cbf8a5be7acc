"""Turning free-form traits and properties into Intercom's flat attribute values.

Intercom has no nested objects and no arrays in custom attributes or event metadata, and stores
strings up to 255 characters. ``clean`` applies the policies for those and says what it changed
(``Report``s), so nothing is lost silently.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from streams.mapping.options import MAX_STRING, MappingOptions
from streams.mapping.plan import Report


def flatten(values: Mapping[str, Any], *, separator: str = "_", prefix: str = "") -> dict[str, Any]:
    """Nested objects become ``parent_child`` keys; arrays are kept as lists (see ``clean``)."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{separator}{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            flat.update(flatten(value, separator=separator, prefix=name))
        else:
            flat[name] = value
    return flat


def as_json_text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str, ensure_ascii=False)


def clean(
    values: Mapping[str, Any], options: MappingOptions, *, where: str, keep: Iterable[str] = ()
) -> tuple[dict[str, Any], list[Report]]:
    """Flatten with ``_``, apply the array and long-string policies; ``keep`` names values left as they
    are (money and rich links in metadata). ``where`` names the target in reports (e.g. ``contact``)."""
    kept = set(keep)
    out: dict[str, Any] = {}
    dropped: dict[str, Any] = {}
    truncated: dict[str, str] = {}
    for name, value in flatten({k: v for k, v in values.items() if k not in kept}).items():
        if isinstance(value, list | tuple):
            if options.array_policy == "drop":
                dropped[name] = value
                continue
            value = as_json_text(value)
        if isinstance(value, str) and len(value) > MAX_STRING:
            if options.long_string_policy == "drop":
                dropped[name] = value
                continue
            truncated[name] = value
            value = value[:MAX_STRING]
        out[name] = value
    for name in kept:
        if name in values:
            out[name] = values[name]
    reports = []
    if dropped:
        reports.append(
            Report(
                "values_dropped",
                f"{where}: dropped {', '.join(sorted(dropped))} (arrays or strings over {MAX_STRING} "
                "characters, per policy)",
                {"target": where, "values": _excerpts(dropped)},
            )
        )
    if truncated:
        reports.append(
            Report(
                "values_truncated",
                f"{where}: truncated {', '.join(sorted(truncated))} to {MAX_STRING} characters",
                {"target": where, "values": _excerpts(truncated)},
            )
        )
    return out, reports


# Reports name what was cut or dropped; the whole value stays in the event itself.
_REPORT_EXCERPT = 512


def _excerpts(values: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in values.items():
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        short = len(text) <= _REPORT_EXCERPT
        out[name] = value if short else f"{text[:_REPORT_EXCERPT]}… ({len(text)} characters)"
    return out


def without(values: Mapping[str, Any], reserved: Iterable[str]) -> dict[str, Any]:
    """Drop reserved keys (even falsy ones): they are mapped to standard fields, not attributes."""
    drop = set(reserved)
    return {k: v for k, v in values.items() if k not in drop}


def compact(body: Mapping[str, Any]) -> dict[str, Any]:
    """Remove absent values so a partial update never blanks a field by accident."""
    return {k: v for k, v in body.items() if v is not None and v != {}}
