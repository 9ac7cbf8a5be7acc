"""Per-schema decoders: the bytes after the wire header → a JSON-like dict. Pure functions of the
schema; the registry is asked once per id (see :mod:`streams.registry.wire`)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import io
import json
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import fastavro
from google.protobuf import (
    any_pb2,
    descriptor_pb2,
    descriptor_pool,
    duration_pb2,
    empty_pb2,
    field_mask_pb2,
    json_format,
    message_factory,
    struct_pb2,
    timestamp_pb2,
    wrappers_pb2,
)

from streams.errors import InvalidEventError
from streams.registry.client import RegisteredSchema

PayloadDecoder = Callable[[bytes], dict[str, Any]]
# Fields that hold JSON text in our own raw_event.avsc (and in schemas written like it).
JSON_TEXT_FIELDS = frozenset(("traits", "properties", "context", "integrations"))


def _plain(value: Any) -> Any:
    """Avro logical types → what the JSON path would carry: ISO times, numbers, strings."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _json_text_fields(record: dict[str, Any]) -> dict[str, Any]:
    for name in JSON_TEXT_FIELDS & record.keys():
        text = record[name]
        if isinstance(text, str):
            try:
                record[name] = json.loads(text)
            except ValueError:
                raise InvalidEventError("unparseable", f"field {name!r} is not JSON text") from None
    return record


def _needs_walk(schema: Any) -> bool:
    """Does any value of this schema decode to something the JSON path never carries (logical types,
    bytes), or hold nulls inside nested values? Top-level nulls are dropped without a walk."""
    if isinstance(schema, list):
        return any(_needs_walk(s) for s in schema)
    if isinstance(schema, dict):
        if "logicalType" in schema or schema.get("type") in ("bytes", "fixed"):
            return True
        if schema.get("type") in ("record", "map", "array"):
            nested = [f["type"] for f in schema.get("fields", [])] + [
                schema.get(k) for k in ("items", "values")
            ]
            return any(n is not None and (n == "null" or _needs_walk(n) or _nullable(n)) for n in nested)
        return _needs_walk(schema.get("type"))
    return schema in ("bytes", "fixed")


def _nullable(schema: Any) -> bool:
    return isinstance(schema, list) and "null" in schema


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_TIME_UNITS = {"timestamp-millis": 1_000, "timestamp-micros": 1_000_000}


