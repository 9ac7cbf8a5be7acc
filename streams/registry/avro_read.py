"""An Avro writer schema compiled once into one reader function per type, each taking the bytes and
a position and giving the value as our JSON path would carry it, and the next position.

Why not fastavro's ``schemaless_reader`` for every record: it dispatches on the schema's dicts for
every value and reads every byte of a number through ``BytesIO.read``; on a Segment-shaped record
that made it cost more than parsing the same event as JSON. Compiled per schema, the decisions are
taken once, and what the issue asks for is done on the way instead of in a second walk:

- enums → their symbol; ``timestamp-millis``/``-micros`` (and ``local-timestamp-*``) → ISO 8601 UTC
  (``…Z``); ``date`` and ``time-*`` → ISO; ``decimal`` → an int, or a float when it has a fraction;
  ``bytes`` and ``fixed`` → text; ``uuid`` → its text;
- floats JSON cannot carry (NaN, ±Infinity) → a marker (``marks`` counts them), which the caller
  takes out and reports, as the JSON path does;
- null fields of records are left out (Avro has no absent field); nulls in maps and arrays are kept,
  as they were written on purpose (like JSON's null: in traits it clears the attribute);
- a union → its value.

The schema itself is checked by fastavro first (:mod:`streams.registry.avro`); bytes that do not fit
it raise (IndexError, ValueError, UnicodeDecodeError, EOFError), which the caller turns into a dead
letter.
"""

from __future__ import annotations

import datetime as dt
import struct
import uuid
from collections.abc import Callable
from typing import Any

from streams.events.strict_json import _Unrepresentable

Marks = list[int]
Read = Callable[[bytes, int, Marks], tuple[Any, int]]
_MAX_BLOCK = 1_000_000  # items in one block of an array or map: more is not a Kafka record's
_DOUBLE = struct.Struct("<d")
_FLOAT = struct.Struct("<f")


def long_at(buf: bytes, pos: int) -> tuple[int, int]:
    """A zig-zag varint (Avro's int and long) at ``pos``: (value, position after it)."""
    byte = buf[pos]
    if byte < 0x80:
        return (byte >> 1) ^ -(byte & 1), pos + 1
    value, shift = byte & 0x7F, 7
    while True:
        pos += 1
        byte = buf[pos]
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return (value >> 1) ^ -(value & 1), pos + 1
        shift += 7
        if shift > 70:
            raise ValueError("varint longer than a long")


def raw_at(buf: bytes, pos: int) -> tuple[bytes, int]:
    size, pos = long_at(buf, pos)
    end = pos + size
    if size < 0 or end > len(buf):
        raise EOFError(f"{size} bytes announced, {len(buf) - pos} left")
    return buf[pos:end], end


def _null(buf: bytes, pos: int, marks: Marks) -> tuple[Any, int]:
    return None, pos


def _boolean(buf: bytes, pos: int, marks: Marks) -> tuple[Any, int]:
    byte = buf[pos]
    if byte > 1:
        raise ValueError(f"boolean byte {byte}")
    return byte == 1, pos + 1


def _long(buf: bytes, pos: int, marks: Marks) -> tuple[Any, int]:
    return long_at(buf, pos)


def _finite(value: float, marks: Marks) -> Any:
    if value - value == 0:  # NaN and the infinities are not
        return value
    marks.append(1)
    return _Unrepresentable("NaN" if value != value else "Infinity" if value > 0 else "-Infinity")


def _double(buf: bytes, pos: int, marks: Marks) -> tuple[Any, int]:
    return _finite(_DOUBLE.unpack_from(buf, pos)[0], marks), pos + 8


def _float(buf: bytes, pos: int, marks: Marks) -> tuple[Any, int]:
    return _finite(_FLOAT.unpack_from(buf, pos)[0], marks), pos + 4


def _string(buf: bytes, pos: int, marks: Marks) -> tuple[Any, int]:
    data, pos = raw_at(buf, pos)
    return data.decode(), pos


def _bytes(buf: bytes, pos: int, marks: Marks) -> tuple[Any, int]:
    data, pos = raw_at(buf, pos)
    return data.decode("utf-8", "replace"), pos


_PRIMITIVES: dict[str, Read] = {
    "null": _null, "boolean": _boolean, "int": _long, "long": _long,
    "float": _float, "double": _double, "bytes": _bytes, "string": _string,
}  # fmt: skip

_EPOCH = dt.datetime(1970, 1, 1)  # naive: no time zone arithmetic per value; the text says Z
_DAY_ONE = dt.date(1970, 1, 1)
_TD = dt.timedelta
# ISO text of whole seconds: the events of a stream crowd around now, so most are found here.
_SECONDS: dict[int, str] = {}
_SECONDS_KEPT = 4096


