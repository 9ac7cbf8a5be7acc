"""WireDecoder against a real registry, with records written by confluent-kafka's own serializers."""

from __future__ import annotations

import asyncio
import json
import struct
import time
import uuid
from typing import Any

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import struct_pb2, timestamp_pb2

from streams.errors import SchemaNotFoundError
from streams.registry.client import RegistryClient
from streams.registry.local import LocalRegistry
from streams.registry.wire import TroubleHooks, WireDecoder
from tests.registry import segment_pb2
from tests.registry.conftest import REGISTRY_PASSWORD, REGISTRY_USER

pytestmark = pytest.mark.integration

AVRO_V1 = {
    "type": "record", "name": "Track", "namespace": "shop.events",
    "fields": [
        {"name": "type", "type": {"type": "enum", "name": "Kind", "symbols": ["track", "identify"]}},
        {"name": "userId", "type": ["null", "string"], "default": None},
        {"name": "event", "type": ["null", "string"], "default": None},
        {"name": "messageId", "type": "string"},
        {"name": "timestamp", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "properties", "type": {"type": "map", "values": ["null", "string", "double", "boolean"]}},
        {"name": "context", "type": ["null", "string"], "default": None},
    ],
}  # fmt: skip
AVRO_V2 = {
    **AVRO_V1,
    "fields": [
        *AVRO_V1["fields"],  # type: ignore[misc]
        {"name": "sentAt", "type": ["null", {"type": "long", "logicalType": "timestamp-micros"}],
         "default": None},
        {"name": "revenue", "default": None,
         "type": ["null", {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}]},
    ],
}  # fmt: skip


def _ctx(topic: str) -> SerializationContext:
    return SerializationContext(topic, MessageField.VALUE)


def _decoder(registry: LocalRegistry, hooks: TroubleHooks | None = None) -> WireDecoder:
    return WireDecoder(RegistryClient(registry.url), hooks, first_retry_s=0.2, max_retry_s=1.0)


def _sr(registry: LocalRegistry) -> SchemaRegistryClient:
    return SchemaRegistryClient({"url": registry.url})


def _v1_record(**extra: Any) -> dict[str, Any]:
    return {"type": "track", "userId": "u-1", "event": "Order Completed", "messageId": "m-1",
            "timestamp": 1767225600123, "properties": {"plan": "pro", "total": 12.5},
            "context": json.dumps({"ip": "10.0.0.1"}), **extra}  # fmt: skip


async def test_avro_v1_and_evolved_v2_of_one_subject_both_decode(schema_registry: LocalRegistry) -> None:
    topic = f"avro-{uuid.uuid4().hex[:6]}"
    sr = _sr(schema_registry)
    v1 = AvroSerializer(sr, json.dumps(AVRO_V1))(_v1_record(), _ctx(topic))
    from decimal import Decimal

    v2 = AvroSerializer(sr, json.dumps(AVRO_V2))(
        _v1_record(messageId="m-2", sentAt=1767225600123456, revenue=Decimal("19.90")), _ctx(topic)
    )
    assert v1[:5] != v2[:5]  # two versions of the subject, two ids
    decoder = _decoder(schema_registry)
    first, second = await decoder.decode(v1, None), await decoder.decode(v2, None)
    assert first == {
        "type": "track", "userId": "u-1", "event": "Order Completed", "messageId": "m-1",
        "timestamp": "2026-01-01T00:00:00.123000Z", "properties": {"plan": "pro", "total": 12.5},
        "context": {"ip": "10.0.0.1"},
    }  # fmt: skip
    assert second["messageId"] == "m-2"
    assert second["sentAt"] == "2026-01-01T00:00:00.123456Z"
    assert second["revenue"] == 19.9


