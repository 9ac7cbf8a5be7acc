"""Guards around faust-streaming 0.15.3 offset handling, which otherwise commits events it never processed.

Found with tests/integration/test_restart.py on Kafka 4.1 (about one event lost per worker restart):

1. *Read-offset filter.* Faust's fetch loop drops any record below the partition's "read offset".
   After an assignment it seeks to the committed offsets, but a fetch already in flight then sets
   the read offset past the committed one, so the refetched record at the committed offset is
   dropped. We disable the filter: a record fetched twice is processed twice (our effects are
   idempotent: Intercom dedupes events, contact writes are PUTs, companies are upserts).
2. *Off-by-one in the commit.* Faust's commit guard treats the committed offset as the last
   processed one (Kafka's is the next to read), so with offset N unacked and N+1 acked it commits
   past N. We never commit past an unacked record at the committed offset (offsets that Faust
   knows to be empty, its "gaps", still count as done).
3. *Acks without processing.* Records buffered before a rebalance are skipped by the stream *and
   acked*. Only records our handler finished (``mark_handled``) may be acked; the partition's owner
   reads the others again after its seek.

4. *Records that never arrive.* Even so, right after an assignment a record fetched before Faust's
   seek can vanish before it reaches the agent while the fetch position has moved on. Guard 2 keeps
   its offset uncommitted; ``heal_holes`` (run on a timer) notices a hole at the committed offset
   that persists across two checks and seeks the partition back to it, so the record is read again.

5. *Records dropped by the fetch loop.* Faust's ``getmany`` breaks off a fetched batch when the flow
   stops or the generation changes, and skips records of partitions not (yet) active, after the fetch
   position has moved past them: those records are never seen again, and later ones overtake them (an
   identify lost, its tracks dead-lettered with 404). Our ``getmany`` seeks each partition back to its
   first skipped record (in the same generation; after a rebalance Faust's own seek does it), and
   never delivers a later record of a partition after skipping an earlier one.
6. *Offset zero, and no offset at all.* Faust records a committed offset of 0 as "none", and a partition
   the group never committed has none either; guards 2 and 4 need to know where reading started, so
   after Faust's seek we record the committed offset as it is (0 included) or, when there is none, the
   position the consumer reset to (its first record). Without this, a record lost at the start of a
   fresh partition let Faust commit past it (seen: an identify lost, its tracks dead-lettered 404).

Each guard turns a silent loss into, at worst, a replay. ``install()`` patches the classes once.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import AsyncIterator
from typing import Any

from faust.transport.consumer import Consumer, ensure_TP

log = logging.getLogger(__name__)

_original_init = Consumer.__init__
_original_ack = Consumer.ack
_original_new_offset = Consumer._new_offset
_original_perform_seek = Consumer.perform_seek
_original_getmany = Consumer.getmany


class _NoReadOffsets(dict[Any, Any]):
    """Stands in for Consumer._read_offset: remembers nothing, so the fetch loop drops nothing."""

    def __getitem__(self, key: Any) -> None:
        return None

    def __setitem__(self, key: Any, value: Any) -> None:
        return None

    def update(self, *args: Any, **kwargs: Any) -> None:
        return None


def _init_without_read_offsets(self: Any, *args: Any, **kwargs: Any) -> None:
    _original_init(self, *args, **kwargs)
    self._read_offset = _NoReadOffsets()


_handled: weakref.WeakSet[Any] = weakref.WeakSet()


def mark_handled(message: Any) -> None:
    """Call when a record is fully handled, just before acking it."""
    _handled.add(message)


def _ack_handled_only(self: Any, message: Any) -> bool:
    if message not in _handled:
        log.debug("not acking %s@%s: it was never handled", message.tp, message.offset)
        return False
    return bool(_original_ack(self, message))


def _new_offset_without_holes(self: Any, tp: Any) -> int | None:
    if _has_hole(self, tp) is not None:
        return None  # the record at the committed offset is not done yet
    result: int | None = _original_new_offset(self, tp)
    if result is not None:
        log.debug("committing %s at %d", tp, result)
    return result


def _has_hole(consumer: Any, tp: Any) -> int | None:
    """The committed offset of ``tp`` when later records are done but the one at it is not."""
    acked = consumer._acked.get(tp)
    committed = consumer._committed_offset.get(tp)
    if not acked or committed is None or min(acked) <= committed:
        return None
    return None if consumer._gap[tp].overlaps(committed) else int(committed)


async def _getmany_without_drops(self: Any, timeout: float) -> AsyncIterator[tuple[Any, Any]]:  # noqa: ASYNC109
    records, active_partitions = await self._wait_next_records(timeout)
    generation_id = self.app.consumer_generation_id
    if records is None or self.should_stop:
        return  # shutting down: nothing of this batch was acked, so nothing is committed past it
    if not self.flow_active:
        await self.perform_seek()  # as Faust does: read the batch again once the flow resumes
        return
    skipped: dict[Any, int] = {}
    for tp, record in self.scheduler.iterate(records):
        deliverable = (
            tp not in skipped
            and self.flow_active
            and self.app.consumer_generation_id == generation_id
            and (active_partitions is None or tp in active_partitions or tp in self._buffered_partitions)
        )
        if not deliverable:
            skipped.setdefault(tp, record.offset)  # a partition's records come in offset order
            continue
        self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
        yield tp, self._to_message(tp, record)
    if self.app.consumer_generation_id != generation_id:
        return  # rebalanced: the new assignment seeks to the committed offsets
    assigned = self.assignment()
    for tp, offset in skipped.items():
        if tp in assigned:
            log.debug("fetched %s@%d but could not deliver it yet; reading it again", tp, offset)
            await self.seek(tp, offset)


def _is_internal(topic: str) -> bool:
    """Faust's own topics (changelogs, assignor): never committed, read by table recovery."""
    return topic.endswith("-changelog") or "__assignor" in topic


