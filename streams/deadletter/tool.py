"""``intercom-stream dlq``: read the dead-letter topic, and replay chosen records to the input topic.

Reading is bounded and leaves no trace: no consumer group (partitions assigned by hand, offsets
sought), so nothing is committed, and it stops at the end offsets taken at start. Replaying publishes
each selected record's original event bytes to ``raw_events_topic``, keyed by user and marked with
an ``intercom-stream-replay-of: <topic>/<partition>/<offset>`` header.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from streams.deadletter.select import (
    Letter,
    Replay,
    Selection,
    Tally,
    count_by_reason,
    letter_from,
    replay_for,
    replay_order,
)
from streams.errors import IntercomStreamError
from streams.kafka_io import iter_topic, partition_counts
from streams.records import codec_for
from streams.settings import Settings

# Sends awaited together: enough to keep the producer's batches full, few enough to bound memory.
SEND_WINDOW = 500


class DeadLetterToolError(IntercomStreamError):
    """The dead-letter topic cannot be read, or the record asked for is not there."""


@dataclass
class Listing:
    shown: list[Letter]  # the latest ``limit`` matching records, oldest first
    counts: dict[str, int]  # reason → count over every matching record
    matched: int
    total: int


@dataclass
class ReplayPlan:
    replays: list[Replay]  # in replay order
    skipped: list[Letter] = field(default_factory=list)  # not dead-letter records: nothing to replay

    @property
    def planned(self) -> dict[str, int]:
        return count_by_reason(r.letter for r in self.replays)


def _unreadable(settings: Settings, exc: Exception) -> DeadLetterToolError:
    return DeadLetterToolError(
        f"cannot read the dead-letter topic {settings.dead_letter_topic!r} at {settings.bootstrap_servers}: "
        f"{exc} (check INTERCOM_STREAM_DEAD_LETTER_TOPIC and INTERCOM_STREAM_BOOTSTRAP_SERVERS)"
    )


async def scan(settings: Settings, security: Mapping[str, Any]) -> AsyncIterator[Letter]:
    """Every record of the dead-letter topic, decoded, up to the end offsets taken at start."""
    codec = codec_for("dead_letter")
    try:
        async for message in iter_topic(
            settings.bootstrap_servers, settings.dead_letter_topic, security=security
        ):
            yield letter_from(message, codec)
    except KafkaError as exc:
        raise _unreadable(settings, exc) from None


async def list_letters(
    settings: Settings, security: Mapping[str, Any], selection: Selection, limit: int | None
) -> Listing:
    tally = Tally(limit)
    total = 0
    async for letter in scan(settings, security):
        total += 1
        if selection.matches(letter):
            tally.add(letter)
    return Listing(tally.latest(), tally.by_reason(), tally.matched, total)


async def show_letter(settings: Settings, security: Mapping[str, Any], partition: int, offset: int) -> Letter:
    """The one record at ``partition:offset``, read directly (not by scanning the topic)."""
    tp = TopicPartition(settings.dead_letter_topic, partition)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, group_id=None, enable_auto_commit=False, **security
    )
    try:
        counts = await partition_counts(settings.bootstrap_servers, [tp.topic], security=security)
        if tp.topic not in counts:
            raise _unreadable(settings, KafkaError("the topic does not exist"))
        if partition >= counts[tp.topic]:
            raise DeadLetterToolError(
                f"{tp.topic!r} has no partition {partition} (partitions 0..{counts[tp.topic] - 1})"
            )
        await consumer.start()
        consumer.assign([tp])
        first = (await consumer.beginning_offsets([tp]))[tp]
        end = (await consumer.end_offsets([tp]))[tp]
        if not first <= offset < end:
            held = f"offsets {first}..{end - 1}" if end > first else "no records"
            raise DeadLetterToolError(
                f"no record at {partition}:{offset}: partition {partition} holds {held}"
            )
        consumer.seek(tp, offset)
        while await consumer.position(tp) < end:
            batch = await consumer.getmany(tp, timeout_ms=1000)
            found = next((m for m in batch.get(tp, []) if m.offset >= offset), None)
            if found is not None and found.offset == offset:
                return letter_from(found)
            if found is not None:
                break
        raise DeadLetterToolError(
            f"no record at {partition}:{offset} (compacted away, or a transaction marker)"
        )
    except KafkaError as exc:
        raise _unreadable(settings, exc) from None
    finally:
        with contextlib.suppress(Exception):
            await consumer.stop()


async def plan_replay(settings: Settings, security: Mapping[str, Any], selection: Selection) -> ReplayPlan:
    """What replaying the selected dead letters would publish, in replay order (nothing is sent)."""
    matching = [letter async for letter in scan(settings, security) if selection.matches(letter)]
    plan = ReplayPlan([])
    for letter in replay_order(matching):
        replay = replay_for(letter)
        if replay is None:
            plan.skipped.append(letter)
        else:
            plan.replays.append(replay)
    return plan


async def publish_replays(
    settings: Settings, security: Mapping[str, Any], replays: list[Replay]
) -> dict[str, int]:
    """Publish in order (idempotent producer: a user's records keep their order); every ack awaited."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers, acks="all", enable_idempotence=True, **security
    )
    published: Counter[str] = Counter()
    try:
        await producer.start()
        for start in range(0, len(replays), SEND_WINDOW):
            window = replays[start : start + SEND_WINDOW]
            sent = [
                await producer.send(settings.raw_events_topic, r.value, key=r.key, headers=list(r.headers))
                for r in window
            ]
            await asyncio.gather(*sent)
            published.update(r.letter.reason for r in window)
    except KafkaError as exc:
        done = sum(published.values())
        raise DeadLetterToolError(
            f"replay to {settings.raw_events_topic!r} failed after {done} of {len(replays)} records: {exc}"
        ) from None
    finally:
        with contextlib.suppress(Exception):
            await producer.stop()
    return dict(published.most_common())
