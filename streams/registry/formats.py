"""Per-schema decoders: the bytes after the wire header → a JSON-like dict. Pure functions of the
schema; the registry is asked once per id (see :mod:`streams.registry.wire`)."""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Callable
from typing import Any

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
from streams.events import strict_json
from streams.events.decode import DecodedEvent, parse_json_text_fields
from streams.registry.avro import PayloadDecoder, avro_decoder
from streams.registry.client import RegisteredSchema


def json_decoder(registered: RegisteredSchema) -> PayloadDecoder:
    """As our JSON path reads JSON (strict_json's rules), with JSON-text fields parsed too."""

    def decode(payload: bytes) -> dict[str, Any]:
        try:
            record, invalid = strict_json.loads(payload)
        except ValueError as exc:
            raise InvalidEventError("unparseable", f"JSON Schema record is not valid JSON: {exc}") from None
        if not isinstance(record, dict):
            raise InvalidEventError("unparseable", f"expected a JSON object, got {type(record).__name__}")
        parse_json_text_fields(record, invalid)
        return DecodedEvent(record, invalid)

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
        try:
            record = json_format.MessageToDict(message, preserving_proto_field_name=True)
        except ValueError as exc:  # a Struct holding NaN or an infinity has no JSON form
            raise InvalidEventError(
                "unparseable", f"Protobuf of schema id {registered.schema_id}: {exc}"
            ) from None
        invalid: dict[str, str] = {}
        parse_json_text_fields(record, invalid)
        return DecodedEvent(record, invalid)

    return decode


DECODERS: dict[str, Callable[[RegisteredSchema], PayloadDecoder]] = {
    "AVRO": avro_decoder,
    "JSON": json_decoder,
    "PROTOBUF": protobuf_decoder,
}
