"""Reading a topic: each partition's records in offset order, handled, then marked done.

``Intake.consume`` is the loop of both agents (transform and sink). A record goes through:

1. the sequencer (sequencer.py): strictly in offset order; a hole makes the partition read again;
2. the ledger (commits.py): a record already done (read again after a rewind or rebalance) is skipped;
3. the handler, which returns what it wrote; with lanes (lanes.py), several users' records at once;
4. done once all it wrote is on the broker: only then may a commit pass it.

A record whose handling is cancelled (rebalance, shutdown) is only released, never done, so never
committed: the partition's next owner handles it again. A handler's bug dead-letters the record as
``internal_error``; if not even that can be written, the worker stops and reads it again later.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, Protocol

from streams.deadletter import SourceRecord, dead_letter_for_input
from streams.errors import InvalidEventError
from streams.observability import metrics
from streams.pipeline.commits import CommitLedger
from streams.pipeline.faust_app import PipelineApp
from streams.pipeline.lanes import UserLanes
from streams.pipeline.output import DeadLetters, Written
from streams.pipeline.sequencer import Admission, PartitionSequencer, Verdict

log = logging.getLogger(__name__)


class RecordHandler(Protocol):
    """Handles one input record; returns what it wrote (the record is done once all of it is on the
    broker): the transform and the sink."""

    async def handle(self, message: Any) -> list[Written]: ...


LanesFor = Callable[[int], UserLanes]
# Where the first record at or after an offset is (None: none): a Kafka lookup.
FirstOffset = Callable[[str, int, int], Awaitable[int | None]]


def source_of(message: Any) -> SourceRecord:
    """The input record as received (for its dead letters)."""
    return SourceRecord(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value or b"",
        received_at_ms=int(time.time() * 1000),
    )


class ConsumerControl:
    """What the intake tells Faust's consumer (the guarded one: faust_guards.py explains why)."""

    def __init__(self, app: PipelineApp) -> None:
        self._app = app

    @property
    def ledger(self) -> CommitLedger:
        """What may be committed: owned by the consumer, made when the worker starts."""
        return self._app.ledger

    def release(self, message: Any) -> None:
        self._app.guarded_consumer.release(message)

    def reading_start(self, tp: Any) -> int | None:
        return self._app.guarded_consumer.committed_offset(tp)

    async def seek(self, tp: Any, offset: int) -> None:
        await self._app.consumer.seek(tp, offset)

    async def reread_lost(self, sequencer: PartitionSequencer) -> None:
        await self._app.guarded_consumer.reread_lost(sequencer.expected, sequencer.forget_partition)

    async def crash(self, error: BaseException) -> None:
        await self._app.crash(error)


class Intake:
    def __init__(
        self, control: ConsumerControl, dead_letters: DeadLetters, first_offset: FirstOffset
    ) -> None:
        self._control = control
        self._dead_letters = dead_letters
        self._first_offset = first_offset
        self.sequencer = PartitionSequencer(control.reading_start)
        self._confirming: set[asyncio.Task[None]] = set()

    @property
    def ledger(self) -> CommitLedger:
        """What may be committed: only records fully handled; Faust's commits ask nothing else."""
        return self._control.ledger

    def reading_restarted(self) -> None:
        """After each rebalance reading restarts at the committed offsets: the sequencer starts over
        there (the ledger does by itself)."""
        self.sequencer.forget()

    async def reread_lost(self) -> None:
        await self._control.reread_lost(self.sequencer)

    async def consume(self, stream: Any, handler: RecordHandler, lanes_for: LanesFor | None = None) -> None:
        """Each partition's records in offset order; with ``lanes_for``, several users' records of a
        partition at once, each user's in order."""
        async for event in stream.noack().events():
            message = event.message
            if not await self._admit(message):
                self._control.release(message)
                continue
            if lanes_for is None:
                await self._handle_then_finish(event, handler)
            else:
                user = (message.key or b"").decode("utf-8", "replace")
                await lanes_for(message.partition).submit(
                    user, partial(self._handle_then_finish, event, handler)
                )

    async def _admit(self, message: Any) -> bool:
        admission = self.sequencer.admit(message.tp, message.offset)
        if admission.verdict is Verdict.WAIT:
            admission = await self._settle_overdue_hole(message)
        if admission.rewind_to is not None:
            log.warning(
                "%s@%d arrived before %d: reading %s again from %d",
                message.tp, message.offset, admission.rewind_to, message.tp, admission.rewind_to,
            )  # fmt: skip
            metrics.rewind()
            await self._control.seek(message.tp, admission.rewind_to)
        if not admission.process:
            return False
        if self.ledger.is_done(message.tp, message.offset):  # read again (rewind, rebalance): done
            metrics.replay_avoided()
            return False
        return True

    async def _settle_overdue_hole(self, message: Any) -> Admission:
        """A hole that a rewind did not fill within the grace time: a lost record, or no record at all?"""
        tp = message.tp
        missing = self.sequencer.overdue(tp)
        if missing is None:
            return Admission(Verdict.WAIT)
        first = await self._first_offset(tp.topic, tp.partition, missing)
        if first is None or first <= missing:  # the record exists: the rewind was lost or slow
            self.sequencer.rewind_again(tp)
            metrics.rewind()
            await self._control.seek(tp, missing)
            return Admission(Verdict.WAIT)
        gap = self.sequencer.skip_gap(tp, first)
        log.warning(
            "offsets %d-%d of %s hold no record (transaction markers?); moving on", gap[0], gap[1] - 1, tp
        )
        self.ledger.skip(tp, *gap)
        return self.sequencer.admit(tp, message.offset)

    async def _handle_then_finish(self, event: Any, handler: RecordHandler) -> None:
        # ``event`` is held for the whole job: Faust's current event (which table writes need) is a
        # weak reference to it, so a job waiting in its lane must keep it alive.
        message = event.message
        try:
            written = await handler.handle(message)
        except asyncio.CancelledError:
            self._control.release(message)  # abandoned: redone by the next owner
            raise
        except Exception as exc:  # a bug must neither stop the partition nor lose the record
            log.exception("internal error handling %s", message.tp)
            letter = await self._dead_letter_bug(message, exc)
            if letter is None:
                return
            written = letter
        if not written:
            self._finished(message)
            return
        task = asyncio.ensure_future(self._finish_when_written(message, written))
        self._confirming.add(task)
        task.add_done_callback(self._confirming.discard)

    async def _dead_letter_bug(self, message: Any, exc: Exception) -> list[Written] | None:
        error = InvalidEventError("internal_error", f"{type(exc).__name__}: {exc}")
        try:
            return [await self._dead_letters.write(dead_letter_for_input(source_of(message), error))]
        except Exception as fatal:  # not even a dead letter can be written: stop, read it again later
            log.exception("could not dead-letter %s@%d; stopping", message.tp, message.offset)
            self._control.release(message)
            await self._control.crash(fatal)
            return None

    async def _finish_when_written(self, message: Any, written: list[Written]) -> None:
        try:
            await asyncio.gather(*written)
        except Exception as exc:  # the producer gave up: stop, and read the input again on restart
            log.error("could not write the records of %s@%d to Kafka: %s", message.tp, message.offset, exc)
            self._control.release(message)
            await self._control.crash(exc)
            return
        self._finished(message)

    def _finished(self, message: Any) -> None:
        """Fully handled: the commit may pass it, and Faust's rebalance wait need not wait for it."""
        self.ledger.done(message.tp, message.offset)
        self._control.release(message)