def _iso(count: int | None, per_second: int) -> str | None:
    if count is None:
        return None
    moment = _EPOCH + dt.timedelta(microseconds=count * (1_000_000 // per_second))
    return moment.isoformat().replace("+00:00", "Z")


def _top_level_times(raw_schema: Any) -> tuple[Any, dict[str, int]]:
    """Top-level timestamp fields read as plain longs (converted by us: the common case stays off the
    generic walk). Returns the schema to parse and {field: units per second}."""
    if not isinstance(raw_schema, dict) or raw_schema.get("type") != "record":
        return raw_schema, {}
    times: dict[str, int] = {}
    fields = []
    for field in raw_schema.get("fields", []):
        kind = field.get("type")
        branches = kind if isinstance(kind, list) else [kind]
        units = [_TIME_UNITS.get(str(b.get("logicalType"))) for b in branches if isinstance(b, dict)]
        if len(units) == 1 and units[0] and all(b == "null" or isinstance(b, dict) for b in branches):
            times[field["name"]] = units[0]
            plain = ["null" if b == "null" else "long" for b in branches]
            field = {**field, "type": plain if isinstance(kind, list) else "long"}
        fields.append(field)
    return {**raw_schema, "fields": fields}, times


def avro_decoder(registered: RegisteredSchema) -> PayloadDecoder:
    named: dict[str, Any] = {}
    for text in registered.referenced.values():
        fastavro.parse_schema(json.loads(text), named_schemas=named)
    raw_schema, times = _top_level_times(json.loads(registered.text))
    schema = fastavro.parse_schema(raw_schema, named_schemas=named)
    walk = (
        _needs_walk({k: v for k, v in raw_schema.items() if k != "fields"})
        or any(
            _needs_walk(f["type"])
            for f in raw_schema.get("fields", [])
            if f["type"] not in ("null", ["null", "long"])
        )
        or bool(registered.referenced)
    )
    reader = fastavro.schemaless_reader

    def decode(payload: bytes) -> dict[str, Any]:
        try:
            record = reader(io.BytesIO(payload), schema, None)
        except Exception as exc:  # fastavro raises plain EOFError/ValueError/... on bad bytes
            raise InvalidEventError(
                "unparseable", f"not Avro of schema id {registered.schema_id}: {type(exc).__name__}: {exc}"
            ) from None
        if not isinstance(record, dict):
            raise InvalidEventError("unparseable", f"schema id {registered.schema_id} is not an Avro record")
        for name, per_second in times.items():
            record[name] = _iso(record[name], per_second)
        record = _plain(record) if walk else {k: v for k, v in record.items() if v is not None}
        return _json_text_fields(record)

    return decode


def json_decoder(registered: RegisteredSchema) -> PayloadDecoder:
    def decode(payload: bytes) -> dict[str, Any]:
        try:
            record = json.loads(payload)
        except ValueError as exc:
            raise InvalidEventError("unparseable", f"JSON Schema record is not valid JSON: {exc}") from None
        if not isinstance(record, dict):
            raise InvalidEventError("unparseable", f"expected a JSON object, got {type(record).__name__}")
        return _json_text_fields(record)

    return decode


_WELL_KNOWN = (any_pb2, duration_pb2, empty_pb2, field_mask_pb2, struct_pb2, timestamp_pb2, wrappers_pb2)


def _file_proto(name: str, text: str) -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto()
    try:
        proto.ParseFromString(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError, Exception):
        raise InvalidEventError(
            "unparseable",
            f"Protobuf schema {name!r} came as .proto text; this registry must serve "
            "?format=serialized (Confluent, and schemas registered by Confluent's Python client, do)",
        ) from None
    if not proto.name:
        proto.name = name
    return proto


def _zigzag(buf: io.BytesIO) -> int:
    shift = result = 0
    while True:
        byte = buf.read(1)
        if not byte:
            raise InvalidEventError("unparseable", "Protobuf message index list is cut short")
        result |= (byte[0] & 0x7F) << shift
        if not byte[0] & 0x80:
            return (result >> 1) ^ -(result & 1)
        shift += 7


def protobuf_decoder(registered: RegisteredSchema) -> PayloadDecoder:
    pool = descriptor_pool.DescriptorPool()
    for module in _WELL_KNOWN:
        pool.AddSerializedFile(module.DESCRIPTOR.serialized_pb)
    for name, text in registered.referenced.items():
        if not name.startswith("google/protobuf/"):
            pool.Add(_file_proto(name, text))
    main = pool.Add(_file_proto(f"schema-{registered.schema_id}.proto", registered.text))
    file = pool.FindFileByName(main.name)
    classes: dict[tuple[int, ...], Any] = {}

    def message_class(path: tuple[int, ...]) -> Any:
        if path not in classes:
            try:
                desc = file.message_types_by_name[file.message_types_by_name.keys()[path[0]]]
                for index in path[1:]:
                    desc = desc.nested_types[index]
            except (IndexError, KeyError):
                raise InvalidEventError(
                    "unparseable", f"message index {list(path)} is not in schema id {registered.schema_id}"
                ) from None
            classes[path] = message_factory.GetMessageClass(desc)
        return classes[path]

    def decode(payload: bytes) -> dict[str, Any]:
        buf = io.BytesIO(payload)
        count = _zigzag(buf)
        path = (0,) if count == 0 else tuple(_zigzag(buf) for _ in range(count))
        message = message_class(path)()
        try:
            message.ParseFromString(buf.read())
        except Exception as exc:  # DecodeError and friends
            raise InvalidEventError(
                "unparseable", f"not Protobuf of schema id {registered.schema_id}: {exc}"
            ) from None
        record = json_format.MessageToDict(message, preserving_proto_field_name=True)
        return _json_text_fields(record)

    return decode


DECODERS: dict[str, Callable[[RegisteredSchema], PayloadDecoder]] = {
    "AVRO": avro_decoder,
    "JSON": json_decoder,
    "PROTOBUF": protobuf_decoder,
}