async def test_json_schema_record_decodes(schema_registry: LocalRegistry) -> None:
    schema = {"type": "object", "properties": {"type": {"type": "string"}, "userId": {"type": "string"},
              "traits": {"type": "object"}}, "required": ["type"]}  # fmt: skip
    value = JSONSerializer(json.dumps(schema), _sr(schema_registry))(
        {"type": "identify", "userId": "u-9", "traits": {"email": "a@example.com"}}, _ctx("json-topic")
    )
    assert value[0] == 0
    decoded = await _decoder(schema_registry).decode(value, None)
    assert decoded == {"type": "identify", "userId": "u-9", "traits": {"email": "a@example.com"}}


async def test_protobuf_record_decodes(schema_registry: LocalRegistry) -> None:
    message = segment_pb2.SegmentEvent(type="track", userId="u-7", event="Signed Up", messageId="p-1")
    message.timestamp.CopyFrom(timestamp_pb2.Timestamp(seconds=1767225600))
    message.properties.CopyFrom(struct_pb2.Struct())
    message.properties.update({"plan": "pro", "seats": 3})
    serializer = ProtobufSerializer(
        segment_pb2.SegmentEvent, _sr(schema_registry), {"use.deprecated.format": False}
    )
    decoded = await _decoder(schema_registry).decode(serializer(message, _ctx("proto-topic")), None)
    assert decoded == {
        "type": "track", "userId": "u-7", "event": "Signed Up", "messageId": "p-1",
        "timestamp": "2026-01-01T00:00:00Z", "properties": {"plan": "pro", "seats": 3.0},
    }  # fmt: skip


async def test_unknown_id_is_a_dead_letter_reason_naming_the_id(schema_registry: LocalRegistry) -> None:
    value = struct.pack(">bI", 0, 987654) + b"\x02"
    with pytest.raises(SchemaNotFoundError) as caught:
        await _decoder(schema_registry).decode(value, None)
    assert caught.value.reason == "schema_unknown"
    assert "987654" in caught.value.message


async def test_frozen_registry_makes_decode_wait_then_succeed(schema_registry: LocalRegistry) -> None:
    topic = f"frozen-{uuid.uuid4().hex[:6]}"
    value = AvroSerializer(_sr(schema_registry), json.dumps(AVRO_V1))(_v1_record(), _ctx(topic))
    troubles: list[str] = []
    recovered: list[float] = []
    client = RegistryClient(schema_registry.url, timeout_s=1.0)
    decoder = WireDecoder(client, TroubleHooks(troubles.append, recovered.append), first_retry_s=0.2,
                          max_retry_s=1.0)  # fmt: skip
    schema_registry.freeze()
    try:
        task = asyncio.ensure_future(decoder.decode(value, None))
        await asyncio.sleep(4)
        assert not task.done() and decoder.waiting
        assert len(troubles) == 1 and "unreachable" in troubles[0]  # one episode, one report
    finally:
        schema_registry.thaw()
    started = time.monotonic()
    decoded = await asyncio.wait_for(task, 30)
    assert decoded["messageId"] == "m-1" and len(recovered) == 1 and time.monotonic() - started < 30


async def test_wrong_credentials_pause_with_a_message_naming_the_setting(
    schema_registry: LocalRegistry, authenticated_registry_url: str
) -> None:
    topic = f"auth-{uuid.uuid4().hex[:6]}"
    value = AvroSerializer(_sr(schema_registry), json.dumps(AVRO_V1))(_v1_record(), _ctx(topic))
    troubles: list[str] = []
    wrong = RegistryClient(authenticated_registry_url, auth=(REGISTRY_USER, "wrong"))
    decoder = WireDecoder(wrong, TroubleHooks(troubles.append), first_retry_s=0.2, max_retry_s=0.5)
    task = asyncio.ensure_future(decoder.decode(value, None))
    await asyncio.sleep(2)
    assert not task.done()
    task.cancel()
    assert len(troubles) == 1
    assert "401" in troubles[0] and "INTERCOM_STREAM_SCHEMA_REGISTRY_USERNAME" in troubles[0]
    right = RegistryClient(authenticated_registry_url, auth=(REGISTRY_USER, REGISTRY_PASSWORD))
    assert (await WireDecoder(right).decode(value, None))["messageId"] == "m-1"
