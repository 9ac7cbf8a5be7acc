"""Build dead-letter records (schemas/dead_letter.avsc). Pure: no Kafka here."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from streams.errors import (
    Attempt,
    AuthError,
    ConflictError,
    DeliveryError,
    InvalidEventError,
    NotFoundError,
    RateLimitedError,
    RetryableDeliveryError,
)
from streams.mapping.plan import Report

ADVICE = {
    "unparseable": "Fix the producer: records must be Segment-spec JSON objects, or Avro with our schema.",
    "missing_identity": "Add a userId, anonymousId or email to the event.",
    "invalid_event": "Fix the event so it follows the Segment spec, then replay it.",
    "unsupported_type": "This event type is not delivered; filter it out upstream or enable its mapping.",
    "user_not_found": "Intercom does not know this user: send identify first, then replay.",
    "contact_not_found": "No Intercom contact exists for this user yet: send identify first, then replay.",
    "intercom_rejected": "Intercom rejected the request: fix the data (see intercom_error), then replay.",
    "retries_exhausted": "Intercom kept failing; check its status, then replay.",
    "rate_limited": "Intercom kept answering 429 for too long; lower the budget or replay later.",
    "conflict": "Intercom reports a conflicting contact; resolve the duplicate in Intercom, then replay.",
    "internal_error": "A bug in intercom-stream: please report it with this record; replay after the fix.",
    "unauthorized": "The Intercom token was refused; fix the token, then replay.",
    "attributes_unknown": "Create the custom attributes in Intercom (or set attribute_policy), then replay.",
    "attributes_dropped": "The event was delivered without these attributes; create them in Intercom and "
    "replay this record to send them.",
    "values_dropped": "The event was delivered without these values (array_policy / long_string_policy).",
    "values_truncated": "The event was delivered with these values cut to 255 characters.",
    "metadata_trimmed": "Delivered with 10 metadata keys; set metadata_priority to choose which.",
    "invalid_numbers": "The event was delivered without these numbers: NaN and Infinity are not JSON (in "
    "Python, json.dumps(..., allow_nan=False) catches them); fix the producer.",
    "too_deep": "Flatten the event at the producer (Intercom keeps no nesting anyway), then replay it.",
    "suppressed": "This user was deleted on request; lift the suppression (a delete event with "
    "context.intercom_stream.unsuppress) before sending their events again.",
    "alias_unknown": "No lead or user is known under previousId; replay once it is known, or ignore.",
    "alias_conflict": "The new userId already has an established Intercom user of its own (two users "
    "cannot be merged by API): merge them in Intercom, then replay.",
    "event_too_large": "The event is too large to pass through Kafka as a delivery request; slim it down "
    "at the producer (Intercom keeps at most 255 characters per attribute), then replay.",
    "event_name_cap": "Intercom keeps 120 active event names: archive unused ones in Intercom (and raise "
    "event_name_cap), or deny this name, then replay.",
}


@dataclass(frozen=True)
class SourceRecord:
    """Where the failed input came from, exactly as received."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    received_at_ms: int


def _now_ms() -> int:
    return int(time.time() * 1000)


def reason_for(error: DeliveryError) -> str:
    if error.reason:
        return error.reason
    if isinstance(error, NotFoundError):
        path = (error.request or {}).get("path", "")
        return "user_not_found" if path == "/events" else "contact_not_found"
    if isinstance(error, ConflictError):
        return "conflict"
    if isinstance(error, RateLimitedError):
        return "rate_limited"
    if isinstance(error, RetryableDeliveryError):
        return "retries_exhausted"
    if isinstance(error, AuthError):
        return "unauthorized"
    return "intercom_rejected"


def _message(reason: str, detail: str) -> str:
    advice = ADVICE.get(reason)
    return f"{detail}. {advice}" if advice else detail


