"""Everything the worker writes to Kafka goes through one ``Output``: queued, never awaited one by one.

``send`` returns once the record is queued; the awaitable it returns resolves once the broker has it
(acks=all). An input record is marked done only after everything it wrote resolved, which keeps
delivery at-least-once without a round trip per event.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any

import faust

from streams.deadletter import dead_letter_headers, fit_dead_letter
from streams.errors import InvalidEventError
from streams.observability import metrics
from streams.records import codec_for

log = logging.getLogger(__name__)

# A record queued for the broker: resolves once the broker has it.
Written = Awaitable[Any]
Headers = Any  # as aiokafka takes them: a list of (name, bytes) pairs, or None
RECORD_OVERHEAD_BYTES = 16_384  # room for the key, headers and framing under the producer's limit


class Output:
    def __init__(self, app: faust.App) -> None:
        self._app = app
        # What one record may weigh: the producer's limit, less room for the key, headers and framing.
        self.record_limit = app.conf.producer_max_request_size - RECORD_OVERHEAD_BYTES

    async def send(self, topic: str, key: bytes | None, value: bytes, headers: Headers = None) -> Written:
        return await self._app.producer.send(
            topic, key, value, partition=None, timestamp=None, headers=headers
        )

    def too_large(self, what: str, size: int) -> InvalidEventError:
        return InvalidEventError(
            "event_too_large",
            f"{what} is {size} bytes, over the {self.record_limit} bytes a Kafka record may have here "
            "(producer max_request_size)",
        )


class DeadLetters:
    """The one writer of dead-letter records (schemas/dead_letter.avsc): counted, logged, fitted."""

    def __init__(self, output: Output, topic: str) -> None:
        self._output = output
        self._topic = topic
        self._codec = codec_for("dead_letter")

    async def write(self, record: dict[str, Any]) -> Written:
        metrics.dead_letter(record["reason"])
        log.warning(
            "dead-lettered %s/%s@%s: %s: %s",
            record["source_topic"],
            record["source_partition"],
            record["source_offset"],
            record["reason"],
            record["message"],
        )
        key = record["user_key"].encode() if record["user_key"] else record["original_key"]
        value = self._codec.encode(record)
        limit = self._output.record_limit
        if len(value) > limit:
            record = fit_dead_letter(record, len(value), limit)
            value = self._codec.encode(record)
        return await self._output.send(self._topic, key, value, dead_letter_headers(record))
