"""Our records' codec: fastavro (``streams.records.codec``) beside avro-python3 (``ReferenceCodec``), on
the two hot topics' records: delivery requests as the transform writes them (planned from the
benchmark mix) and raw events as an Avro producer would send them. Encode and decode, records per
CPU-second of one process, median of 5 runs; the ratio is fastavro's figure over avro-python3's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from streams.deadletter import SourceRecord
from streams.events import decode_raw_event, parse_event
from streams.mapping import plan_event
from streams.pipeline.requests import DeliveryRequest
from streams.records import codec_for
from streams.records.reference import reference_codec_for
from tests.benchmarks import report
from tests.benchmarks.workloads import mixed

pytestmark = pytest.mark.bench

RUNS = 5
CONTEXT = json.dumps({"library": {"name": "analytics.js", "version": "4.1.0"}, "ip": "203.0.113.7"})


def delivery_requests(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The delivery records the transform writes for ``events``."""
    records = []
    for offset, event in enumerate(events):
        value = json.dumps(event).encode()
        raw = decode_raw_event(value, None)
        plan = plan_event(parse_event(raw))
        source = SourceRecord("raw-events", 0, offset, plan.user_key.encode(), value, 1_760_000_000_000)
        records += [DeliveryRequest.planned(part, raw, source).to_record() for part in (plan, *plan.related)]
    return records


def raw_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``events`` as ``schemas/raw_event.avsc`` records (free-form parts as JSON text)."""
    records = []
    for n, event in enumerate(events):
        record: dict[str, Any] = {key: event.get(key) for key in ("type", "userId", "event", "groupId")}
        record["messageId"] = f"msg-{n:08d}"
        record["timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(event["timestamp"]))
        for part in ("traits", "properties"):
            record[part] = json.dumps(event[part]) if part in event else None
        record["context"] = CONTEXT
        records.append(record)
    return records


def rate(work: Callable[[Any], Any], items: list[Any]) -> list[float]:
    for item in items[:300]:  # warm up
        work(item)
    runs = []
    for _ in range(RUNS):
        started = time.process_time()
        for item in items:
            work(item)
        runs.append(len(items) / (time.process_time() - started))
    return runs


@pytest.mark.parametrize(
    ("name", "build"), [("delivery_request", delivery_requests), ("raw_event", raw_events)]
)
def test_codec_records_per_core(
    name: str, build: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
) -> None:
    records = build(mixed(200))
    fast, reference = codec_for(name), reference_codec_for(name)
    encoded = [fast.encode(record) for record in records]
    assert encoded == [
        reference.encode(record) for record in records
    ]  # the same bytes, as the unit test says
    lines = [f"{name}: {len(records)} records, {sum(map(len, encoded)) / len(encoded):.0f} bytes each"]
    for step, work, items in (
        ("encode", lambda codec: codec.encode, records),
        ("decode", lambda codec: codec.decode, encoded),
    ):
        base = report.record(
            f"{name} {step}, avro-python3", "records/s/core", rate(work(reference), items),
            note=f"{len(records)} records, CPU time of one process",
        )  # fmt: skip
        figure = report.record(
            f"{name} {step}, fastavro", "records/s/core", rate(work(fast), items),
            reference=base.value, compare="vs avro-python3",
        )  # fmt: skip
        lines.append(
            f"  {step}: avro-python3 {base.value:,.0f}, fastavro {figure.value:,.0f} records/s/core "
            f"({figure.ratio:.1f}x)"
        )
    print("\n" + "\n".join(lines))