def _base(source: SourceRecord, reason: str, message: str) -> dict[str, Any]:
    return {
        "reason": reason,
        "message": message,
        "original_key": source.key,
        "original_value": source.value,
        "source_topic": source.topic,
        "source_partition": source.partition,
        "source_offset": source.offset,
        "user_key": None,
        "event_type": None,
        "intercom_status": None,
        "intercom_error": None,
        "intercom_request": None,
        "attempts": 0,
        "details": None,
        "first_seen_at_ms": source.received_at_ms,
        "failed_at_ms": _now_ms(),
        "error_class": None,
        "first_attempt_at_ms": None,
        "last_attempt_at_ms": None,
    }


# What a shrunk field keeps; the full record stays at source_topic/partition/offset.
_KEEP_BYTES = 4096
_SHRINKABLE = ("original_value", "intercom_request", "intercom_error", "details")


def fit_dead_letter(record: dict[str, Any], encoded_size: int, limit: int) -> dict[str, Any]:
    """A copy of ``record`` that fits in ``limit`` bytes: its big fields cut to a prefix, and the
    message saying so (a record over the producer's limit could never be written, and an input
    that can be dead-lettered must be)."""
    if encoded_size <= limit:
        return record
    fitted = dict(record)
    cut = []
    for name in _SHRINKABLE:
        value = fitted.get(name)
        if value is not None and len(value) > _KEEP_BYTES:
            fitted[name] = value[:_KEEP_BYTES]
            cut.append(f"{name} ({len(value)} bytes)")
    fitted["message"] = (
        f"{record['message'][:_KEEP_BYTES]} [dead letter cut to fit Kafka's record size: {', '.join(cut)} "
        f"kept to their first {_KEEP_BYTES} bytes; the full input is at {record['source_topic']}/"
        f"{record['source_partition']}@{record['source_offset']}]"
    )
    return fitted


def _class_name(error: Exception) -> str:
    return f"{type(error).__module__}.{type(error).__qualname__}"


def dead_letter_for_input(
    source: SourceRecord, error: InvalidEventError, user_key: str | None = None, event_type: str | None = None
) -> dict[str, Any]:
    record = _base(source, error.reason, _message(error.reason, error.message))
    record.update(user_key=user_key, event_type=event_type, error_class=_class_name(error))
    return record


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def history_text(history: list[Attempt]) -> str:
    """``"3 attempts: 503 at 2026-…Z, ReadTimeout at …"``: what each attempt came back with, and when."""
    tried = ", ".join(f"{a.outcome} at {_iso(a.at)}" for a in history)
    return f"{len(history)} attempt{'s' if len(history) != 1 else ''}: {tried}"


def dead_letter_for_delivery(
    source: SourceRecord, error: DeliveryError, user_key: str, event_type: str
) -> dict[str, Any]:
    reason = reason_for(error)
    detail = f"{error.message}; {history_text(error.history)}" if error.history else error.message
    record = _base(source, reason, _message(reason, detail))
    record.update(
        user_key=user_key,
        event_type=event_type,
        intercom_status=error.status,
        intercom_error=None if error.error_body is None else json.dumps(error.error_body),
        intercom_request=None if error.request is None else json.dumps(error.request, default=str),
        attempts=error.attempts,
        details=json.dumps({"attempts": [{"outcome": a.outcome, "at": _iso(a.at)} for a in error.history]})
        if error.history
        else None,
        error_class=_class_name(error),
        first_attempt_at_ms=error.first_attempt_at_ms,
        last_attempt_at_ms=error.last_attempt_at_ms,
    )
    return record


def dead_letter_for_report(
    source: SourceRecord, report: Report, user_key: str, event_type: str
) -> dict[str, Any]:
    """A report on an event that *was* delivered (a dropped attribute, a truncated value): the record
    carries the original event, so it can be replayed once the cause is fixed."""
    record = _base(source, report.reason, _message(report.reason, report.message))
    record.update(user_key=user_key, event_type=event_type, details=json.dumps(report.details, default=str))
    return record
