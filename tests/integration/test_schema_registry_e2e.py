"""End to end: Confluent wire-format records (written by confluent-kafka's own serializers against a
real Apicurio Registry) through the real broker and a worker into the Intercom emulator."""

from __future__ import annotations

import asyncio
import io
import json
import struct
import time
import uuid
from pathlib import Path
from typing import Any

import fastavro
import pytest
from aiokafka import AIOKafkaProducer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from typer.testing import CliRunner

from streams.cli import app
from streams.kafka_io import read_all
from streams.registry.local import LocalRegistry
from streams.registry.wire import UNKNOWN_FOR_S
from tests.integration.conftest import RunningPipeline
from tests.registry import segment_pb2
from tests.registry.conftest import (  # the session's real registry, and it behind basic auth
    REGISTRY_PASSWORD,
    REGISTRY_USER,
    authenticated_registry_url,  # noqa: F401
    schema_registry,  # noqa: F401
)
from tests.registry.test_wire_decoder import AVRO_V1, AVRO_V2

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "streams" / "samples" / "events.jsonl"
RAW_EVENT_AVSC = ROOT / "schemas" / "raw_event.avsc"


def _identify(user: str, **extra: Any) -> dict[str, Any]:
    return {"type": "identify", "userId": user, "messageId": f"m-{user}", "timestamp": 1767225600123,
            "properties": {}, "context": json.dumps({"traits": {}}), **extra}  # fmt: skip


