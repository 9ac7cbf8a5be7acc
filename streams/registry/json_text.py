"""Fields that hold JSON text (``traits``, ``properties``, ``context``, ``integrations``, as in our own
``raw_event.avsc``), parsed by the rules of :mod:`streams.events.strict_json`: NaN, Infinity and numbers
no double holds are left out and reported, nesting is bounded.

Most such texts are short and hold nothing strict_json would leave out, so they take a quick way
first: one JSON decoder built once (strict_json builds one per call, for its per-call hooks), whose
float and constant hooks only note that something unusual was seen. A text that is long enough to
hold a 309-digit number or deep nesting, that the quick way cannot read whole (surrounding
whitespace, bad JSON) or in which the hooks saw something is parsed again by strict_json itself, so
the result, and the error, are always strict_json's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from streams.errors import InvalidEventError
from streams.events import strict_json

JSON_TEXT_FIELDS = ("traits", "properties", "context", "integrations")
# Below this length a text holds no integer of 309 digits (the first that may not fit a double).
_SHORT = 309
_seen = [0]  # bumped by the hooks; only ever compared before and after one parse


def _constant(literal: str) -> Any:  # NaN, Infinity, -Infinity
    _seen[0] += 1
    return None


def _float(literal: str) -> Any:
    value = float(literal)
    if value - value != 0:  # NaN or an infinity (1e400)
        _seen[0] += 1
    return value


_DECODER = json.JSONDecoder(parse_float=_float, parse_constant=_constant)
_scan: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]


def loads(text: str, field: str, invalid: dict[str, str]) -> Any:
    """The JSON value of one field's text; numbers left out are added to ``invalid`` (path → literal)."""
    if len(text) < _SHORT and text.count("[") + text.count("{") < strict_json.MAX_DEPTH:
        before = _seen[0]
        try:
            value, end = _scan(text, 0)  # what JSONDecoder.decode calls, less its whitespace checks
        except (StopIteration, ValueError):  # not JSON, or whitespace first: strict_json says which
            end = -1
        if end == len(text) and _seen[0] == before:
            return value
    try:
        value, left_out = strict_json.loads(text, depth=1)
    except ValueError:
        raise InvalidEventError("unparseable", f"field {field!r} is not JSON text") from None
    invalid.update({f"{field}.{path}" if path else field: literal for path, literal in left_out.items()})
    return value


def parse_fields(
    record: dict[str, Any], invalid: dict[str, str], names: tuple[str, ...] = JSON_TEXT_FIELDS
) -> None:
    """Parse, in place, each of ``names`` that holds text."""
    for name in names:
        text = record.get(name)
        if isinstance(text, str):
            record[name] = loads(text, name, invalid)
