"""Small Kafka helpers for the commands (publish, progress, reading a topic to its end)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from streams.errors import InvalidEventError
from streams.events import decode_raw_event, parse_event
from streams.kafka_bootstrap import wait_for_broker

# A line is published byte for byte as read, even when it is not UTF-8 (the worker dead-letters it).
_LINE_ERRORS = "surrogateescape"
# Called with (line number from 1, why the worker will dead-letter that line).
ProblemReporter = Callable[[int, str], None]


def _inspect(line: str) -> tuple[bytes | None, str | None]:
    """The user key the way a well-behaved producer sets it (None for lines that are not events), and
    why the worker will dead-letter the line at intake (None when it will not)."""
    try:
        event = decode_raw_event(line.encode("utf-8", _LINE_ERRORS))
    except InvalidEventError as error:  # not JSON, not an object, nested too deep
        return None, f"{error.reason}: {error.message}"
    key = None
    for name in ("userId", "anonymousId"):
        value = event.get(name)
        if isinstance(value, str | int) and str(value).strip():
            key = str(value).strip().encode()
            break
    try:
        parse_event(event)
    except InvalidEventError as error:
        return key, f"{error.reason}: {error.message}"
    return key, None


def key_for_line(line: str) -> bytes | None:
    """The user key the way a well-behaved producer sets it; None for lines that are not events."""
    return _inspect(line)[0]


def read_jsonl(path: Path) -> list[str]:
    """The non-blank lines of a JSONL file, split at newlines only (``str.splitlines`` would also cut
    a line at U+2028 and other separators that JSON strings may hold as they are)."""
    text = path.read_bytes().decode("utf-8", _LINE_ERRORS)
    return [line.removesuffix("\r") for line in text.split("\n") if line.strip()]


async def publish_lines(
    bootstrap: str,
    topic: str,
    lines: Iterable[str],
    *,
    security: Mapping[str, Any] | None = None,
    on_problem: ProblemReporter | None = None,
) -> int:
    """Publish each line as one record, keyed by user; waits for every ack. A line the worker will
    dead-letter is published too (its dead letter is the clear answer), and told to ``on_problem``."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, **(security or {})
    )
    await producer.start()
    count = 0
    try:
        for number, line in enumerate(lines, 1):
            key, problem = _inspect(line)
            if problem is not None and on_problem is not None:
                on_problem(number, problem)
            await producer.send_and_wait(topic, line.encode("utf-8", _LINE_ERRORS), key=key)
            count += 1
    finally:
        await producer.stop()
    return count


async def describe_partition_counts(admin: AIOKafkaAdminClient, topics: Sequence[str]) -> dict[str, int]:
    """Partition count of each existing topic among ``topics`` (absent ones are left out)."""
    described = await admin.describe_topics(list(topics))
    return {
        t["topic"]: len(t["partitions"]) for t in described if t.get("error_code", 0) == 0 and t["partitions"]
    }


async def await_topics(admin: AIOKafkaAdminClient, topics: Sequence[str], timeout_s: float) -> dict[str, int]:
    """Partition counts once the broker's metadata shows every topic (creation is asynchronous);
    TimeoutError naming the missing ones after ``timeout_s``."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        counts = await describe_partition_counts(admin, topics)
        missing = [t for t in topics if t not in counts]
        if not missing:
            return counts
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"topics not there within {timeout_s:g}s: {', '.join(missing)}")
        await asyncio.sleep(0.2)


async def partition_counts(
    bootstrap: str, topics: Sequence[str], *, security: Mapping[str, Any] | None = None
) -> dict[str, int]:
    """Partition count of each existing topic among ``topics`` (absent ones are left out)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **(security or {}))
    await admin.start()
    try:
        return await describe_partition_counts(admin, topics)
    finally:
        await admin.close()


