"""What travels on the delivery topic: a ``DeliveryRequest`` per planned event, and control records.

A request is the plan of one input event for one user (``schemas/delivery_request.avsc``), with where
its input came from so that its dead letters can name it. A control record (``schemas/control_record.avsc``,
marked by the ``CONTROL_HEADER`` header) asks the sink to do something in a user's lane; today only
``ParkExpiryTick``: dead-letter that user's parked work past its bound. Pure: no Kafka here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from streams.deadletter import SourceRecord
from streams.mapping import Operation, Plan, Report
from streams.mapping.timestamps import event_seconds
from streams.records import codec_for

CONTROL_HEADER = "intercom-stream-control"
PARK_EXPIRY = "park_expiry"


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class DeliveryRequest:
    request_id: str
    user_key: str
    event_type: str
    operations: tuple[Operation, ...]
    event_json: str  # the original event, as JSON text
    reports: tuple[Report, ...]
    source_topic: str
    source_partition: int
    source_offset: int
    received_at_ms: int

    @classmethod
    def planned(cls, plan: Plan, event: dict[str, Any], source: SourceRecord) -> DeliveryRequest:
        """The request for ``plan`` (of ``event``, read from ``source``)."""
        message_id = event.get("messageId")
        return cls(
            request_id=str(message_id or f"{source.topic}/{source.partition}/{source.offset}"),
            user_key=plan.user_key,
            event_type=plan.event_type,
            operations=plan.operations,
            event_json=json.dumps(event, separators=(",", ":"), default=str, allow_nan=False),
            reports=plan.reports,
            source_topic=source.topic,
            source_partition=source.partition,
            source_offset=source.offset,
            received_at_ms=source.received_at_ms,
        )

    def to_record(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "user_key": self.user_key,
            "event_type": self.event_type,
            "operations": [op.to_record() for op in self.operations],
            "event": self.event_json,
            "reports": [report.to_json() for report in self.reports],
            "source_topic": self.source_topic,
            "source_partition": self.source_partition,
            "source_offset": self.source_offset,
            "received_at_ms": self.received_at_ms,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> DeliveryRequest:
        return cls(
            request_id=record["request_id"],
            user_key=record["user_key"],
            event_type=record["event_type"],
            operations=tuple(Operation.from_record(op) for op in record["operations"]),
            event_json=record["event"],
            reports=tuple(Report.from_json(text) for text in record.get("reports") or ()),
            source_topic=record["source_topic"],
            source_partition=int(record["source_partition"]),
            source_offset=int(record["source_offset"]),
            received_at_ms=int(record["received_at_ms"]),
        )

    def plan(self, start: int = 0) -> Plan:
        """The plan from operation ``start``; a parked rest carries no reports (they were
        dead-lettered when it was parked)."""
        return Plan(self.user_key, self.event_type, self.operations[start:], () if start else self.reports)

    def event(self) -> dict[str, Any]:
        try:
            event = json.loads(self.event_json)
        except ValueError:
            return {}
        return event if isinstance(event, dict) else {}

    def event_time(self) -> int | None:
        """When the event happened (unix seconds), for the newest-value-wins check."""
        event = self.event()
        return event_seconds(event) if event else None

    def source(self) -> SourceRecord:
        """The input this request was planned from, for its dead letters."""
        return SourceRecord(
            self.source_topic,
            self.source_partition,
            self.source_offset,
            self.user_key.encode(),
            self.event_json.encode(),
            self.received_at_ms,
        )


@dataclass(frozen=True)
class ParkExpiryTick:
    """Dead-letter ``user_key``'s parked work that is past its bound (runs in that user's lane)."""

    user_key: str
    issued_at_ms: int

    @classmethod
    def now(cls, user_key: str) -> ParkExpiryTick:
        return cls(user_key, _now_ms())


DeliveryTopicRecord = DeliveryRequest | ParkExpiryTick


class DeliveryTopicCodec:
    """Bytes and headers on the delivery topic ↔ ``DeliveryRequest`` / ``ParkExpiryTick``."""

    def __init__(self) -> None:
        self._requests = codec_for("delivery_request")
        self._control = codec_for("control_record")

    def encode_request(self, request: DeliveryRequest) -> bytes:
        return self._requests.encode(request.to_record())

    def encode_tick(self, tick: ParkExpiryTick) -> tuple[bytes, list[tuple[str, bytes]]]:
        record = {"kind": PARK_EXPIRY, "user_key": tick.user_key, "issued_at_ms": tick.issued_at_ms}
        return self._control.encode(record), [(CONTROL_HEADER, PARK_EXPIRY.encode())]

    def decode(self, value: bytes, headers: Iterable[tuple[str, bytes]] | None) -> DeliveryTopicRecord:
        if any(name == CONTROL_HEADER for name, _ in headers or ()):
            record = self._control.decode(value)
            return ParkExpiryTick(record["user_key"], int(record["issued_at_ms"]))
        return DeliveryRequest.from_record(self._requests.decode(value))
