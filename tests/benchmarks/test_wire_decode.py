"""Decode rate of Schema Registry wire-format records (Avro, JSON Schema, Protobuf) beside our JSON
path, on the same Segment events, through the one decode call of the transform
(:class:`streams.registry.intake.InputDecoder`): JSON to ``decode_raw_event``, wire format to the
:class:`WireDecoder` with its schemas already fetched (the registry is asked once per id, so it is
not in the loop). The Avro and JSON Schema records decode to the very dict the JSON one does
(checked). CPU time of one process; the formats take turns, run by run, so a busy machine slows
them alike."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import struct
import time
from collections.abc import Callable, Coroutine
from typing import Any

import fastavro
import pytest
from google.protobuf import struct_pb2

from streams.registry.client import RegisteredSchema
from streams.registry.intake import InputDecoder
from streams.registry.wire import WireDecoder
from tests.benchmarks import report
from tests.benchmarks.workloads import mixed
from tests.registry import segment_pb2

pytestmark = pytest.mark.bench

RUNS = 9
# Segment-shaped, as a Kafka shop would write it: a real timestamp type, JSON text for free-form parts.
AVRO = {
    "type": "record", "name": "Segment", "fields": [
        {"name": "type", "type": {"type": "enum", "name": "Kind", "symbols": ["identify", "track", "group"]}},
        {"name": "userId", "type": ["null", "string"], "default": None},
        {"name": "event", "type": ["null", "string"], "default": None},
        {"name": "groupId", "type": ["null", "string"], "default": None},
        {"name": "timestamp", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "traits", "type": ["null", "string"], "default": None},
        {"name": "properties", "type": ["null", "string"], "default": None},
    ],
}  # fmt: skip


def _header(schema_id: int) -> bytes:
    return struct.pack(">bI", 0, schema_id)


def _iso(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat().replace("+00:00", "Z")


def _json(event: dict[str, Any]) -> bytes:
    """As a Segment producer sends it: the event time as ISO 8601 text."""
    return json.dumps({**event, "timestamp": _iso(event["timestamp"])}).encode()


def _avro(event: dict[str, Any], schema: Any) -> bytes:
    record = {k: event.get(k) for k in ("type", "userId", "event", "groupId")}
    record["timestamp"] = event["timestamp"] * 1000
    for part in ("traits", "properties"):
        record[part] = json.dumps(event[part]) if part in event else None
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, schema, record)
    return _header(1) + buf.getvalue()


def _proto(event: dict[str, Any]) -> bytes:
    message = segment_pb2.SegmentEvent(type=event["type"], userId=event["userId"])
    message.event = event.get("event", "")
    message.timestamp.FromSeconds(event["timestamp"])
    message.properties.CopyFrom(struct_pb2.Struct())
    message.properties.update(event.get("properties") or event.get("traits") or {})
    return _header(3) + b"\x00" + message.SerializeToString()


class _Schemas:
    """The registry's answers, already in hand (the decoder caches them after the first record)."""

    def __init__(self, *schemas: RegisteredSchema) -> None:
        self._by_id = {s.schema_id: s for s in schemas}

    async def schema(self, schema_id: int) -> RegisteredSchema:
        return self._by_id[schema_id]


def _now(step: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
    """Run a decode that never waits (schemas in hand) without an event loop around it."""
    try:
        step.send(None)
    except StopIteration as done:
        decoded: dict[str, Any] = done.value
        return decoded
    raise AssertionError("decode waited")


def _rates(cases: dict[str, tuple[Callable[[bytes], Any], list[bytes]]]) -> dict[str, list[float]]:
    runs: dict[str, list[float]] = {name: [] for name in cases}
    for decode, values in cases.values():
        for value in values[:500]:
            decode(value)
    for _ in range(RUNS):
        for name, (decode, values) in cases.items():
            started = time.process_time()
            for value in values:
                decode(value)
            runs[name].append(len(values) / (time.process_time() - started))
    return runs


def test_wire_decode_rate_per_format_beside_json() -> None:
    events = mixed(300)
    proto_schema = base64.b64encode(segment_pb2.DESCRIPTOR.serialized_pb).decode()
    wellknown = {"google/protobuf/struct.proto": "", "google/protobuf/timestamp.proto": ""}
    registry = _Schemas(
        RegisteredSchema(1, "AVRO", json.dumps(AVRO)),
        RegisteredSchema(2, "JSON", "{}"),
        RegisteredSchema(3, "PROTOBUF", proto_schema, (), wellknown),
    )
    intake = InputDecoder(WireDecoder(registry))

    def decode(value: bytes) -> dict[str, Any]:
        return _now(intake.decode(value, None))

    parsed = fastavro.parse_schema(AVRO)
    cases = {
        "JSON (ours)": [_json(e) for e in events],
        "Avro": [_avro(e, parsed) for e in events],
        "JSON Schema": [_header(2) + _json(e) for e in events],
        "Protobuf": [_proto(e) for e in events],
    }
    plain = [decode(v) for v in cases["JSON (ours)"]]
    assert [decode(v) for v in cases["Avro"]] == plain  # the same events, decoded to the same dicts
    assert [decode(v) for v in cases["JSON Schema"]] == plain
    # The library's floor: fastavro's C reader alone on the same payloads, nothing converted or
    # parsed after it. Our wire Avro cannot beat this without a reader of our own.
    payloads = [v[5:] for v in cases["Avro"]]

    def fastavro_only(payload: bytes) -> Any:
        return fastavro.schemaless_reader(io.BytesIO(payload), parsed, None)

    timed = {name: (decode, values) for name, values in cases.items()}
    runs = _rates({**timed, "fastavro reader alone": (fastavro_only, payloads)})
    base = report.record("decode JSON (ours)", "records/s/core", runs.pop("JSON (ours)"),
                         note=f"{len(events)} events, through InputDecoder.decode")  # fmt: skip
    lines = [f"JSON (ours): median {base.value:,.0f} records/s/core"]
    for name, rates in runs.items():
        figure = report.record(f"decode wire {name}", "records/s/core", rates, reference=base.value,
                               compare="vs JSON")  # fmt: skip
        lines.append(f"wire {name}: median {figure.value:,.0f} records/s/core ({figure.ratio:.2f}x JSON)")
    print("\n" + "\n".join(lines))
