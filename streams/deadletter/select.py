"""Browse and pick dead letters: decode a topic record, filter by reason/time/position, plan a replay.

Pure: the Kafka reading and writing is in ``streams.deadletter.tool``.
"""

from __future__ import annotations

import heapq
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from streams.errors import IntercomStreamError
from streams.events.decode import AVRO_CONTENT_TYPE
from streams.records import AvroCodec, RecordDecodeError, codec_for

REPLAY_HEADER = "intercom-stream-replay-of"
UNDECODABLE = "undecodable"  # the reason shown for a value that is not a dead-letter record


class SelectionError(IntercomStreamError):
    """A filter given on the command line cannot be understood."""


@dataclass(frozen=True)
class Letter:
    """One record of the dead-letter topic. ``record`` is None when its value is not a dead-letter
    record (``problem`` says why): it is still listed, never silently skipped."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    record: dict[str, Any] | None
    problem: str | None = None

    @property
    def position(self) -> str:
        return f"{self.partition}:{self.offset}"

    @property
    def reason(self) -> str:
        return str(self.record["reason"]) if self.record else UNDECODABLE

    @property
    def failed_at_ms(self) -> int:
        """When the worker dead-lettered it (the Kafka timestamp if the value cannot be read)."""
        return int(self.record["failed_at_ms"]) if self.record else self.timestamp_ms

    @property
    def user(self) -> str | None:
        if self.record and self.record.get("user_key"):
            return str(self.record["user_key"])
        return None if self.key is None else self.key.decode("utf-8", errors="replace")


def letter_from(message: Any, codec: AvroCodec | None = None) -> Letter:
    """A Letter from a consumed record (anything with aiokafka ConsumerRecord's attributes)."""
    codec = codec or codec_for("dead_letter")
    record: dict[str, Any] | None = None
    problem = None
    try:
        record = codec.decode(message.value or b"")
    except RecordDecodeError as exc:
        problem = str(exc)
    return Letter(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        timestamp_ms=message.timestamp,
        key=message.key,
        headers=tuple((name, bytes(value)) for name, value in message.headers or ()),
        record=record,
        problem=problem,
    )


# -- filters ---------------------------------------------------------------------------------------

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_time(text: str, now_ms: int) -> int:
    """Epoch ms from an ISO 8601 time (no zone = UTC; a date alone = its midnight) or a duration
    before ``now_ms`` (``30m``, ``2h``, ``7d``)."""
    value = text.strip()
    duration = _DURATION.match(value)
    if duration:
        return now_ms - int(float(duration.group(1)) * _UNIT_S[duration.group(2)] * 1000)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise SelectionError(
            f"not a time: {text!r} (use ISO 8601 such as 2026-11-24T06:00:00Z, or a duration such as 2h)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def parse_positions(text: str) -> frozenset[tuple[int, int]]:
    """``"0:12,1:5"`` → {(0, 12), (1, 5)}: dead-letter partition:offset pairs as ``dlq list`` shows them."""
    positions = set()
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        partition, sep, offset = part.partition(":")
        if not sep or not partition.strip().isdigit() or not offset.strip().isdigit():
            raise SelectionError(f"not a PARTITION:OFFSET: {part!r} (e.g. 0:12)")
        positions.add((int(partition), int(offset)))
    if not positions:
        raise SelectionError("no PARTITION:OFFSET given")
    return frozenset(positions)


def parse_reasons(values: Iterable[str] | None) -> frozenset[str]:
    """Repeated and/or comma-separated ``--reason`` values."""
    return frozenset(r.strip() for value in values or () for r in value.split(",") if r.strip())


@dataclass(frozen=True)
class Selection:
    """Which dead letters a command acts on: every given filter must match (none given = all)."""

    reasons: frozenset[str] = frozenset()
    since_ms: int | None = None  # inclusive
    until_ms: int | None = None  # exclusive
    positions: frozenset[tuple[int, int]] = frozenset()

    def __post_init__(self) -> None:
        if self.since_ms is not None and self.until_ms is not None and self.since_ms >= self.until_ms:
            raise SelectionError("--since must be before --until")

    def matches(self, letter: Letter) -> bool:
        if self.reasons and letter.reason not in self.reasons:
            return False
        if self.positions and (letter.partition, letter.offset) not in self.positions:
            return False
        if self.since_ms is not None and letter.failed_at_ms < self.since_ms:
            return False
        return self.until_ms is None or letter.failed_at_ms < self.until_ms


def count_by_reason(letters: Iterable[Letter]) -> dict[str, int]:
    """Reason → count, most frequent first."""
    return dict(Counter(letter.reason for letter in letters).most_common())


class Tally:
    """Counts per reason over every letter added, keeping only the latest ``limit`` of them (all when
    None), so listing a topic of millions of dead letters holds ``limit`` records in memory."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.matched = 0
        self._counts: Counter[str] = Counter()
        # Min-heap on (failed_at_ms, partition, offset): unique keys, so letters are never compared.
        self._kept: list[tuple[tuple[int, int, int], Letter]] = []

    def add(self, letter: Letter) -> None:
        self.matched += 1
        self._counts[letter.reason] += 1
        entry = ((letter.failed_at_ms, letter.partition, letter.offset), letter)
        if self.limit is None or len(self._kept) < self.limit:
            heapq.heappush(self._kept, entry)
        elif entry[0] > self._kept[0][0]:
            heapq.heapreplace(self._kept, entry)

    def latest(self) -> list[Letter]:
        """The kept letters, oldest first."""
        return [letter for _, letter in sorted(self._kept, key=lambda entry: entry[0])]

    def by_reason(self) -> dict[str, int]:
        """Reason → count, most frequent first."""
        return dict(self._counts.most_common())


# -- replay ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Replay:
    """The input record to publish again for one dead letter."""

    letter: Letter
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]


def _is_avro_event(value: bytes) -> bool:
    """Avro raw events need their content-type header back (the dead letter keeps only the bytes)."""
    try:
        json.loads(value)
        return False
    except RecursionError:  # JSON nested too deep to parse (a too_deep record): JSON, not Avro
        return False
    except ValueError:
        pass
    try:
        codec_for("raw_event").decode(value)
    except RecordDecodeError:
        return False
    return True


def replay_for(letter: Letter) -> Replay | None:
    """The original event bytes, keyed by user and marked as a replay of this dead letter; None when
    there is nothing to replay (the value is not a dead-letter record)."""
    record = letter.record
    if record is None:
        return None
    value: bytes = record["original_value"]
    key = record["user_key"].encode() if record.get("user_key") else record.get("original_key")
    headers = [(REPLAY_HEADER, f"{letter.topic}/{letter.partition}/{letter.offset}".encode())]
    if value and _is_avro_event(value):
        headers.append(("content-type", AVRO_CONTENT_TYPE.encode()))
    return Replay(letter, key, value, tuple(headers))


def replay_order(letters: Sequence[Letter]) -> list[Letter]:
    """In the order the worker first received the inputs, so one user's events go back in order."""

    def first_seen(letter: Letter) -> int:
        return int(letter.record["first_seen_at_ms"]) if letter.record else letter.timestamp_ms

    return sorted(letters, key=lambda x: (first_seen(x), x.partition, x.offset))