def _second(seconds: int) -> str:
    if len(_SECONDS) >= _SECONDS_KEPT:
        _SECONDS.clear()
    text = _SECONDS[seconds] = (_EPOCH + _TD(0, seconds)).isoformat()
    return text


def _millis(buf: bytes, pos: int, marks: Marks) -> tuple[Any, int]:
    value, pos = long_at(buf, pos)
    seconds, millis = divmod(value, 1000)
    text = _SECONDS.get(seconds) or _second(seconds)
    return (f"{text}.{millis:03d}000Z" if millis else text + "Z"), pos  # as isoformat() writes it


def _micros(buf: bytes, pos: int, marks: Marks) -> tuple[Any, int]:
    value, pos = long_at(buf, pos)
    seconds, micros = divmod(value, 1_000_000)
    text = _SECONDS.get(seconds) or _second(seconds)
    return (f"{text}.{micros:06d}Z" if micros else text + "Z"), pos


def _date(buf: bytes, pos: int, marks: Marks) -> tuple[Any, int]:
    value, pos = long_at(buf, pos)
    return (_DAY_ONE + _TD(value)).isoformat(), pos


def _time_millis(buf: bytes, pos: int, marks: Marks) -> tuple[Any, int]:
    value, pos = long_at(buf, pos)
    return (_EPOCH + _TD(0, 0, 0, value)).time().isoformat(), pos


def _time_micros(buf: bytes, pos: int, marks: Marks) -> tuple[Any, int]:
    value, pos = long_at(buf, pos)
    return (_EPOCH + _TD(0, 0, value)).time().isoformat(), pos


def _number(unscaled: int, unit: int) -> int | float:
    whole, fraction = divmod(unscaled, unit)
    return whole if fraction == 0 else unscaled / unit


def _decimal_bytes(scale: int) -> Read:
    unit = 10**scale

    def read(buf: bytes, pos: int, marks: Marks) -> tuple[Any, int]:
        data, pos = raw_at(buf, pos)
        return _number(int.from_bytes(data, "big", signed=True), unit), pos

    return read


# "<base type>-<logicalType>" → its reader (a logical type not here reads as its base type)
_LOGICAL: dict[str, Read] = {
    "long-timestamp-millis": _millis,
    "long-local-timestamp-millis": _millis,
    "long-timestamp-micros": _micros,
    "long-local-timestamp-micros": _micros,
    "int-date": _date,
    "int-time-millis": _time_millis,
    "long-time-micros": _time_micros,
}


def _fixed(size: int, logical: Any, scale: int) -> Read:
    unit = 10**scale

    def read(buf: bytes, pos: int, marks: Marks) -> tuple[Any, int]:
        end = pos + size
        if end > len(buf):
            raise EOFError(f"fixed of {size} bytes, {len(buf) - pos} left")
        data = buf[pos:end]
        if logical == "decimal":
            return _number(int.from_bytes(data, "big", signed=True), unit), end
        if logical == "uuid" and size == 16:
            return str(uuid.UUID(bytes=data)), end
        return data.decode("utf-8", "replace"), end

    return read


def _enum(symbols: tuple[str, ...]) -> Read:
    def read(buf: bytes, pos: int, marks: Marks) -> tuple[Any, int]:
        index, pos = long_at(buf, pos)
        if index < 0:
            raise IndexError(f"enum index {index}")
        return symbols[index], pos

    return read


def _blocks(buf: bytes, pos: int) -> tuple[int, int]:
    """The item count of the next block (0: the end), past its byte size when one is written."""
    count, pos = long_at(buf, pos)
    if count < 0:
        count = -count
        _, pos = long_at(buf, pos)
    if count > _MAX_BLOCK:
        raise ValueError(f"a block of {count} items")
    return count, pos


def _array(item: Read) -> Read:
    def read(buf: bytes, pos: int, marks: Marks) -> tuple[Any, int]:
        out: list[Any] = []
        count, pos = _blocks(buf, pos)
        while count:
            for _ in range(count):
                value, pos = item(buf, pos, marks)
                out.append(value)
            count, pos = _blocks(buf, pos)
        return out, pos

    return read


def _map(value_read: Read) -> Read:
    def read(buf: bytes, pos: int, marks: Marks) -> tuple[Any, int]:
        out: dict[str, Any] = {}
        count, pos = _blocks(buf, pos)
        while count:
            for _ in range(count):
                key, pos = raw_at(buf, pos)
                out[key.decode()], pos = value_read(buf, pos, marks)
            count, pos = _blocks(buf, pos)
        return out, pos

    return read


