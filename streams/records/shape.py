"""Does a record fit its schema? Checks compiled once per schema from avro-python3's parsed schema.

fastavro writes without asking, and a few misfits it writes silently instead of refusing: a float in
an ``int`` field (truncated), an ``int`` beyond 32 bits (written as a long), a string where an array
belongs (written as its characters), an unknown field (dropped), a ``float`` beyond 32-bit range
(written as infinity). ``fits(schema)`` accepts what avro-python3's ``Validate`` accepts (the schema
library's own rule, missing fields counting as null) and its encoder can pack, with one exception:
a bool is not a number (avro-python3 takes ``True`` for an int 1; fastavro does too, except in a
union, where it refuses it).

Built once per schema, a closure per schema node: a check costs a call or two per field, not a walk
of the schema. ``misfit`` says where a record does not fit, for the error: the field's path and the
types, never the value.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Any

import avro.schema

Check = Callable[[Any], bool]

INT_MIN, INT_MAX = -(1 << 31), (1 << 31) - 1
LONG_MIN, LONG_MAX = -(1 << 63), (1 << 63) - 1
_FLOAT32 = struct.Struct("<f")


def _null(datum: Any) -> bool:
    return datum is None


def _boolean(datum: Any) -> bool:
    return isinstance(datum, bool)


def _string(datum: Any) -> bool:
    return isinstance(datum, str)


def _bytes(datum: Any) -> bool:
    return isinstance(datum, bytes)


def _number(datum: Any) -> bool:
    return isinstance(datum, int | float) and datum is not True and datum is not False


def _int(datum: Any) -> bool:
    return isinstance(datum, int) and datum is not True and datum is not False and INT_MIN <= datum <= INT_MAX


def _long(datum: Any) -> bool:
    return (
        isinstance(datum, int) and datum is not True and datum is not False and LONG_MIN <= datum <= LONG_MAX
    )


def _float(datum: Any) -> bool:
    if not _number(datum):
        return False
    try:
        _FLOAT32.pack(datum)
    except OverflowError:
        return False
    return True


_PRIMITIVES: dict[str, Check] = {
    "null": _null,
    "boolean": _boolean,
    "string": _string,
    "bytes": _bytes,
    "int": _int,
    "long": _long,
    "float": _float,
    "double": _number,
}


def fits(schema: avro.schema.Schema) -> Check:
    """The check of ``schema``: ``fits(schema)(record)`` is True when the record can be written."""
    return _build(schema, {})


def _build(schema: avro.schema.Schema, named: dict[str, Check]) -> Check:
    kind = schema.type
    if kind in _PRIMITIVES:
        return _PRIMITIVES[kind]
    if kind == "fixed":
        return _fixed(schema.size)
    if kind == "enum":
        return _enum(schema.symbols)
    if kind == "array":
        return _array(_build(schema.items, named))
    if kind == "map":
        return _map(_build(schema.values, named))
    if kind == "union":
        return _union([_build(branch, named) for branch in schema.schemas])
    if kind in ("record", "error"):
        return named[schema.fullname] if schema.fullname in named else _record(schema, named)
    raise ValueError(f"no check for Avro type {kind!r}")


def _fixed(size: int) -> Check:
    def check(datum: Any) -> bool:
        return isinstance(datum, bytes) and len(datum) == size

    return check


def _enum(symbols: Sequence[str]) -> Check:
    known = frozenset(symbols)

    def check(datum: Any) -> bool:
        return isinstance(datum, str) and datum in known

    return check


def _array(item: Check) -> Check:
    def check(datum: Any) -> bool:
        return isinstance(datum, list) and all(map(item, datum))

    return check


def _map(value: Check) -> Check:
    def check(datum: Any) -> bool:
        return (
            isinstance(datum, dict)
            and all(isinstance(key, str) for key in datum)
            and all(map(value, datum.values()))
        )

    return check


def _union(branches: list[Check]) -> Check:
    if len(branches) == 2 and branches[0] is _null:  # ["null", X]: every optional field
        other = branches[1]
        return lambda datum: datum is None or other(datum)
    return lambda datum: any(branch(datum) for branch in branches)


def _record(schema: avro.schema.RecordSchema, named: dict[str, Check]) -> Check:
    fields: list[tuple[str, Check]] = []
    names = frozenset(field.name for field in schema.fields)

    def check(datum: Any) -> bool:
        if not isinstance(datum, dict) or not names.issuperset(datum):
            return False
        get = datum.get
        for name, field_check in fields:  # noqa: SIM110  (a loop: no generator per record)
            if not field_check(get(name)):
                return False
        return True

    named[schema.fullname] = check  # before the fields: a record may contain itself
    fields.extend((field.name, _build(field.type, named)) for field in schema.fields)
    return check


def misfit(schema: avro.schema.Schema, datum: Any, path: str = "") -> str:
    """Where ``datum`` does not fit ``schema``: ``.operations[1].body: expected string, got int``."""
    where = path or "the record"
    if schema.type == "union":  # ["null", a record]: say where inside the record
        candidates = [branch for branch in schema.schemas if _container(branch, datum)]
        if len(candidates) == 1:
            return misfit(candidates[0], datum, path)
    if schema.type in ("record", "error") and isinstance(datum, dict):
        unknown = sorted(str(key) for key in set(datum) - {field.name for field in schema.fields})
        if unknown:
            return f"{where}: no field {unknown[0]!r} in {schema.name}"
        for field in schema.fields:
            if not fits(field.type)(datum.get(field.name)):
                return misfit(field.type, datum.get(field.name), f"{path}.{field.name}")
    if schema.type == "array" and isinstance(datum, list):
        for index, item in enumerate(datum):
            if not fits(schema.items)(item):
                return misfit(schema.items, item, f"{path}[{index}]")
    if schema.type == "map" and isinstance(datum, dict):
        for item in datum.values():
            if not fits(schema.values)(item):
                return misfit(schema.values, item, f"{path}[…]")
    got = "nothing" if datum is None else type(datum).__name__
    return f"{where}: expected {_describe(schema)}, got {got}"


def _container(schema: avro.schema.Schema, datum: Any) -> bool:
    if schema.type in ("record", "error", "map"):
        return isinstance(datum, dict)
    return schema.type == "array" and isinstance(datum, list)


def _describe(schema: avro.schema.Schema) -> str:
    if schema.type == "union":
        return " or ".join(_describe(branch) for branch in schema.schemas)
    if schema.type in ("int", "long", "float"):
        return f"{schema.type} (in range)"
    return str(getattr(schema, "name", None) or schema.type)