async def _send(bootstrap: str, topic: str, records: list[tuple[str, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(topic, value, key=key.encode())
    finally:
        await producer.stop()


async def _create_topic(bootstrap: str, topic: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()


def _with_registry(pipeline: RunningPipeline, url: str, **extra: str) -> RunningPipeline:
    pipeline.env["INTERCOM_STREAM_SCHEMA_REGISTRY_URL"] = url
    pipeline.env.update({f"INTERCOM_STREAM_{k.upper()}": v for k, v in extra.items()})
    return pipeline


def _started_with_registry(
    pipeline: RunningPipeline, registry: LocalRegistry
) -> tuple[str, SchemaRegistryClient]:
    """The worker started with ``registry``; its input topic and a client of the registry."""
    _with_registry(pipeline, registry.url).start()
    return pipeline.settings.raw_events_topic, SchemaRegistryClient({"url": registry.url})


def _external_ids(pipeline: RunningPipeline) -> set[str]:
    return {c["external_id"] for c in pipeline.emulator.state()["contacts"]}


def test_avro_v1_v2_json_schema_protobuf_and_json_land_unknown_id_is_dead_lettered(
    pipeline: RunningPipeline,
    schema_registry: LocalRegistry,  # noqa: F811
) -> None:
    topic, sr = _started_with_registry(pipeline, schema_registry)
    ctx = SerializationContext(topic, MessageField.VALUE)
    # One subject holds one format (Confluent refuses a mix too): JSON Schema and Protobuf producers
    # register under subjects of their own, their records go to the same topic.
    js_ctx = SerializationContext(topic + "-json", MessageField.VALUE)
    pb_ctx = SerializationContext(topic + "-proto", MessageField.VALUE)
    v1 = AvroSerializer(sr, json.dumps(AVRO_V1))
    v2 = AvroSerializer(sr, json.dumps(AVRO_V2))
    schema = {"type": "object", "properties": {"type": {"type": "string"}, "userId": {"type": "string"}}}
    js = JSONSerializer(json.dumps(schema), sr)
    pb = ProtobufSerializer(segment_pb2.SegmentEvent, sr, {"use.deprecated.format": False})
    records = [
        ("avro-1", v1({**_identify("avro-1"), "type": "identify"}, ctx)),
        ("avro-2", v2({**_identify("avro-2"), "sentAt": 1767225600123456, "revenue": None}, ctx)),
        (
            "json-s",
            js({"type": "identify", "userId": "json-s", "traits": {"email": "j@example.com"}}, js_ctx),
        ),
        ("proto", pb(segment_pb2.SegmentEvent(type="identify", userId="proto", messageId="p-1"), pb_ctx)),
        ("plain", json.dumps({"type": "identify", "userId": "plain"}).encode()),
        ("ghost", struct.pack(">bI", 0, 424242) + b"\x02"),
        ("nobody", v1({**_identify("nobody"), "userId": None, "messageId": "m-nobody"}, ctx)),
    ]
    asyncio.run(_send(pipeline.bootstrap, topic, records))
    pipeline.wait_drained(len(records))
    assert _external_ids(pipeline) == {"avro-1", "avro-2", "json-s", "proto", "plain"}
    letters = {d["original_key"]: d for d in pipeline.dead_letters()}
    assert set(letters) == {"ghost", "nobody"}
    assert letters["ghost"]["reason"] == "schema_unknown" and "424242" in letters["ghost"]["message"]
    # dlq show decodes a wire-format original through the registry
    shown = {key: _dlq_show(pipeline, position) for key, position in _positions(pipeline).items()}
    assert shown["nobody"]["original_decoded"]["messageId"] == "m-nobody"
    assert "424242" in shown["ghost"]["original_decoded"]


def test_an_unknown_id_is_dead_lettered_naming_it_and_replays_once_the_schema_is_registered(
    pipeline: RunningPipeline,
    schema_registry: LocalRegistry,  # noqa: F811
) -> None:
    topic, sr = _started_with_registry(pipeline, schema_registry)
    late = {**AVRO_V1, "name": f"Late{uuid.uuid4().hex[:6]}"}  # a schema nobody has registered yet
    probe = {**AVRO_V1, "name": f"Probe{uuid.uuid4().hex[:6]}"}
    # Apicurio numbers each new schema content after the last one: the next registered gets this + 1.
    next_id = sr.register_schema(f"{topic}-probe", Schema(json.dumps(probe), "AVRO")) + 1
    payload = io.BytesIO()
    fastavro.schemaless_writer(payload, fastavro.parse_schema(late), _identify("late"))
    value = struct.pack(">bI", 0, next_id) + payload.getvalue()  # a producer ahead of its registration
    asyncio.run(_send(pipeline.bootstrap, topic, [("late", value)]))
    pipeline.wait_drained(1)
    (letter,) = pipeline.dead_letters()
    assert letter["reason"] == "schema_unknown" and f"schema id {next_id} " in letter["message"]
    assert "late" not in _external_ids(pipeline)

    # The producer's serializer registers its schema: the id the dead-lettered record carries exists now.
    registered = AvroSerializer(sr, json.dumps(late))(
        _identify("late"), SerializationContext(topic, MessageField.VALUE)
    )
    assert registered == value
    time.sleep(UNKNOWN_FOR_S)  # the longest the worker believes an id unknown without asking again
    replayed = CliRunner().invoke(
        app, ["dlq", "replay", "--reason", "schema_unknown", "--yes"], env=pipeline.env
    )
    assert replayed.exit_code == 0, replayed.output
    assert "replayed 1 records" in replayed.output
    pipeline.wait_drained(2)
    assert "late" in _external_ids(pipeline)
    assert len(pipeline.dead_letters()) == 1  # the replay was delivered, not dead-lettered again


def _positions(pipeline: RunningPipeline) -> dict[str, str]:
    """original key -> PARTITION:OFFSET of its dead letter, as `dlq list` shows it."""
    records = asyncio.run(read_all(pipeline.bootstrap, pipeline.settings.dead_letter_topic))
    return {r.key.decode(): f"{r.partition}:{r.offset}" for r in records}


def _dlq_show(pipeline: RunningPipeline, position: str) -> Any:
    result = CliRunner().invoke(app, ["dlq", "show", position, "--json"], env=pipeline.env)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_frozen_registry_holds_the_record_then_delivers_it(
    pipeline: RunningPipeline,
    schema_registry: LocalRegistry,  # noqa: F811
) -> None:
    topic, sr = _started_with_registry(pipeline, schema_registry)
    fresh = {**AVRO_V1, "name": f"Fresh{uuid.uuid4().hex[:6]}"}  # a schema this worker has never fetched
    value = AvroSerializer(sr, json.dumps(fresh))(
        _identify("frozen"), SerializationContext(topic, MessageField.VALUE)
    )
    schema_registry.freeze()
    try:
        asyncio.run(_send(pipeline.bootstrap, topic, [("frozen", value)]))
        time.sleep(20)
        assert "frozen" not in _external_ids(pipeline)
        assert "schema registry cannot answer" in pipeline.logs()
    finally:
        schema_registry.thaw()
    pipeline.wait_drained(1)
    assert "frozen" in _external_ids(pipeline)
    assert pipeline.dead_letters() == []
    assert pipeline.logs().count("schema registry cannot answer") == 1  # one line per episode


def test_wrong_registry_credentials_pause_with_a_clear_log_then_a_fixed_worker_delivers(
    pipeline: RunningPipeline,
    schema_registry: LocalRegistry,  # noqa: F811
    authenticated_registry_url: str,  # noqa: F811
) -> None:
    _with_registry(pipeline, authenticated_registry_url, schema_registry_username=REGISTRY_USER,
                   schema_registry_password="not-the-secret").start()  # fmt: skip
    topic = pipeline.settings.raw_events_topic
    sr = SchemaRegistryClient({"url": schema_registry.url})
    value = AvroSerializer(sr, json.dumps(AVRO_V1))(
        _identify("locked"), SerializationContext(topic, MessageField.VALUE)
    )
    asyncio.run(_send(pipeline.bootstrap, topic, [("locked", value)]))
    time.sleep(12)
    assert "locked" not in _external_ids(pipeline) and pipeline.dead_letters() == []
    logs = pipeline.logs()
    assert logs.count("schema registry cannot answer") == 1
    assert "refused the credentials (401)" in logs and "INTERCOM_STREAM_SCHEMA_REGISTRY_PASSWORD" in logs
    assert "not-the-secret" not in logs
    pipeline.stop()
    pipeline.env["INTERCOM_STREAM_SCHEMA_REGISTRY_PASSWORD"] = REGISTRY_PASSWORD
    pipeline.start()
    pipeline.wait_drained(1)
    assert "locked" in _external_ids(pipeline) and pipeline.dead_letters() == []


def test_publish_with_a_schema_file_writes_wire_format_that_decodes_like_the_json(
    kafka_bootstrap: str,
    schema_registry: LocalRegistry,  # noqa: F811
    tmp_path: Path,
) -> None:
    from streams.registry.client import RegistryClient
    from streams.registry.wire import WireDecoder

    events = [json.loads(line) for line in SAMPLES.read_text().splitlines() if line.startswith("{")][:6]
    source = tmp_path / "events.jsonl"
    source.write_text("".join(json.dumps(e) + "\n" for e in events))
    topic = f"publish-{uuid.uuid4().hex[:6]}"
    asyncio.run(_create_topic(kafka_bootstrap, topic))
    result = CliRunner().invoke(
        app,
        ["publish", str(source), "--topic", topic, "--schema", str(RAW_EVENT_AVSC),
         "--schema-registry", schema_registry.url, "--bootstrap", kafka_bootstrap],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    records = asyncio.run(read_all(kafka_bootstrap, topic))
    assert len(records) == len(events) and all(r.value[0] == 0 for r in records)

    async def decode_all() -> list[dict[str, Any]]:
        client = RegistryClient(schema_registry.url)
        try:
            decoder = WireDecoder(client)
            return [await decoder.decode(r.value) for r in records]
        finally:
            await client.aclose()

    decoded = sorted(asyncio.run(decode_all()), key=lambda e: e["messageId"])
    assert decoded == sorted(events, key=lambda e: e["messageId"])
