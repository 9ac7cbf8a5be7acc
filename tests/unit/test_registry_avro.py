"""Wire-format Avro payloads (written by fastavro's own writer) decoded into the event our JSON path
produces: every conversion of issue 22, through the compiled way and the generic one."""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
from decimal import Decimal
from typing import Any

import fastavro
import pytest

from streams.errors import InvalidEventError
from streams.events.decode import DecodedEvent
from streams.registry.client import RegisteredSchema
from streams.registry.formats import DECODERS

UTC = dt.UTC
WHEN = dt.datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)
ADDRESS = {"type": "record", "name": "Address", "fields": [
    {"name": "city", "type": "string"},
    {"name": "zip", "type": ["null", "string"], "default": None},
    {"name": "movedAt", "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}],
     "default": None},
]}  # fmt: skip
RICH = {
    "type": "record", "name": "Event", "namespace": "shop.events", "fields": [
        {"name": "type", "type": {"type": "enum", "name": "Kind", "symbols": ["identify", "track"]}},
        {"name": "userId", "type": ["null", "string"], "default": None},
        {"name": "timestamp", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "sentAt", "type": ["null", {"type": "long", "logicalType": "timestamp-micros"}]},
        {"name": "localAt", "type": {"type": "long", "logicalType": "local-timestamp-millis"}},
        {"name": "birthday", "type": {"type": "int", "logicalType": "date"}},
        {"name": "opens", "type": {"type": "int", "logicalType": "time-millis"}},
        {"name": "closes", "type": {"type": "long", "logicalType": "time-micros"}},
        {"name": "revenue", "type": ["null", {"type": "bytes", "logicalType": "decimal", "precision": 10,
                                               "scale": 2}]},
        {"name": "seats", "type": {"type": "fixed", "name": "Seats", "size": 4, "logicalType": "decimal",
                                   "precision": 8, "scale": 0}},
        {"name": "anonymousId", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "deviceId", "type": {"type": "fixed", "name": "Device", "size": 16, "logicalType": "uuid"}},
        {"name": "blob", "type": "bytes"},
        {"name": "score", "type": "double"},
        {"name": "home", "type": ["null", ADDRESS]},
        {"name": "previous", "type": {"type": "array", "items": "Address"}},
        {"name": "tier", "type": ["null", "Kind"]},
        {"name": "traits", "type": {"type": "map", "values": ["null", "string", "double"]}},
        {"name": "properties", "type": ["null", "string"]},
        {"name": "context", "type": ["null", "string"]},
    ],
}  # fmt: skip


def _rich(**extra: Any) -> dict[str, Any]:
    return {
        "type": "track", "userId": None, "timestamp": WHEN, "sentAt": WHEN,
        "localAt": dt.datetime(2026, 1, 1, 9, 30), "birthday": dt.date(1990, 5, 17),
        "opens": dt.time(9, 0, 0, 250000), "closes": dt.time(17, 30, 0, 5), "revenue": Decimal("19.90"),
        "seats": Decimal("12"), "anonymousId": "5e8f3c1a-0000-4000-8000-000000000001",
        "deviceId": uuid.UUID("12345678-1234-5678-1234-567812345678").bytes, "blob": "héllo".encode(),
        "score": 0.5, "home": {"city": "Paris", "zip": None, "movedAt": WHEN}, "tier": "identify",
        "previous": [{"city": "Lyon", "zip": "69001", "movedAt": None}],
        "traits": {"plan": "pro", "cleared": None, "total": 12.5},
        "properties": json.dumps({"cart": {"items": 2}, "tags": ["a"]}), "context": None, **extra,
    }  # fmt: skip


def _decoder(schema: Any, referenced: dict[str, str] | None = None) -> Any:
    return DECODERS["AVRO"](RegisteredSchema(7, "AVRO", json.dumps(schema), (), referenced or {}))


def _write(schema: Any, record: Any, named: dict[str, Any] | None = None) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(schema, named_schemas=named), record)
    return buf.getvalue()


def test_every_avro_type_becomes_what_the_json_path_carries() -> None:
    decoded = _decoder(RICH)(_write(RICH, _rich()))
    assert decoded == {
        "type": "track", "timestamp": "2026-01-01T00:00:00.123000Z", "sentAt": "2026-01-01T00:00:00.123456Z",
        "localAt": "2026-01-01T09:30:00Z", "birthday": "1990-05-17", "opens": "09:00:00.250000",
        "closes": "17:30:00.000005", "revenue": 19.9, "seats": 12,
        "anonymousId": "5e8f3c1a-0000-4000-8000-000000000001",
        "deviceId": "12345678-1234-5678-1234-567812345678",
        "blob": "héllo", "score": 0.5, "home": {"city": "Paris", "movedAt": "2026-01-01T00:00:00.123000Z"},
        "previous": [{"city": "Lyon", "zip": "69001"}], "tier": "identify",
        "traits": {"plan": "pro", "cleared": None, "total": 12.5},  # a null in a map was written on purpose
        "properties": {"cart": {"items": 2}, "tags": ["a"]},
    }  # fmt: skip
    assert type(decoded["seats"]) is int and type(decoded["revenue"]) is float


