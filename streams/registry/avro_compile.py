"""An Avro writer schema compiled once into (a) a copy for fastavro in which every type we convert
ourselves is plain, and (b) a converter that touches only the values the schema says must change.

fastavro turns logical types into ``datetime``/``Decimal``/``UUID`` objects and enums into symbol
strings at a cost per value; reading them plain (an enum as its int index, a timestamp as its long,
a decimal as its bytes) and converting the plain value is cheaper, and so is not walking the parts of
a record that need nothing. What the converters do, on the way to the event our JSON path produces:

- enums → their symbol; ``timestamp-millis``/``-micros`` (and ``local-timestamp-*``) → ISO 8601 UTC
  (``…Z``), ``date`` and ``time-*`` → ISO; ``decimal`` → an int, or a float when it has a fraction;
  ``bytes`` and ``fixed`` → text; ``uuid`` → its text;
- floats JSON cannot carry (NaN, ±Infinity) → a marker, taken out and reported by the caller;
- null fields of records are left out (Avro has no absent field); nulls in maps and arrays are kept,
  as they were written on purpose (like JSON's null: in traits it clears the attribute);
- a union → its value.

A union whose branches fastavro's plain values cannot tell apart (``["long", a timestamp]``, two
records converted differently) raises :class:`Ambiguous`: the caller then takes the generic way.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from streams.events.strict_json import unrepresentable_float

Marks = list[int]
Convert = Callable[[Any, Marks], Any]
_NONE = type(None)
_PRIMITIVES: dict[str, type] = {"null": _NONE, "boolean": bool, "int": int, "long": int, "float": float,
                                "double": float, "bytes": bytes, "string": str}  # fmt: skip
_UNION = tuple  # the "kind" of a union (never a value fastavro returns here)


class Ambiguous(Exception):
    """A union's branches read as values of one Python type but need different conversions."""


def _finite(value: float, marks: Marks) -> Any:
    if value - value == 0:  # NaN and the infinities are not
        return value
    marks.append(1)
    return unrepresentable_float(value)


def _text(value: bytes, marks: Marks) -> str:
    return value.decode("utf-8", "replace")


_EPOCH = dt.datetime(1970, 1, 1)  # naive: no time zone arithmetic per value; the text says Z
_DAY_ONE = dt.date(1970, 1, 1)
_MIDNIGHT = dt.datetime(1970, 1, 1)
_TD = dt.timedelta


# ISO text of whole seconds: the events of a stream crowd around now, so most are found here.
_SECONDS: dict[int, str] = {}
_SECONDS_KEPT = 4096


def _second(seconds: int) -> str:
    if len(_SECONDS) >= _SECONDS_KEPT:
        _SECONDS.clear()
    text = _SECONDS[seconds] = (_EPOCH + _TD(0, seconds)).isoformat()
    return text


def _millis(value: int, marks: Marks) -> str:
    seconds, millis = divmod(value, 1000)
    text = _SECONDS.get(seconds) or _second(seconds)
    return f"{text}.{millis:03d}000Z" if millis else text + "Z"  # as datetime.isoformat() writes it


def _micros(value: int, marks: Marks) -> str:
    seconds, micros = divmod(value, 1_000_000)
    text = _SECONDS.get(seconds) or _second(seconds)
    return f"{text}.{micros:06d}Z" if micros else text + "Z"


def _date(value: int, marks: Marks) -> str:
    return (_DAY_ONE + _TD(value)).isoformat()


def _time_millis(value: int, marks: Marks) -> str:
    return (_MIDNIGHT + _TD(0, 0, 0, value)).time().isoformat()


def _time_micros(value: int, marks: Marks) -> str:
    return (_MIDNIGHT + _TD(0, 0, value)).time().isoformat()


def _uuid_bytes(value: bytes, marks: Marks) -> str:
    return str(uuid.UUID(bytes=value))


def _decimal(scale: int) -> Convert:
    unit = 10**scale

    def convert(value: bytes, marks: Marks) -> int | float:
        unscaled = int.from_bytes(value, "big", signed=True)
        whole, fraction = divmod(unscaled, unit)
        return whole if fraction == 0 else unscaled / unit

    return convert


# "<base type>-<logicalType>" → (the plain base type fastavro reads, its converter)
_LOGICAL: dict[str, tuple[str, Convert | None]] = {
    "long-timestamp-millis": ("long", _millis),
    "long-local-timestamp-millis": ("long", _millis),
    "long-timestamp-micros": ("long", _micros),
    "long-local-timestamp-micros": ("long", _micros),
    "int-date": ("int", _date),
    "int-time-millis": ("int", _time_millis),
    "long-time-micros": ("long", _time_micros),
    "string-uuid": ("string", None),
}


def _symbols(names: tuple[str, ...]) -> Convert:
    def convert(index: int, marks: Marks) -> str:
        if index < 0:
            raise IndexError(f"enum index {index}")
        return names[index]

    return convert


def _each(item: Convert) -> Convert:
    return lambda values, marks: [item(v, marks) for v in values]


def _values(value: Convert) -> Convert:
    return lambda entries, marks: {k: value(v, marks) for k, v in entries.items()}


def _record(conversions: list[tuple[str, Convert]], nullable: list[str]) -> Convert | None:
    if not conversions and not nullable:
        return None

    def convert(record: dict[str, Any], marks: Marks) -> dict[str, Any]:
        for name, field in conversions:
            record[name] = field(record[name], marks)
        for name in nullable:
            if record[name] is None:
                del record[name]
        return record

    return convert


