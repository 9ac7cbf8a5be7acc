"""WireDecoder's memory of ids: known schemas for good (ids are immutable), an unknown id only for a
few seconds, so a flood of such records does not ask the registry per record, and the id's dead
letters can be replayed once it is registered."""

from __future__ import annotations

import io
import json
import struct

import fastavro
import pytest

from streams.errors import SchemaNotFoundError
from streams.registry.client import RegisteredSchema
from streams.registry.wire import UNKNOWN_FOR_S, WireDecoder

SCHEMA = {"type": "record", "name": "E", "fields": [{"name": "type", "type": "string"}]}


class Registry:
    """A registry's answers by id, counting the questions (what the decoder does with them is real)."""

    def __init__(self) -> None:
        self.schemas: dict[int, RegisteredSchema] = {}
        self.asked: list[int] = []

    async def schema(self, schema_id: int) -> RegisteredSchema:
        self.asked.append(schema_id)
        if schema_id not in self.schemas:
            raise SchemaNotFoundError(f"schema id {schema_id} is not in the registry")
        return self.schemas[schema_id]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _record(schema_id: int) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(SCHEMA), {"type": "track"})
    return struct.pack(">bI", 0, schema_id) + buf.getvalue()


async def test_an_unknown_id_is_believed_briefly_then_asked_again_and_decodes_once_registered() -> None:
    registry, clock = Registry(), Clock()
    decoder = WireDecoder(registry, clock=clock)
    for _ in range(50):  # a flood of records naming the id: one question
        with pytest.raises(SchemaNotFoundError) as caught:
            await decoder.decode(_record(77))
        assert caught.value.reason == "schema_unknown" and "77" in caught.value.message
    assert registry.asked == [77]
    registry.schemas[77] = RegisteredSchema(77, "AVRO", json.dumps(SCHEMA))
    clock.now += UNKNOWN_FOR_S - 0.1
    with pytest.raises(SchemaNotFoundError):
        await decoder.decode(_record(77))
    clock.now += 0.2
    assert await decoder.decode(_record(77)) == {"type": "track"}
    assert await decoder.decode(_record(77)) == {"type": "track"}  # known now: for good
    assert registry.asked == [77, 77]


async def test_other_ids_are_asked_about_on_their_own() -> None:
    registry = Registry()
    registry.schemas[5] = RegisteredSchema(5, "AVRO", json.dumps(SCHEMA))
    decoder = WireDecoder(registry, clock=Clock())
    with pytest.raises(SchemaNotFoundError):
        await decoder.decode(_record(6))
    assert await decoder.decode(_record(5)) == {"type": "track"}
    assert registry.asked == [6, 5]