async def end_offsets(
    bootstrap: str, topics: Sequence[str], *, security: Mapping[str, Any] | None = None
) -> dict[TopicPartition, int]:
    """End offset of every partition of ``topics``; raises KafkaError if a topic does not exist."""
    counts = await partition_counts(bootstrap, topics, security=security)
    missing = [t for t in topics if t not in counts]
    if missing:
        raise KafkaError(f"topics do not exist: {', '.join(missing)}")
    partitions = [TopicPartition(topic, p) for topic in topics for p in range(counts[topic])]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **(security or {}))
    await consumer.start()
    try:
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def group_lag(
    bootstrap: str, group_id: str, topics: Sequence[str], *, security: Mapping[str, Any] | None = None
) -> int | None:
    """Records of ``topics`` not yet committed by the consumer group (0 = all processed).

    None while the broker cannot tell yet (group coordinator still loading, group not created).
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **(security or {}))
    await admin.start()
    try:
        ends = await end_offsets(bootstrap, topics, security=security)
        committed = await admin.list_consumer_group_offsets(group_id)
    except KafkaError:
        return None
    finally:
        await admin.close()
    lag = 0
    for tp, end in ends.items():
        meta = committed.get(tp)
        done = meta.offset if meta is not None and meta.offset >= 0 else 0
        lag += max(0, end - done)
    return lag


async def read_all(bootstrap: str, topic: str, *, security: Mapping[str, Any] | None = None) -> list[Any]:
    """Every record currently in ``topic`` (up to the end offsets at the time of the call); [] when the
    topic does not exist."""
    try:
        return [record async for record in iter_topic(bootstrap, topic, security=security)]
    except KafkaError:
        return []


async def iter_topic(
    bootstrap: str, topic: str, *, security: Mapping[str, Any] | None = None
) -> AsyncIterator[Any]:
    """Yield the records of ``topic`` from the beginning up to its end offsets at the time of the call.

    Bounded (stops at those offsets, never waits for new records) and read-only: no consumer group,
    partitions assigned by hand, so nothing is ever committed. Raises KafkaError if the topic does not
    exist. Records stream through: memory stays flat however large the topic.
    """
    ends = {
        tp: off for tp, off in (await end_offsets(bootstrap, [topic], security=security)).items() if off > 0
    }
    if not ends:
        return
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **(security or {}),
    )
    await consumer.start()
    try:
        consumer.assign(list(ends))
        await consumer.seek_to_beginning(*ends)
        remaining = dict(ends)
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, messages in batch.items():
                for message in messages:
                    if message.offset < ends[tp]:
                        yield message
            for tp in list(remaining):
                # The position, not the last offset seen: the end may be a transaction marker or
                # a compacted-away offset that is never returned as a record.
                if await consumer.position(tp) >= ends[tp]:
                    remaining.pop(tp)
    finally:
        await consumer.stop()


async def first_offset_from(
    bootstrap: str,
    topic: str,
    partition: int,
    offset: int,
    *,
    security: Mapping[str, Any] | None = None,
    connect_timeout_s: float = 0.0,
) -> int | None:
    """The offset of the first record of a partition at or after ``offset`` (None: none there yet).

    Transaction markers and compacted-away records occupy offsets but are never delivered, so this
    is how a consumer can tell such a gap from a record it lost. A broker restarting meanwhile is
    waited for up to ``connect_timeout_s``."""
    if connect_timeout_s > 0:
        await wait_for_broker(bootstrap, connect_timeout_s, **(security or {}))
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **(security or {}))
    await consumer.start()
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek(tp, offset)
        batch = await consumer.getmany(tp, timeout_ms=2000, max_records=1)
        records = batch.get(tp) or []
        return int(records[0].offset) if records else None
    finally:
        await consumer.stop()


async def wait_for_topics(
    bootstrap: str,
    topics: Sequence[str],
    timeout_s: float = 60.0,
    *,
    security: Mapping[str, Any] | None = None,
) -> None:
    """Wait until every topic exists (the worker creates them at start-up)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **(security or {}))
    await admin.start()
    try:
        await await_topics(admin, topics, timeout_s)
    finally:
        await admin.close()
