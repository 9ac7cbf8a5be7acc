"""Decode rate of Schema Registry wire-format records (Avro, JSON Schema, Protobuf) beside our JSON
path, on the same Segment events. Pure decode (the schema is fetched once per id, so the registry is
not in the loop): the per-record cost the transform pays. CPU time of one process."""

from __future__ import annotations

import io
import json
import struct
import time
from collections.abc import Callable
from typing import Any

import fastavro
import pytest
from google.protobuf import struct_pb2

from streams.events import decode_raw_event
from streams.registry.client import RegisteredSchema
from streams.registry.formats import DECODERS
from tests.benchmarks import report
from tests.benchmarks.workloads import mixed
from tests.registry import segment_pb2

pytestmark = pytest.mark.bench

RUNS = 5
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


def _rate(decode: Callable[[bytes], Any], values: list[bytes]) -> list[float]:
    for value in values[:500]:
        decode(value)
    runs = []
    for _ in range(RUNS):
        started = time.process_time()
        for value in values:
            decode(value)
        runs.append(len(values) / (time.process_time() - started))
    return runs


def test_wire_decode_rate_per_format_beside_json() -> None:
    events = mixed(300)
    parsed = fastavro.parse_schema(AVRO)
    avro = DECODERS["AVRO"](RegisteredSchema(1, "AVRO", json.dumps(AVRO)))
    jsons = DECODERS["JSON"](RegisteredSchema(2, "JSON", "{}"))
    proto_schema = segment_pb2.DESCRIPTOR.serialized_pb
    import base64

    proto = DECODERS["PROTOBUF"](
        RegisteredSchema(3, "PROTOBUF", base64.b64encode(proto_schema).decode(), (),
                         {"google/protobuf/struct.proto": "", "google/protobuf/timestamp.proto": ""})
    )  # fmt: skip
    json_runs = _rate(lambda v: decode_raw_event(v, None), [json.dumps(e).encode() for e in events])
    base = report.record("decode JSON (ours)", "records/s/core", json_runs, note=f"{len(events)} events")
    cases = [
        ("Avro", avro, [_avro(e, parsed) for e in events]),
        ("JSON Schema", jsons, [_header(2) + json.dumps(e).encode() for e in events]),
        ("Protobuf", proto, [_proto(e) for e in events]),
    ]
    lines = [f"JSON (ours): median {base.value:,.0f} records/s/core"]
    for name, decoder, values in cases:
        runs = _rate(lambda v, d=decoder: d(v[5:]), values)
        figure = report.record(f"decode wire {name}", "records/s/core", runs, reference=base.value,
                               compare="vs JSON")  # fmt: skip
        lines.append(f"wire {name}: median {figure.value:,.0f} records/s/core ({figure.ratio:.2f}x JSON)")
    print("\n" + "\n".join(lines))
