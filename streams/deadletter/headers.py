"""Kafka headers of a dead-letter record, named like Kafka Connect's dead-letter-queue context headers.

Tools that already read Connect dead letters (kcat ``%h``, Connect DLQ viewers, alert rules on
``__connect.errors.*``) then show where the record came from and why it failed without decoding the
Avro value. Connect writes every value as UTF-8 text (numbers too); so do we. Pure: no Kafka here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streams.mapping.plan import Report

TOPIC = "__connect.errors.topic"
PARTITION = "__connect.errors.partition"
OFFSET = "__connect.errors.offset"
EXCEPTION_CLASS = "__connect.errors.exception.class.name"
EXCEPTION_MESSAGE = "__connect.errors.exception.message"
REASON = "intercom-stream-reason"

# Reports on delivered events (a dropped attribute, a truncated value) have no exception.
REPORT_CLASS = f"{Report.__module__}.{Report.__qualname__}"


def dead_letter_headers(record: Mapping[str, Any]) -> list[tuple[str, bytes]]:
    """The headers to send with ``record`` (a dict of ``schemas/dead_letter.avsc``)."""
    values = [
        (TOPIC, record["source_topic"]),
        (PARTITION, str(record["source_partition"])),
        (OFFSET, str(record["source_offset"])),
        (EXCEPTION_CLASS, record.get("error_class") or REPORT_CLASS),
        (EXCEPTION_MESSAGE, record["message"]),
        (REASON, record["reason"]),
    ]
    return [(name, value.encode("utf-8")) for name, value in values]