async def _perform_seek_knowing_start(self: Any) -> None:
    """Faust's perform_seek, minus the read offsets (guard 1) and keeping where each partition starts."""
    committed = await self.seek_to_committed()
    starts: dict[Any, int] = {}
    unknown = []
    for raw_tp, offset in committed.items():
        tp = ensure_TP(raw_tp)
        if offset is not None and offset >= 0:
            starts[tp] = int(offset)
        elif not _is_internal(tp.topic):
            unknown.append(tp)
    if unknown:  # never committed: reading starts where the consumer's reset policy puts it
        if self.app.conf.consumer_auto_offset_reset == "earliest":
            starts.update({tp: int(off) for tp, off in (await self.earliest_offsets(*unknown)).items()})
        else:
            for tp in unknown:
                position = await self.position(tp)
                if position is not None:
                    starts[tp] = int(position)
    self._committed_offset.update(starts)
    log.debug("reading starts at %s", starts)


_suspected_holes: set[tuple[Any, int]] = set()


async def heal_holes(consumer: Any) -> int:
    """Seek back to holes seen twice in a row; returns how many partitions were rewound."""
    holes = {(tp, offset) for tp in list(consumer._acked) if (offset := _has_hole(consumer, tp)) is not None}
    persistent = holes & _suspected_holes
    _suspected_holes.clear()
    _suspected_holes.update(holes - persistent)
    for tp, offset in persistent:
        log.debug("record %s@%d never reached the agent; reading %s again from there", tp, offset, tp)
        await consumer.seek(tp, offset)
    return len(persistent)


def install() -> None:
    """Idempotent: patches faust's Consumer once per process."""
    if Consumer.ack is _ack_handled_only:
        return
    Consumer.__init__ = _init_without_read_offsets  # type: ignore[method-assign]
    Consumer.ack = _ack_handled_only  # type: ignore[method-assign]
    Consumer._new_offset = _new_offset_without_holes  # type: ignore[method-assign]
    Consumer.perform_seek = _perform_seek_knowing_start  # type: ignore[method-assign]
    Consumer.getmany = _getmany_without_drops  # type: ignore[method-assign]