def _union(table: dict[type, Convert | None]) -> Convert | None:
    converting = {kind: c for kind, c in table.items() if c is not None}
    if not converting:
        return None
    if len(converting) == 1 and len(table) == 2 and _NONE in table:  # ["null", X]: the common case
        (only,) = converting.values()
        return lambda value, marks: None if value is None else only(value, marks)

    def convert(value: Any, marks: Marks) -> Any:
        found = converting.get(type(value))
        return value if found is None else found(value, marks)

    return convert


def _late(slot: list[Convert | None]) -> Convert:
    """A recursive record's converter, read when first used (its fields are compiled after)."""

    def convert(value: Any, marks: Marks) -> Any:
        found = slot[0]
        return value if found is None else found(value, marks)

    return convert


@dataclass
class _Named:
    full: str
    kind: type
    convert: Convert | None
    plain: str | None = None  # what a reference reads as when the definition is not kept (enum → "int")


def _fullname(name: str, namespace: Any, enclosing: str) -> str:
    if "." in name:
        return name
    space = namespace if isinstance(namespace, str) else enclosing
    return f"{space}.{name}" if space else name


Compiled = tuple[Any, type, Convert | None]  # (schema for fastavro, kind of value it reads as, converter)


class Compiler:
    """Compile schemas in order (referenced ones first); named types are shared between them."""

    def __init__(self) -> None:
        self.named: dict[str, _Named] = {}

    def compile(self, schema: Any, ns: str = "") -> Compiled:
        if isinstance(schema, list):
            return self._union(schema, ns)
        if isinstance(schema, str):
            if schema in _PRIMITIVES:
                read_as = _PRIMITIVES[schema]
                return schema, read_as, _finite if read_as is float else _text if read_as is bytes else None
            named = self._lookup(schema, ns)
            return named.plain or named.full, named.kind, named.convert
        if not isinstance(schema, dict):
            raise ValueError(f"not an Avro schema: {schema!r}")
        kind = schema.get("type")
        if isinstance(kind, str) and kind in _PRIMITIVES and "logicalType" in schema:
            if kind == "bytes" and schema["logicalType"] == "decimal":
                return "bytes", bytes, _decimal(int(schema.get("scale", 0)))
            found = _LOGICAL.get(f"{kind}-{schema['logicalType']}")
            if found is None:  # a logical type fastavro ignores too: its base type
                return self.compile(kind, ns)
            plain, convert = found
            return plain, _PRIMITIVES[plain], convert
        if kind in ("record", "error"):
            return self._record(schema, ns)
        if kind == "enum":
            return self._enum(schema, ns)
        if kind == "fixed":
            return self._fixed(schema, ns)
        if kind == "array":
            items, _, item = self.compile(schema["items"], ns)
            return {"type": "array", "items": items}, list, _each(item) if item else None
        if kind == "map":
            values, _, value = self.compile(schema["values"], ns)
            return {"type": "map", "values": values}, dict, _values(value) if value else None
        return self.compile(kind, ns)  # {"type": "string"}, {"type": {...}}

    def _lookup(self, name: str, ns: str) -> _Named:
        for candidate in (_fullname(name, None, ns), name):
            if candidate in self.named:
                return self.named[candidate]
        raise KeyError(f"unknown Avro type {name!r}")

    def _union(self, branches: list[Any], ns: str) -> Compiled:
        plain: list[Any] = []
        table: dict[type, Convert | None] = {}
        for branch in branches:
            schema, kind, convert = self.compile(branch, ns)
            if kind in table and table[kind] is not convert:
                raise Ambiguous(f"union {branches!r}")
            plain.append(schema)
            table[kind] = convert
        return plain, _UNION, _union(table)

    def _record(self, schema: dict[str, Any], ns: str) -> Compiled:
        full = _fullname(schema["name"], schema.get("namespace"), ns)
        inner = full.rpartition(".")[0]
        slot: list[Convert | None] = [None]
        self.named[full] = _Named(full, dict, _late(slot))  # what the record's own fields see of it
        fields: list[dict[str, Any]] = []
        conversions: list[tuple[str, Convert]] = []
        nullable: list[str] = []
        for field in schema["fields"]:
            kind, _, convert = self.compile(field["type"], inner)
            fields.append({"name": field["name"], "type": kind})  # no defaults: we read, never resolve
            if convert is not None:
                conversions.append((field["name"], convert))
            if kind == "null" or (isinstance(kind, list) and "null" in kind):
                nullable.append(field["name"])
        slot[0] = convert = _record(conversions, nullable)
        self.named[full] = _Named(full, dict, convert)
        return {"type": "record", "name": full, "fields": fields}, dict, convert

    def _enum(self, schema: dict[str, Any], ns: str) -> Compiled:
        full = _fullname(schema["name"], schema.get("namespace"), ns)
        convert = _symbols(tuple(schema["symbols"]))
        self.named[full] = _Named(full, int, convert, "int")  # read as its index: an enum is written as one
        return "int", int, convert

    def _fixed(self, schema: dict[str, Any], ns: str) -> Compiled:
        full = _fullname(schema["name"], schema.get("namespace"), ns)
        logical = schema.get("logicalType")
        convert: Convert = _text
        if logical == "decimal":
            convert = _decimal(int(schema.get("scale", 0)))
        elif logical == "uuid" and schema.get("size") == 16:
            convert = _uuid_bytes
        self.named[full] = _Named(full, bytes, convert)
        return {"type": "fixed", "name": full, "size": schema["size"]}, bytes, convert