def test_numbers_json_cannot_carry_are_left_out_and_reported_as_the_json_path_does() -> None:
    record = _rich(score=float("nan"), traits={"plan": "pro", "ltv": float("inf")},
                   properties='{"ok": 1, "bad": NaN}')  # fmt: skip
    decoded = _decoder(RICH)(_write(RICH, record))
    assert isinstance(decoded, DecodedEvent)
    assert decoded.invalid_numbers == {"score": "NaN", "traits.ltv": "Infinity", "properties.bad": "NaN"}
    assert (
        "score" not in decoded and decoded["traits"] == {"plan": "pro"} and decoded["properties"] == {"ok": 1}
    )


def test_json_text_follows_strict_json_rules() -> None:
    schema = {"type": "record", "name": "R", "fields": [{"name": "type", "type": "string"},
              {"name": "context", "type": "string"}]}  # fmt: skip
    decode = _decoder(schema)
    assert decode(_write(schema, {"type": "track", "context": '  {"ip": "10.0.0.1"}\n'}))["context"] == {
        "ip": "10.0.0.1"
    }
    with pytest.raises(InvalidEventError) as caught:
        decode(_write(schema, {"type": "track", "context": "[" * 80 + "]" * 80}))
    assert caught.value.reason == "too_deep"
    with pytest.raises(InvalidEventError) as caught:
        decode(_write(schema, {"type": "track", "context": "{not json"}))
    assert caught.value.reason == "unparseable" and "'context'" in caught.value.message


def test_a_union_of_records_converted_differently_takes_the_generic_way_to_the_same_values() -> None:
    other = {"type": "record", "name": "Other", "fields": [{"name": "n", "type": "double"}]}
    schema = {"type": "record", "name": "R", "fields": [
        {"name": "type", "type": "string"},
        {"name": "payload", "type": [ADDRESS, other]},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
    ]}  # fmt: skip
    decode = _decoder(schema)
    first = decode(_write(schema, {"type": "track", "payload": {"city": "Oslo", "zip": None, "movedAt": WHEN},
                                   "at": WHEN}))  # fmt: skip
    assert first == {"type": "track", "payload": {"city": "Oslo", "movedAt": "2026-01-01T00:00:00.123000Z"},
                     "at": "2026-01-01T00:00:00.123456Z"}  # fmt: skip
    second = decode(_write(schema, {"type": "track", "payload": {"n": float("-inf")}, "at": WHEN}))
    assert second["payload"] == {} and second.invalid_numbers == {"payload.n": "-Infinity"}


def test_named_types_from_referenced_schemas_and_recursive_records() -> None:
    node = {"type": "record", "name": "Node", "namespace": "t", "fields": [
        {"name": "label", "type": "Kind"},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "next", "type": ["null", "Node"], "default": None},
    ]}  # fmt: skip
    kind = {"type": "enum", "name": "Kind", "namespace": "t", "symbols": ["a", "b"]}
    schema = {"type": "record", "name": "Root", "namespace": "t", "fields": [
        {"name": "type", "type": "string"}, {"name": "head", "type": "Node"}, {"name": "kinds",
        "type": {"type": "array", "items": "t.Kind"}}]}  # fmt: skip
    named: dict[str, Any] = {}
    fastavro.parse_schema(kind, named_schemas=named)
    fastavro.parse_schema(node, named_schemas=named)
    last = {"label": "a", "at": WHEN, "next": None}
    record = {"type": "track", "kinds": ["b", "a"], "head": {"label": "b", "at": WHEN, "next": last}}
    # The references come as the registry lists them: the one that uses the other first.
    decode = _decoder(schema, {"node.avsc": json.dumps(node), "kind.avsc": json.dumps(kind)})
    at = "2026-01-01T00:00:00.123000Z"
    assert decode(_write(schema, record, named)) == {
        "type": "track", "kinds": ["b", "a"],
        "head": {"label": "b", "at": at, "next": {"label": "a", "at": at}},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("schema", "payload", "says"),
    [
        ({"type": "long", "logicalType": "timestamp-millis"}, b"", "not Avro of schema id 7"),
        (
            {
                "type": "record",
                "name": "T",
                "fields": [{"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}}],
            },
            b"\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01",
            "OverflowError",
        ),
        (
            {
                "type": "record",
                "name": "E",
                "fields": [{"name": "k", "type": {"type": "enum", "name": "K", "symbols": ["a"]}}],
            },
            b"\x04",
            "IndexError",
        ),
        ({"type": "array", "items": "string"}, b"\x00", "is not an Avro record"),
    ],
)
def test_bytes_that_do_not_decode_are_unparseable_with_the_schema_id(schema: Any, payload: bytes,
                                                                     says: str) -> None:  # fmt: skip
    with pytest.raises(InvalidEventError) as caught:
        _decoder(schema)(payload)
    assert caught.value.reason == "unparseable" and says in caught.value.message


def test_a_schema_fastavro_cannot_read_is_unparseable_naming_the_id() -> None:
    with pytest.raises(InvalidEventError) as caught:
        _decoder({"type": "record", "name": "R", "fields": [{"name": "x", "type": "NoSuchType"}]})
    assert caught.value.reason == "unparseable" and "schema id 7" in caught.value.message
