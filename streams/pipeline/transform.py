"""The transform: one input record → decoded event → plan → delivery requests (or a dead letter).

A record keyed by something other than its user goes through the re-key topic first, so that each
user's records meet in one partition (and one table shard). A filtered event (``integrations``,
deny lists, ignored pages) writes nothing: counted and logged (filter_log.py), never dead-lettered.
"""

from __future__ import annotations

import logging
from typing import Any

from streams.deadletter import SourceRecord, dead_letter_for_input
from streams.deadletter.select import REPLAY_HEADER
from streams.errors import InvalidEventError
from streams.events import parse_event
from streams.events.model import SegmentEvent as Event
from streams.mapping import plan_event
from streams.mapping.options import MappingOptions
from streams.observability import metrics
from streams.observability.filter_log import FilterLog
from streams.pipeline.intake import source_of
from streams.pipeline.output import DeadLetters, Output, Written
from streams.pipeline.requests import DeliveryRequest, DeliveryTopicCodec
from streams.registry.intake import InputDecoder
from streams.settings import Settings

log = logging.getLogger(__name__)


class Transform:
    def __init__(
        self,
        settings: Settings,
        decoder: InputDecoder,
        options: MappingOptions,
        output: Output,
        dead_letters: DeadLetters,
    ) -> None:
        self._decoder = decoder  # JSON, our own Avro, and Schema Registry wire format
        self._deletion_topic = settings.deletion_topic
        self._rekey_topic = settings.rekey_topic
        self._delivery_topic = settings.delivery_topic
        self._options = options
        self._output = output
        self._dead_letters = dead_letters
        self._codec = DeliveryTopicCodec()
        self._filter_log = FilterLog(log)

    async def handle(self, message: Any) -> list[Written]:
        source = source_of(message)
        try:
            raw = await self._decoder.decode(message.value, message.headers)
            parsed = parse_event(raw)
        except InvalidEventError as error:
            return [await self._dead_letters.write(dead_letter_for_input(source, error))]
        if message.topic == self._deletion_topic and parsed.type != "delete":
            wrong = InvalidEventError("invalid_event", "only delete events belong on the deletion topic")
            return [await self._reject(source, wrong, parsed)]
        user_key = parsed.user_key.encode()
        if message.topic != self._rekey_topic and message.key != user_key:
            return [await self._rekey(message, source, parsed, user_key)]
        metrics.event_in(parsed.type)
        if any(name == REPLAY_HEADER for name, _ in message.headers or ()):
            metrics.replayed(parsed.type)  # sent again by `intercom-stream dlq replay`
        return await self._plan_and_send(raw, parsed, source)

    async def _rekey(self, message: Any, source: SourceRecord, parsed: Event, user_key: bytes) -> Written:
        """The producer keyed by something else: send it on, keyed by its user."""
        if len(message.value) > self._output.record_limit:  # it came compressed: it cannot go out again
            return await self._reject(
                source, self._output.too_large(f"this {parsed.type}", len(message.value)), parsed
            )
        return await self._output.send(self._rekey_topic, user_key, message.value, message.headers)

    async def _plan_and_send(self, raw: dict[str, Any], parsed: Event, source: SourceRecord) -> list[Written]:
        try:
            plan = plan_event(parsed, self._options)
        except InvalidEventError as error:
            return [await self._reject(source, error, parsed)]
        if plan.filtered is not None:
            self._filter_log.filtered(plan.filtered, parsed.type, parsed.message_id, parsed.user_key)
            return []
        parts = [  # each keyed by the user whose table entries it uses
            (part.user_key.encode(), self._codec.encode_request(DeliveryRequest.planned(part, raw, source)))
            for part in (plan, *plan.related)
        ]
        if (largest := max(len(value) for _, value in parts)) > self._output.record_limit:
            big = self._output.too_large(f"the delivery request for this {parsed.type}", largest)
            return [await self._reject(source, big, parsed)]
        return [await self._output.send(self._delivery_topic, key, value) for key, value in parts]

    async def _reject(self, source: SourceRecord, error: InvalidEventError, parsed: Event) -> Written:
        return await self._dead_letters.write(
            dead_letter_for_input(source, error, parsed.user_key, parsed.type)
        )
