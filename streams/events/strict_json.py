"""Producer JSON read so that whatever comes out can go to Intercom as strict JSON.

Python's ``json`` accepts more than RFC 8259: ``NaN``, ``Infinity`` and ``-Infinity``, and numbers no
double can hold (``1e400`` becomes ``inf``). Such values are left out and listed by path, so the rest
of the event can still be delivered and the loss reported. Nesting is bounded *before* parsing:
``json.loads`` recurses, and 3,000 levels raise ``RecursionError``.
"""

from __future__ import annotations

import json
import math
import re
import sys
from array import array
from itertools import accumulate
from typing import Any

from streams.errors import InvalidEventError

# Segment and RudderStack payloads nest 4-6 levels (context.device.*, properties.products[].*), and
# Intercom keeps no nesting at all (objects are flattened). 64 is ten times any real event, and keeps
# every recursive step after decoding (flattening, json.dumps, Avro) far below Python's 1,000 frames.
MAX_DEPTH = 64

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # read as signed bytes: +1 / -1
# An integer of 309 digits or more may exceed a double (10**308 < max double < 10**309). Found as a
# run of zeros once every digit reads as one: a plain substring search, far cheaper than a regex.
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_DIGIT_RUN = b"0" * 309
_EXCERPT = 40


def nesting_depth(text: bytes) -> int:
    """How deep arrays and objects nest in ``text`` (brackets inside strings do not count), without
    recursion: the running sum of +1 per opening and -1 per closing bracket, at its highest."""
    brackets = _NOT_BRACKET.sub(b"", _STRING.sub(b"", text))
    return max(accumulate(array("b", brackets.translate(_STEPS))), default=0)


class Unrepresentable:
    """Stands in for a number JSON cannot carry until the parse is over and it is removed
    (``remove_marked``); decoders of other formats (wire Avro) mark their NaN and infinities too."""

    def __init__(self, literal: str) -> None:
        self.literal = (
            literal if len(literal) <= _EXCERPT else f"{literal[:_EXCERPT]}… ({len(literal)} digits)"
        )


class _NumberHooks:
    """``json.loads`` hooks that mark the numbers JSON cannot carry instead of returning them."""

    def __init__(self) -> None:
        self.marked = 0

    def _mark(self, literal: str) -> Unrepresentable:
        self.marked += 1
        return Unrepresentable(literal)

    def constant(self, literal: str) -> Any:  # NaN, Infinity, -Infinity
        return self._mark(literal)

    def floating(self, literal: str) -> Any:
        value = float(literal)
        return value if math.isfinite(value) else self._mark(literal)

    def integer(self, literal: str) -> Any:
        try:
            value = int(literal)  # over 4,300 digits Python refuses (sys.int_info.str_digits_check_threshold)
            return value if abs(value) <= sys.float_info.max else self._mark(literal)
        except ValueError:
            return self._mark(literal)


def unrepresentable_float(value: float) -> Unrepresentable:
    """The marker of a float JSON cannot carry (NaN, an infinity), named as JSON would spell it."""
    return Unrepresentable("NaN" if value != value else "Infinity" if value > 0 else "-Infinity")


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def remove_marked(value: Any) -> dict[str, str]:
    """Take every marked number out of ``value`` (in place, iteratively): path → the literal."""
    removed: dict[str, str] = {}
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            for key in [key for key, child in node.items() if isinstance(child, Unrepresentable)]:
                removed[_join(path, key)] = node.pop(key).literal
            stack.extend(
                (child, _join(path, key)) for key, child in node.items() if isinstance(child, dict | list)
            )
        elif isinstance(node, list):
            for index, child in enumerate(node):
                if isinstance(child, Unrepresentable):
                    removed[f"{path}[{index}]"] = child.literal
                elif isinstance(child, dict | list):
                    stack.append((child, f"{path}[{index}]"))
            node[:] = [child for child in node if not isinstance(child, Unrepresentable)]
    return dict(sorted(removed.items()))


def loads(text: bytes | str, *, depth: int = 0) -> tuple[Any, dict[str, str]]:
    """The JSON value of ``text`` and the numbers left out of it (path → the literal as sent).

    ``depth`` is how deep ``text`` itself sits (an Avro field's JSON is one level down). Raises
    InvalidEventError(``too_deep``) past MAX_DEPTH, ValueError for text that is not JSON."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if depth + data.count(b"[") + data.count(b"{") > MAX_DEPTH:  # else it cannot nest too deep
        found = depth + nesting_depth(data)
        if found > MAX_DEPTH:
            raise InvalidEventError(
                "too_deep", f"record nests {found} levels deep, over the limit of {MAX_DEPTH}"
            )
    # The integer hook costs a call per integer: only when one may not fit a double.
    decoder = _WITH_INTS if _LONG_DIGIT_RUN in data.translate(_DIGITS_AS_ZERO) else _DECODER
    before = _HOOKS.marked
    try:
        value = decoder.decode(_text(text))
    except RecursionError:  # not expected below MAX_DEPTH; never let it escape as an internal error
        raise InvalidEventError("too_deep", f"record nests over the limit of {MAX_DEPTH} levels") from None
    if isinstance(value, Unrepresentable):
        raise ValueError(f"{value.literal} is not a JSON value")
    return value, remove_marked(value) if _HOOKS.marked != before else {}


def _text(text: bytes | str) -> str:
    """What ``json.loads`` does before decoding: bytes in UTF-8/16/32 to text, a text BOM refused."""
    if isinstance(text, str):
        if text.startswith("\ufeff"):
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        return text
    return text.decode(json.detect_encoding(text), "surrogatepass")


# Built once: ``json.loads`` with hooks builds a decoder per call, a large part of a short text's cost.
# One set of hooks serves every parse; its count, read before and after one (synchronous) parse, says
# whether that parse marked anything.
_HOOKS = _NumberHooks()
_DECODER = json.JSONDecoder(parse_constant=_HOOKS.constant, parse_float=_HOOKS.floating)
_WITH_INTS = json.JSONDecoder(
    parse_constant=_HOOKS.constant, parse_float=_HOOKS.floating, parse_int=_HOOKS.integer
)
