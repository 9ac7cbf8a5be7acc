"""Guards around faust-streaming 0.15.3 offset handling, which otherwise commits events it never processed.

Found with tests/integration/test_restart.py on Kafka 4.1 (about one event lost per worker restart):

1. *Read-offset filter.* Faust's fetch loop drops any record below the partition's "read offset".
   After an assignment it seeks to the committed offsets, but a fetch already in flight then sets
   the read offset past the committed one, so the refetched record at the committed offset is
   dropped. We disable the filter: a record fetched twice is processed twice (our effects are
   idempotent: Intercom dedupes events, contact writes are PUTs, companies are upserts).
2. *Commits decided by acks.* Faust commits up to the first gap in its list of acked offsets, with
   an off-by-one at the committed offset (with N unacked and N+1 acked it commits past N), acks
   records its stream skipped (buffered before a rebalance) and can keep stale acks across
   revokes. Here Faust's commit asks ``streams.pipeline.commits.CommitLedger`` and nothing else:
   the contiguous prefix of records our handlers finished. An ack only tells Faust to stop waiting
   for a message (``release``; a message neither acked nor released holds Faust's rebalance wait
   forever: the worker joins, says ready and consumes nothing); it never moves a commit.
3. *Records dropped by the fetch loop.* Faust's ``getmany`` breaks off a fetched batch when the flow
   stops or the generation changes, and skips records of partitions not (yet) active, after the fetch
   position has moved past them. Our ``getmany`` seeks each partition back to its first skipped
   record (in the same generation; after a rebalance Faust's own seek does it), and never delivers
   a later record of a partition after skipping an earlier one.
4. *Records that vanish between fetch and agent.* Even so, records can be lost after the fetch
   (e.g. the stream skips what arrives while the flow is paused). streams/pipeline/sequencer.py
   admits each partition's records strictly in order and rewinds when one is missing; for the last
   records of a partition, with nothing after them to reveal the hole, ``reread_lost`` (on a timer)
   seeks back a partition fetched past what its agent received and idle since the last check.
5. *Offset zero, and no offset at all.* Faust records a committed offset of 0 as "none", and a partition
   the group never committed has none either; the ledger and guard 4 need to know where reading started, so
   after Faust's seek we record the committed offset as it is (0 included) or, for a partition never
   committed, where the reset policy starts it. Without this, a record lost at the start of a fresh
   partition let Faust commit past it (seen: an identify lost, its tracks dead-lettered 404).

Each guard turns a silent loss into, at worst, a replay. ``install()`` patches the classes once.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

from faust.transport.consumer import Consumer, ensure_TP

from streams.pipeline.commits import CommitLedger

log = logging.getLogger(__name__)

_original_init = Consumer.__init__
_original_wait_empty = Consumer.wait_empty
_before_wait_empty: list[Callable[[], Awaitable[Any]]] = []


_after_seek: list[Callable[[], Any]] = []


def after_seek(callback: Callable[[], Any]) -> None:
    """Run ``callback`` once Faust has sought every partition to its committed offset."""
    _after_seek.append(callback)


def before_rebalance_wait(callback: Callable[[], Awaitable[Any]]) -> None:
    """Run ``callback`` when a rebalance starts, before Faust waits for every in-flight message."""
    _before_wait_empty.append(callback)


async def _wait_empty_after_callbacks(self: Any) -> None:
    for callback in list(_before_wait_empty):
        await callback()  # e.g. the sink drains its in-flight requests within a deadline
    await _original_wait_empty(self)


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


def release(consumer: Any, message: Any) -> None:
    """Done with ``message`` without acking its offset (it was skipped, or its handling abandoned).

    Faust waits at every rebalance until each message that reached a stream is acked; a message
    merely left unacked would hold that wait forever (the worker stalls: joined, ready, idle). Its
    offset stays unacked, so the commit never passes it and the partition's owner reads it again.
    """
    message.acked = True
    consumer._unacked_messages.discard(message)
    waiting = consumer._waiting_for_ack
    if waiting is not None and not waiting.done():
        waiting.set_result(None)


def committed_offset(consumer: Any, tp: Any) -> int | None:
    """Where reading of ``tp`` started or resumed: its last committed offset (see guard 6)."""
    offset = consumer._committed_offset.get(tp)
    return None if offset is None else int(offset)


_ledger: CommitLedger | None = None


def ledger() -> CommitLedger:
    """The process's commit ledger (one Faust consumer per process), given to ``install``."""
    if _ledger is None:
        raise RuntimeError("faust_guards.install() was not called")
    return _ledger


