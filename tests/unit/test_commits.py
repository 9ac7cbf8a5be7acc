"""The commit ledger: a commit never passes a record that is not done, on every path that commits."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from streams.pipeline.commits import CommitLedger
from streams.pipeline.lanes import UserLanes
from streams.pipeline.transport import Consumer


@dataclass(frozen=True)
class TP:
    topic: str
    partition: int


DELIVERY = TP("intercom-requests", 3)


@dataclass
class StandInConsumer:
    """What faust's own commit code reads of its consumer; its methods are our transport's Consumer's
    (faust's, with the guards overriding some)."""

    _committed_offset: dict[Any, int | None] = field(default_factory=dict)
    assigned: set[Any] = field(default_factory=set)
    _unacked_messages: set[Any] = field(default_factory=set)
    _waiting_for_ack: Any = None

    def __post_init__(self) -> None:
        self.ledger = CommitLedger(self.committed_offset)

    def __getattr__(self, name: str) -> Any:  # the guarded consumer's methods, faust's where not overridden
        return getattr(Consumer, name).__get__(self)

    def commit_now(self) -> dict[Any, int]:
        """Faust's periodic or rebalance commit, minus the network: what it would commit, recorded."""
        tps = [tp for tp in self._filter_tps_with_pending_acks() if tp in self.assigned]
        offsets = self._filter_committable_offsets(tps)
        self._committed_offset.update(offsets)
        return offsets


def consumer_at(committed: int) -> tuple[StandInConsumer, CommitLedger]:
    consumer = StandInConsumer({DELIVERY: committed}, {DELIVERY})
    return consumer, consumer.ledger


def test_the_prefix_of_done_records_is_committable() -> None:
    ledger = CommitLedger({DELIVERY: 20}.get)
    for offset in (20, 21, 23):
        ledger.done(DELIVERY, offset)
    assert ledger.committable(DELIVERY) == 22
    assert ledger.hole(DELIVERY) == 22
    ledger.done(DELIVERY, 22)
    assert ledger.committable(DELIVERY) == 24 and ledger.hole(DELIVERY) is None


def test_offset_zero_is_a_record_like_any_other() -> None:
    ledger = CommitLedger({DELIVERY: 0}.get)
    ledger.done(DELIVERY, 1)
    assert ledger.committable(DELIVERY) == 0


def test_a_confirmed_gap_counts_as_done_but_only_its_offsets() -> None:
    ledger = CommitLedger({DELIVERY: 10}.get)
    ledger.skip(DELIVERY, 10, 13)  # transaction markers at 10-12
    ledger.done(DELIVERY, 13)
    ledger.done(DELIVERY, 15)
    assert ledger.committable(DELIVERY) == 14


def test_nothing_is_committable_for_a_partition_not_sought_or_revoked() -> None:
    ledger = CommitLedger({}.get)
    ledger.done(DELIVERY, 5)
    assert ledger.committable(DELIVERY) is None and list(ledger.partitions()) == []


def test_records_below_the_start_are_ignored_and_a_late_completion_still_counts() -> None:
    starts = {DELIVERY: 30}
    ledger = CommitLedger(starts.get)
    ledger.done(DELIVERY, 29)  # a replay of a record committed before
    assert ledger.committable(DELIVERY) == 30
    ledger.reading_restarted()  # a rebalance: reading restarts at the committed offset
    ledger.done(DELIVERY, 30)  # a call that was in flight across it finishes now: it is done
    assert ledger.committable(DELIVERY) == 31


def test_what_was_done_stays_done_when_reading_goes_back() -> None:
    starts: dict[TP, int] = {DELIVERY: 10}
    ledger = CommitLedger(starts.get)
    for offset in (10, 11, 12, 14, 15):
        ledger.done(DELIVERY, offset)
    # A rebalance leaves the partition here; the group's commit had stayed at 10.
    ledger.reading_restarted()
    assert [o for o in range(10, 17) if ledger.is_done(DELIVERY, o)] == [10, 11, 12, 14, 15]
    assert ledger.committable(DELIVERY) == 13


def test_a_partition_back_from_another_owner_starts_at_its_commit() -> None:
    starts: dict[TP, int | None] = {DELIVERY: 10}
    ledger = CommitLedger(starts.get)
    ledger.done(DELIVERY, 10)
    ledger.done(DELIVERY, 12)
    ledger.reading_restarted()
    starts[DELIVERY] = None  # revoked: nothing to commit, nothing known
    assert ledger.committable(DELIVERY) is None and not ledger.is_done(DELIVERY, 12)
    ledger.reading_restarted()
    starts[DELIVERY] = 40  # back, after another worker committed up to 40
    assert ledger.committable(DELIVERY) == 40
    assert ledger.is_done(DELIVERY, 39) and not ledger.is_done(DELIVERY, 40)


def test_periodic_commit_stops_at_the_record_whose_call_is_in_flight() -> None:
    # The lost event of the fault run: 26 in flight (a stalled POST /events), 27-31 of other users done.
    consumer, ledger = consumer_at(20)
    for offset in (20, 21, 22, 23, 24, 25, 27, 28, 29, 30, 31):
        ledger.done(DELIVERY, offset)
    assert consumer.commit_now() == {DELIVERY: 26}
    assert consumer.commit_now() == {}  # and again, however often faust's timer fires
    ledger.done(DELIVERY, 26)
    assert consumer.commit_now() == {DELIVERY: 32}


def test_acks_and_releases_never_move_a_commit() -> None:
    consumer, _ = consumer_at(20)

    @dataclass(eq=False)
    class Message:
        tp: Any
        offset: int
        acked: bool = False

    for offset in range(20, 30):  # faust acks records its stream skipped; we release abandoned ones
        assert consumer.ack(Message(DELIVERY, offset)) is False
        consumer.release(Message(DELIVERY, offset))
    assert consumer.commit_now() == {}
    assert consumer._committed_offset[DELIVERY] == 20


async def _lanes_with_stuck_user(ledger: CommitLedger, stuck: asyncio.Event) -> tuple[UserLanes, list[int]]:
    """Partition 3 at offset 40: user "a" (offset 40) never finishes; users b-d (41-43) do."""
    lanes = UserLanes(max_in_flight=4)
    cancelled: list[int] = []

    def job(offset: int, wait: bool) -> Any:
        async def run() -> None:
            try:
                if wait:
                    await stuck.wait()  # a call in flight, or a retry's backoff
                ledger.done(DELIVERY, offset)
            except asyncio.CancelledError:
                cancelled.append(offset)
                raise

        return run

    await lanes.submit("a", job(40, wait=True))
    for offset, user in zip((41, 42, 43), "bcd", strict=True):
        await lanes.submit(user, job(offset, wait=False))
    await asyncio.sleep(0)
    return lanes, cancelled


async def test_revoke_while_a_call_is_in_flight_commits_only_up_to_it() -> None:
    consumer, ledger = consumer_at(40)
    lanes, cancelled = await _lanes_with_stuck_user(ledger, asyncio.Event())
    assert await lanes.drain(0.05) == 1  # the rebalance's drain deadline passes
    assert cancelled == [40]
    assert consumer.commit_now() == {}  # faust's commit at the revoke: nothing past 40
    assert consumer._committed_offset[DELIVERY] == 40


async def test_revoke_while_a_retry_waits_then_it_succeeds_within_the_deadline() -> None:
    consumer, ledger = consumer_at(40)
    retry_due = asyncio.Event()
    lanes, cancelled = await _lanes_with_stuck_user(ledger, retry_due)
    asyncio.get_running_loop().call_later(0.02, retry_due.set)  # the backoff ends, the call succeeds
    assert await lanes.drain(1.0) == 0 and cancelled == []
    assert consumer.commit_now() == {DELIVERY: 44}


async def test_kill_during_a_revoke_leaves_the_last_commit_before_the_undone_record() -> None:
    consumer, ledger = consumer_at(40)
    lanes, _ = await _lanes_with_stuck_user(ledger, asyncio.Event())
    for _ in range(3):  # periodic commits while the revoke waits for the stuck call
        consumer.commit_now()
    # kill -9 here: no further commit. The next owner starts where the group's commit is.
    next_owner_starts_at = consumer._committed_offset[DELIVERY]
    assert next_owner_starts_at == 40  # record 40 is read again, nothing lost
    await lanes.drain(0)
