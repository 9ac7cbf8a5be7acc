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

Each guard turns a silent loss into, at worst, a replay. They are the overriding methods of
``GuardedConsumer``, a subclass of faust's aiokafka Consumer that our transport uses
(streams/pipeline/transport.py, scheme ``intercom-kafka://``); it owns the commit ledger. The guards
override internals of faust-streaming 0.15.3 (the version streams/pipeline/faust_app.py insists on),
and read these private attributes of faust's Consumer, nowhere else:

- ``_unacked_messages`` / ``_waiting_for_ack``: the messages Faust's rebalance wait waits for, and
  the future that wakes it (``release``);
- ``_committed_offset``: where reading of each partition started (guard 5);
- ``_read_offset``: replaced by a mapping that remembers nothing (guard 1);
- ``_buffered_partitions``, ``_wait_next_records``, ``_to_message``: the fetch loop's own parts (guard 3);
- ``_thread._ensure_consumer()._subscription``: aiokafka's fetch positions (guard 4).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Protocol, runtime_checkable

from faust.transport.consumer import ensure_TP
from faust.transport.drivers import aiokafka as aiokafka_driver

from streams.pipeline.commits import CommitLedger

log = logging.getLogger(__name__)


class PipelineHooks(Protocol):
    """What the pipeline is told by its consumer."""

    def reading_restarted(self) -> None:
        """Faust has sought every partition to its committed offset (e.g. the sequencer starts over)."""

    async def before_rebalance_wait(self) -> None:
        """A rebalance starts: before Faust waits for every in-flight message (e.g. the sink drains)."""


class NoHooks:
    def reading_restarted(self) -> None:
        return None

    async def before_rebalance_wait(self) -> None:
        return None


@runtime_checkable
class HasPipelineHooks(Protocol):
    """An app that carries hooks for its consumer (streams.pipeline.faust_app.PipelineApp)."""

    pipeline_hooks: PipelineHooks


class _NoReadOffsets(dict[Any, Any]):
    """Stands in for Consumer._read_offset: remembers nothing, so the fetch loop drops nothing."""

    def __getitem__(self, key: Any) -> None:
        return None

    def __setitem__(self, key: Any, value: Any) -> None:
        return None

    def update(self, *args: Any, **kwargs: Any) -> None:
        return None


def is_internal(topic: str) -> bool:
    """Faust's own topics (changelogs, assignor): never committed, read by table recovery."""
    return topic.endswith("-changelog") or "__assignor" in topic


class GuardedConsumer(aiokafka_driver.Consumer):
    """Faust's aiokafka consumer whose commits follow ``self.ledger`` (guards 1-5 above)."""

    ledger: CommitLedger

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Guard 1: before Faust's fetch loop (_drain_messages) binds the mapping's methods.
        self._read_offset = _NoReadOffsets()
        self.ledger = CommitLedger(self.committed_offset)
        self._suspects: dict[Any, tuple[int, int]] = {}  # reread_lost's findings at its last check

    @property
    def hooks(self) -> PipelineHooks:
        return self.app.pipeline_hooks if isinstance(self.app, HasPipelineHooks) else NoHooks()

    def committed_offset(self, tp: Any) -> int | None:
        """Where reading of ``tp`` started or resumed: its last committed offset (see guard 5)."""
        offset = self._committed_offset.get(tp)
        return None if offset is None else int(offset)

    def release(self, message: Any) -> None:
        """Done with ``message`` without acking its offset (it was skipped, or its handling abandoned).

        Faust waits at every rebalance until each message that reached a stream is acked; a message
        merely left unacked would hold that wait forever (the worker stalls: joined, ready, idle). Its
        offset stays unacked, so the commit never passes it and the partition's owner reads it again.
        """
        message.acked = True
        self._unacked_messages.discard(message)
        waiting = self._waiting_for_ack
        if waiting is not None and not waiting.done():
            waiting.set_result(None)

    def ack(self, message: Any) -> bool:
        """Faust's ack, reduced to "stop waiting for this message": commits are the ledger's (guard 2)."""
        self.release(message)
        return False

    def _new_offset(self, tp: Any) -> int | None:
        offset = self.ledger.committable(tp)
        if offset is not None:
            log.debug("committable %s at %d", tp, offset)
        return offset

    def _filter_tps_with_pending_acks(self, topics: Any = None) -> Iterator[Any]:
        """The partitions Faust's commit looks at: those the ledger knows (Faust's acked lists stay empty)."""
        tps: Iterator[Any] = self.ledger.partitions()
        return (tp for tp in tps if topics is None or tp in topics or tp.topic in topics)

    async def wait_empty(self) -> None:
        await self.hooks.before_rebalance_wait()  # e.g. the sink drains its in-flight requests
        await super().wait_empty()

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[Any, Any]]:  # noqa: ASYNC109
        """Guard 3: never deliver a partition's later record after skipping an earlier one."""
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

    async def perform_seek(self) -> None:
        """Faust's perform_seek, minus the read offsets (guard 1) and keeping where each partition
        starts (guard 5); then the ledger and the pipeline start over from there."""
        committed = await self.seek_to_committed()
        starts: dict[Any, int] = {}
        unknown = []
        for raw_tp, offset in committed.items():
            tp = ensure_TP(raw_tp)
            if offset is not None and offset >= 0:
                starts[tp] = int(offset)
            elif not is_internal(tp.topic):
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
        self.ledger.reading_restarted()
        self.hooks.reading_restarted()

    def fetch_position(self, tp: Any) -> int | None:
        """How far the Kafka client has fetched ``tp`` (no I/O; None while it is being reset)."""
        kafka = self._thread._ensure_consumer()
        state = kafka._subscription.subscription.assignment.state_value(tp)
        return int(state.position) if state is not None and state.has_valid_position else None

    async def reread_lost(self, expected: Callable[[Any], int | None], forget: Callable[[Any], None]) -> int:
        """Guard 4: seek back partitions stuck with records never done; returns how many.

        Two ways to be stuck, both seen after restarts, both only acted on when the worker has nothing
        in progress, is not in a rebalance, and the partition looked the same at the previous check:

        - fetched past what the agent received: the fetch position is past the next offset the agent
          expects, the records in between never delivered (the worker sat idle with lag);
        - a hole at the committed offset: later records are acked, the one at the committed offset is
          not, so nothing can be committed any more. The partition is read again from the committed
          offset, and ``forget(tp)`` makes the sequencer start over there.
        """
        if self._unacked_messages or not self.flow_active:  # busy, or in a rebalance
            self._suspects = {}
            return 0
        found = self._stuck_candidates(expected)
        stuck = {tp: pair for tp, pair in found.items() if self._suspects.get(tp) == pair}
        for tp, (want, position) in stuck.items():
            if position < 0:
                log.warning(
                    "%s: the record at the committed offset %d was never done: reading again", tp, want
                )
                forget(tp)
            else:
                log.warning(
                    "%s was fetched up to %d but its agent got nothing from %d on: reading again",
                    tp,
                    position,
                    want,
                )
            await self.seek(tp, want)
        self._suspects = {tp: pair for tp, pair in found.items() if tp not in stuck}
        return len(stuck)

    def _stuck_candidates(self, expected: Callable[[Any], int | None]) -> dict[Any, tuple[int, int]]:
        """Per partition that looks stuck now: (where to read again, fetch position or -1 for a hole)."""
        found: dict[Any, tuple[int, int]] = {}
        for tp in list(self.assignment()):
            if is_internal(tp.topic):
                continue
            hole = self.ledger.hole(tp)
            if hole is not None:
                found[tp] = (hole, -1)
                continue
            want, position = expected(tp), self.fetch_position(tp)
            if want is not None and position is not None and position > want:
                found[tp] = (want, position)
        return found
