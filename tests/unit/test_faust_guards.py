"""The Faust guards' own logic, on a stand-in for faust's Consumer (no broker)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from streams.pipeline import faust_guards
from streams.pipeline.commits import CommitLedger


@dataclass(frozen=True)
class TP:
    topic: str
    partition: int


@dataclass(eq=False)
class Message:
    tp: TP
    offset: int
    acked: bool = False


@dataclass
class FakeConsumer:
    positions: dict[TP, int] = field(default_factory=dict)
    _unacked_messages: set[Message] = field(default_factory=set)
    _committed_offset: dict[TP, int | None] = field(default_factory=dict)
    _waiting_for_ack: asyncio.Future[None] | None = None
    seeks: list[tuple[TP, int]] = field(default_factory=list)
    flow_active: bool = True

    def assignment(self) -> set[TP]:
        return set(self.positions)

    async def seek(self, tp: TP, offset: int) -> None:
        self.seeks.append((tp, offset))

    @property
    def _thread(self) -> Any:  # what _fetch_position reads: aiokafka's subscription state
        positions = self.positions

        def state_value(tp: TP) -> Any:
            return SimpleNamespace(position=positions[tp], has_valid_position=True)

        kafka = SimpleNamespace(
            _subscription=SimpleNamespace(
                subscription=SimpleNamespace(assignment=SimpleNamespace(state_value=state_value))
            )
        )
        return SimpleNamespace(_ensure_consumer=lambda: kafka)


RAW = TP("raw-events", 0)


@pytest.fixture(autouse=True)
def no_suspects() -> None:
    faust_guards._suspects = {}  # reread_lost's memory between timer ticks (one consumer per process)
    faust_guards.install(CommitLedger(lambda tp: None))  # an empty ledger: no holes


async def test_release_ends_fausts_wait_without_acking_the_offset() -> None:
    consumer = FakeConsumer()
    faust_guards.install(CommitLedger({RAW: 7}.get))
    message = Message(RAW, 7)
    consumer._unacked_messages.add(message)
    consumer._waiting_for_ack = asyncio.get_running_loop().create_future()
    faust_guards.release(consumer, message)
    assert message.acked and not consumer._unacked_messages
    assert consumer._waiting_for_ack.done()
    assert faust_guards.ledger().committable(RAW) == 7  # not done: the commit cannot pass it


async def test_reread_lost_seeks_an_idle_partition_fetched_past_its_agent_after_two_checks() -> None:
    forgotten: list[TP] = []
    consumer = FakeConsumer(positions={RAW: 60, TP("raw-events", 1): 10})
    expected = {RAW: 50, TP("raw-events", 1): 10}.get
    assert (
        await faust_guards.reread_lost(consumer, expected, forgotten.append) == 0
    )  # first sight: only suspected
    assert await faust_guards.reread_lost(consumer, expected, forgotten.append) == 1
    assert consumer.seeks == [(RAW, 50)]  # partition 1 is caught up: left alone


async def test_reread_lost_leaves_partitions_alone_while_work_is_in_progress() -> None:
    forgotten: list[TP] = []
    consumer = FakeConsumer(positions={RAW: 60})
    consumer._unacked_messages.add(Message(TP("delivery", 0), 3))
    for _ in range(3):
        assert await faust_guards.reread_lost(consumer, {RAW: 50}.get, forgotten.append) == 0
    assert consumer.seeks == []


async def test_reread_lost_does_nothing_during_a_rebalance() -> None:
    forgotten: list[TP] = []
    consumer = FakeConsumer(positions={RAW: 60}, flow_active=False)  # revoked, not yet reassigned
    for _ in range(3):
        assert await faust_guards.reread_lost(consumer, {RAW: 50}.get, forgotten.append) == 0
    assert consumer.seeks == []


async def test_reread_lost_ignores_a_partition_that_moved_between_checks() -> None:
    forgotten: list[TP] = []
    consumer = FakeConsumer(positions={RAW: 60})
    expected = {RAW: 50}
    await faust_guards.reread_lost(consumer, expected.get, forgotten.append)
    expected[RAW] = 55  # the agent is getting records: not stuck
    assert await faust_guards.reread_lost(consumer, expected.get, forgotten.append) == 0


async def test_reread_lost_reads_a_persistent_hole_again_and_the_sequencer_starts_over() -> None:
    forgotten: list[TP] = []
    consumer = FakeConsumer(positions={RAW: 100})
    consumer._committed_offset[RAW] = 615
    faust_guards.install(CommitLedger(consumer._committed_offset.get))
    for offset in (667, 668):  # 615-666 were admitted but never done
        faust_guards.ledger().done(RAW, offset)
    expected = {RAW: 100}.get
    assert await faust_guards.reread_lost(consumer, expected, forgotten.append) == 0
    assert await faust_guards.reread_lost(consumer, expected, forgotten.append) == 1
    assert consumer.seeks == [(RAW, 615)] and forgotten == [RAW]


def test_committed_offset_keeps_zero() -> None:
    consumer = FakeConsumer()
    consumer._committed_offset[RAW] = 0  # faust itself treats 0 as "none"
    assert faust_guards.committed_offset(consumer, RAW) == 0
    assert faust_guards.committed_offset(consumer, TP("other", 0)) is None
