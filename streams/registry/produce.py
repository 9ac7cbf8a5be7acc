"""``intercom-stream publish --schema FILE --schema-registry URL``: JSONL events as Confluent wire-format
records (Avro from ``.avsc``, JSON Schema from ``.json``), the schema registered under
``<topic>-value`` as Confluent's serializers do, so a user can try the registry path end to end."""

from __future__ import annotations

import datetime as dt
import io
import json
import struct
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import fastavro
from aiokafka import AIOKafkaProducer

from streams.errors import ConfigurationError, InvalidEventError
from streams.kafka_io import key_for_line
from streams.registry.client import RegistryClient

_TIMES = {"timestamp-millis": 1_000, "timestamp-micros": 1_000_000}


def schema_type_of(path: Path) -> str:
    if path.suffix == ".avsc":
        return "AVRO"
    if path.suffix == ".json":
        return "JSON"
    raise ConfigurationError(f"{path}: give an Avro schema (.avsc) or a JSON Schema (.json)")


def _avro_value(value: Any, kind: Any) -> Any:
    """A JSON event value as the field's Avro type wants it: objects into JSON-text strings, ISO
    times into timestamp longs."""
    branches = kind if isinstance(kind, list) else [kind]
    if isinstance(value, dict | list) and "string" in branches:
        return json.dumps(value)
    for branch in branches:
        if isinstance(branch, dict) and branch.get("logicalType") in _TIMES and isinstance(value, str):
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


class WireEncoder:
    def __init__(self, schema_id: int, schema_type: str, schema: Any) -> None:
        self.header = struct.pack(">bI", 0, schema_id)
        self.schema_type = schema_type
        self.raw = schema
        self.parsed = fastavro.parse_schema(schema) if schema_type == "AVRO" else None

    def encode(self, event: dict[str, Any]) -> bytes:
        if self.parsed is None:
            return self.header + json.dumps(event).encode()
        record = {f["name"]: _avro_value(event.get(f["name"]), f["type"]) for f in self.raw["fields"]}
        buffer = io.BytesIO()
        try:
            fastavro.schemaless_writer(buffer, self.parsed, record)
        except (ValueError, TypeError) as exc:
            raise InvalidEventError("unparseable", f"event does not fit the schema: {exc}") from None
        return self.header + buffer.getvalue()


def _value(encoder: WireEncoder, line: str) -> bytes:
    """A line that is no JSON object goes out as it is (as plain ``publish`` sends it): the worker
    dead-letters it, which the sandbox's samples show on purpose."""
    try:
        event = json.loads(line)
    except ValueError:
        return line.encode("utf-8")
    return encoder.encode(event) if isinstance(event, dict) else line.encode("utf-8")


async def encoder_for(client: RegistryClient, topic: str, schema_file: Path, text: str) -> WireEncoder:
    schema_type = schema_type_of(schema_file)
    schema_id = await client.register(f"{topic}-value", schema_type, text)
    return WireEncoder(schema_id, schema_type, json.loads(text))


async def publish_wire(
    bootstrap: str, topic: str, lines: Iterable[str], encoder: WireEncoder,
    *, security: Mapping[str, Any] | None = None,
) -> int:  # fmt: skip
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, **(security or {})
    )
    await producer.start()
    count = 0
    try:
        for line in lines:
            await producer.send_and_wait(topic, _value(encoder, line), key=key_for_line(line))
            count += 1
    finally:
        await producer.stop()
    return count


async def publish_schema_file(
    settings: Any, topic: str, lines: list[str], schema_file: Path, registry_url: str | None
) -> int:
    """The CLI's path: register the schema, then publish every line in the wire format."""
    from streams.kafka_security import aiokafka_security
    from streams.registry.client import client_from_settings

    if registry_url:
        settings = settings.model_copy(update={"schema_registry_url": registry_url})
    client = client_from_settings(settings)
    if client is None:
        raise ConfigurationError("--schema needs --schema-registry or INTERCOM_STREAM_SCHEMA_REGISTRY_URL")
    try:
        encoder = await encoder_for(client, topic, schema_file, schema_file.read_text(encoding="utf-8"))  # noqa: ASYNC240 (one small file)
    finally:
        await client.aclose()
    return await publish_wire(
        settings.bootstrap_servers, topic, lines, encoder, security=aiokafka_security(settings)
    )


async def publish_with_schema(
    registry_url: str, bootstrap: str, topic: str, lines: list[str], schema_file: Path
) -> int:
    """The sandbox's path: register ``schema_file`` in its local registry, publish in the wire format."""
    client = RegistryClient(registry_url)
    try:
        encoder = await encoder_for(client, topic, schema_file, schema_file.read_text(encoding="utf-8"))  # noqa: ASYNC240
    finally:
        await client.aclose()
    return await publish_wire(bootstrap, topic, lines, encoder)