def _ack_is_release(self: Any, message: Any) -> bool:
    """Faust's ack, reduced to "stop waiting for this message": commits are the ledger's (guard 2)."""
    release(self, message)
    return False


def _new_offset_from_ledger(self: Any, tp: Any) -> int | None:
    offset = ledger().committable(tp)
    if offset is not None:
        log.debug("committable %s at %d", tp, offset)
    return offset


def _tps_in_ledger(self: Any, topics: Any = None) -> Iterator[Any]:
    """The partitions Faust's commit looks at: those the ledger knows (Faust's acked lists stay empty)."""
    tps: Iterator[Any] = ledger().partitions()
    return (tp for tp in tps if topics is None or tp in topics or tp.topic in topics)


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
    for callback in list(_after_seek):
        callback()  # e.g. the sequencer starts over from these offsets


_suspects: dict[Any, tuple[int, int]] = {}


def _fetch_position(consumer: Any, tp: Any) -> int | None:
    """How far the Kafka client has fetched ``tp`` (no I/O; None while it is being reset)."""
    kafka = consumer._thread._ensure_consumer()
    state = kafka._subscription.subscription.assignment.state_value(tp)
    return int(state.position) if state is not None and state.has_valid_position else None


async def reread_lost(
    consumer: Any, expected: Callable[[Any], int | None], forget: Callable[[Any], None]
) -> int:
    """Seek back partitions stuck with records never done; returns how many.

    Two ways to be stuck, both seen after restarts, both only acted on when the worker has nothing
    in progress, is not in a rebalance, and the partition looked the same at the previous check:

    - fetched past what the agent received: the fetch position is past the next offset the agent
      expects, the records in between never delivered (the worker sat idle with lag);
    - a hole at the committed offset: later records are acked, the one at the committed offset is
      not, so nothing can be committed any more. The partition is read again from the committed
      offset, and ``forget(tp)`` makes the sequencer start over there.
    """
    global _suspects
    if consumer._unacked_messages or not consumer.flow_active:  # busy, or in a rebalance
        _suspects = {}
        return 0
    found: dict[Any, tuple[int, int]] = {}
    for tp in list(consumer.assignment()):
        if _is_internal(tp.topic):
            continue
        hole = ledger().hole(tp)
        if hole is not None:
            found[tp] = (hole, -1)
            continue
        want, position = expected(tp), _fetch_position(consumer, tp)
        if want is not None and position is not None and position > want:
            found[tp] = (want, position)
    stuck = {tp: pair for tp, pair in found.items() if _suspects.get(tp) == pair}
    for tp, (want, position) in stuck.items():
        if position < 0:
            log.warning("%s: the record at the committed offset %d was never done: reading again", tp, want)
            forget(tp)
        else:
            log.warning(
                "%s was fetched up to %d but its agent got nothing from %d on: reading again",
                tp,
                position,
                want,
            )
        await consumer.seek(tp, want)
    _suspects = {tp: pair for tp, pair in found.items() if tp not in stuck}
    return len(stuck)


def install(commit_ledger: CommitLedger) -> None:
    """Faust's commits follow ``commit_ledger`` from now on; patches faust's Consumer once per process."""
    global _ledger
    _ledger = commit_ledger
    if Consumer.ack is _ack_is_release:
        return
    Consumer.__init__ = _init_without_read_offsets  # type: ignore[method-assign]
    Consumer.ack = _ack_is_release  # type: ignore[method-assign]
    Consumer._new_offset = _new_offset_from_ledger  # type: ignore[method-assign]
    Consumer._filter_tps_with_pending_acks = _tps_in_ledger  # type: ignore[method-assign]
    Consumer.perform_seek = _perform_seek_knowing_start  # type: ignore[method-assign]
    Consumer.getmany = _getmany_without_drops  # type: ignore[method-assign]
    Consumer.wait_empty = _wait_empty_after_callbacks  # type: ignore[method-assign]