def _union(branches: list[Read]) -> Read:
    if len(branches) == 2 and branches[0] is _null:  # ["null", X]: the common case
        only = branches[1]

        def optional(buf: bytes, pos: int, marks: Marks) -> tuple[Any, int]:
            branch = buf[pos]  # the index as a varint: 0 → 0, 2 → 1
            if branch == 0:
                return None, pos + 1
            if branch == 2:
                return only(buf, pos + 1, marks)
            raise IndexError(f"union branch byte {branch} of 2")

        return optional
    count = len(branches)

    def read(buf: bytes, pos: int, marks: Marks) -> tuple[Any, int]:
        index, pos = long_at(buf, pos)
        if not 0 <= index < count:
            raise IndexError(f"union branch {index} of {count}")
        return branches[index](buf, pos, marks)

    return read


def _record(fields: list[tuple[str, Read]]) -> Read:
    """Fields in order; a null one is left out. Strings, optional strings and longs, most of a
    Segment-shaped record, are read here without a call each."""
    plan = [(name, read, _INLINE.get(read, 0)) for name, read in fields]

    def read(buf: bytes, pos: int, marks: Marks) -> tuple[Any, int]:
        out: dict[str, Any] = {}
        for name, field, inline in plan:
            if inline == _OPTIONAL_STRING:
                branch = buf[pos]
                pos += 1
                if branch == 0:
                    continue
                if branch != 2:
                    raise IndexError(f"union branch byte {branch} of 2")
                data, pos = raw_at(buf, pos)
                out[name] = data.decode()
            elif inline == _STRING:
                data, pos = raw_at(buf, pos)
                out[name] = data.decode()
            elif inline == _LONG:
                out[name], pos = long_at(buf, pos)
            else:
                value, pos = field(buf, pos, marks)
                if value is not None:
                    out[name] = value
        return out, pos

    return read


_STRING, _OPTIONAL_STRING, _LONG = 1, 2, 3
_OPTIONAL_STRING_READ = _union([_null, _string])
_INLINE: dict[Read, int] = {_string: _STRING, _OPTIONAL_STRING_READ: _OPTIONAL_STRING, _long: _LONG}


def _fullname(name: str, namespace: Any, enclosing: str) -> str:
    if "." in name:
        return name
    space = namespace if isinstance(namespace, str) else enclosing
    return f"{space}.{name}" if space else name


class Compiler:
    """Compile schemas in order (referenced ones first); named types are shared between them."""

    def __init__(self) -> None:
        self.named: dict[str, Read] = {}

    def compile(self, schema: Any, ns: str = "") -> Read:
        if isinstance(schema, list):
            branches = [self.compile(branch, ns) for branch in schema]
            if branches == [_null, _string]:
                return _OPTIONAL_STRING_READ
            return _union(branches)
        if isinstance(schema, str):
            if schema in _PRIMITIVES:
                return _PRIMITIVES[schema]
            for candidate in (_fullname(schema, None, ns), schema):
                if candidate in self.named:
                    return self.named[candidate]
            raise KeyError(f"unknown Avro type {schema!r}")
        if not isinstance(schema, dict):
            raise ValueError(f"not an Avro schema: {schema!r}")
        kind = schema.get("type")
        if isinstance(kind, str) and kind in _PRIMITIVES and "logicalType" in schema:
            logical = schema["logicalType"]
            if kind == "bytes" and logical == "decimal":
                return _decimal_bytes(int(schema.get("scale", 0)))
            return _LOGICAL.get(f"{kind}-{logical}") or _PRIMITIVES[kind]
        if kind in ("record", "error", "enum", "fixed"):
            return self._named(schema, ns)
        if kind == "array":
            return _array(self.compile(schema["items"], ns))
        if kind == "map":
            return _map(self.compile(schema["values"], ns))
        return self.compile(kind, ns)  # {"type": "string"}, {"type": {...}}

    def _named(self, schema: dict[str, Any], ns: str) -> Read:
        full = _fullname(schema["name"], schema.get("namespace"), ns)
        kind = schema["type"]
        if kind == "enum":
            read = self.named[full] = _enum(tuple(schema["symbols"]))
            return read
        if kind == "fixed":
            read = self.named[full] = _fixed(int(schema["size"]), schema.get("logicalType"),
                                            int(schema.get("scale", 0)))  # fmt: skip
            return read
        slot: list[Read] = []

        def late(buf: bytes, pos: int, marks: Marks) -> tuple[Any, int]:  # a field of its own type
            return slot[0](buf, pos, marks)

        self.named[full] = late
        inner = full.rpartition(".")[0]
        fields = [(str(f["name"]), self.compile(f["type"], inner)) for f in schema["fields"]]
        read = self.named[full] = _record(fields)
        slot.append(read)
        return read
