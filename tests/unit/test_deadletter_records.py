"""Dead-letter records and their Kafka Connect-style headers, built from real errors."""

from __future__ import annotations

import json
import time
from typing import Any

from streams.deadletter import (
    SourceRecord,
    dead_letter_for_delivery,
    dead_letter_for_input,
    dead_letter_for_report,
    dead_letter_headers,
)
from streams.delivery import Executor
from streams.delivery.retry import RetryPolicy
from streams.errors import DeliveryError, InvalidEventError, RetryableDeliveryError
from streams.events import parse_event
from streams.mapping import plan_event
from streams.mapping.plan import Report
from streams.records import codec_for

SOURCE = SourceRecord("raw-events", 2, 1234, b"u1", b'{"type":"track"}', 1_700_000_000_000)


def headers(record: dict[str, Any]) -> dict[str, str]:
    pairs = dead_letter_headers(record)
    assert all(isinstance(value, bytes) for _, value in pairs)
    assert len({name for name, _ in pairs}) == len(pairs)  # one value per header
    return {name: value.decode("utf-8") for name, value in pairs}


def test_input_dead_letter_headers_follow_kafka_connect() -> None:
    record = dead_letter_for_input(SOURCE, InvalidEventError("unparseable", "record is not valid JSON"))
    assert headers(record) == {
        "__connect.errors.topic": "raw-events",
        "__connect.errors.partition": "2",
        "__connect.errors.offset": "1234",
        "__connect.errors.exception.class.name": "streams.errors.InvalidEventError",
        "__connect.errors.exception.message": record["message"],
        "intercom-stream-reason": "unparseable",
    }
    assert record["message"].startswith("record is not valid JSON. Fix the producer")
    assert record["error_class"] == "streams.errors.InvalidEventError"
    assert record["first_attempt_at_ms"] is None and record["last_attempt_at_ms"] is None
    codec = codec_for("dead_letter")
    assert codec.decode(codec.encode(record)) == record


def test_report_headers_name_the_report_class() -> None:
    report = Report(
        "attributes_dropped", "dropped favourite_colour", {"values": {"favourite_colour": "green"}}
    )
    record = dead_letter_for_report(SOURCE, report, "u1", "identify")
    got = headers(record)
    assert got["__connect.errors.exception.class.name"] == "streams.mapping.plan.Report"
    assert got["intercom-stream-reason"] == "attributes_dropped"
    assert record["error_class"] is None


def test_headers_of_a_record_written_before_error_class_existed() -> None:
    record = dead_letter_for_report(SOURCE, Report("values_truncated", "cut", {}), "u1", "identify")
    del record["error_class"]  # a dict built by code that predates the field
    assert headers(record)["__connect.errors.exception.class.name"] == "streams.mapping.plan.Report"


class FlakyIntercom:
    """Every call fails with a 503 after a short pause, so attempts are apart in time."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, method: str, path: str, body: Any) -> Any:
        self.calls.append(time.time())
        raise RetryableDeliveryError(f"503 on {method} {path}", status=503, error_body={"type": "error.list"})


async def test_delivery_dead_letter_carries_attempts_and_their_times() -> None:
    intercom = FlakyIntercom()
    policy = RetryPolicy(max_attempts=3, base_delay_s=0.02, max_delay_s=0.02)
    executor = Executor(intercom, {}, {}, policy)
    event = parse_event({"type": "identify", "userId": "u1", "traits": {"email": "a@x.io"}})
    before = int(time.time() * 1000)
    try:
        await executor.execute(plan_event(event))
    except DeliveryError as exc:
        error = exc
    else:
        raise AssertionError("503s must end in a DeliveryError")
    after = int(time.time() * 1000)
    assert len(intercom.calls) == 3
    record = dead_letter_for_delivery(SOURCE, error, "u1", "identify")
    assert record["reason"] == "retries_exhausted" and record["attempts"] == 3
    assert record["intercom_status"] == 503
    assert json.loads(record["intercom_error"]) == {"type": "error.list"}
    assert record["error_class"] == "streams.errors.RetryableDeliveryError"
    # Ordering only (no durations): stamped just before the first call, and the last attempt
    # after the second call and before the third.
    first, last = record["first_attempt_at_ms"], record["last_attempt_at_ms"]
    calls_ms = [int(t * 1000) for t in intercom.calls]
    assert before <= first <= calls_ms[0]
    assert calls_ms[1] <= last <= calls_ms[2] <= after
    got = headers(record)
    assert got["__connect.errors.exception.class.name"] == "streams.errors.RetryableDeliveryError"
    assert got["__connect.errors.offset"] == "1234"
    codec = codec_for("dead_letter")
    assert codec.decode(codec.encode(record)) == record


def test_a_dead_letter_too_large_for_kafka_is_cut_to_fit_and_says_where_the_input_is() -> None:
    from streams.deadletter import SourceRecord, dead_letter_for_input, fit_dead_letter
    from streams.errors import InvalidEventError
    from streams.records import codec_for

    codec = codec_for("dead_letter")
    source = SourceRecord("raw", 2, 41, b"u-1", b"x" * 3_000_000, 0)
    record = dead_letter_for_input(source, InvalidEventError("internal_error", "boom"))
    size = len(codec.encode(record))
    fitted = fit_dead_letter(record, size, 1_000_000)
    assert len(codec.encode(fitted)) < 1_000_000
    assert fitted["original_value"] == b"x" * 4096
    assert "raw/2@41" in fitted["message"] and "original_value (3000000 bytes)" in fitted["message"]
    assert fit_dead_letter(record, 900, 1_000_000) is record  # small enough: untouched
