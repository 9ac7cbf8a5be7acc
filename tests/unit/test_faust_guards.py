"""The guarded consumer's own logic (streams/pipeline/faust_guards.py), on a stand-in (no broker):
the stand-in has the faust state the guards read, and GuardedConsumer's methods."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from streams.pipeline.commits import CommitLedger
from streams.pipeline.faust_guards import GuardedConsumer


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
    ledger: CommitLedger = field(default_factory=lambda: CommitLedger(lambda tp: None))  # no holes
    _suspects: dict[TP, tuple[int, int]] = field(default_factory=dict)

    committed_offset = GuardedConsumer.committed_offset
    release = GuardedConsumer.release
    reread_lost = GuardedConsumer.reread_lost
    _stuck_candidates = GuardedConsumer._stuck_candidates
    fetch_position = GuardedConsumer.fetch_position

    def assignment(self) -> set[TP]:
        return set(self.positions)

    async def seek(self, tp: TP, offset: int) -> None:
        self.seeks.append((tp, offset))

    @property
    def _thread(self) -> Any:  # what fetch_position reads: aiokafka's subscription state
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


async def test_release_ends_fausts_wait_without_acking_the_offset() -> None:
    consumer = FakeConsumer(ledger=CommitLedger({RAW: 7}.get))
    message = Message(RAW, 7)
    consumer._unacked_messages.add(message)
    consumer._waiting_for_ack = asyncio.get_running_loop().create_future()
    consumer.release(message)
    assert message.acked and not consumer._unacked_messages
    assert consumer._waiting_for_ack.done()
    assert consumer.ledger.committable(RAW) == 7  # not done: the commit cannot pass it


async def test_reread_lost_seeks_an_idle_partition_fetched_past_its_agent_after_two_checks() -> None:
    forgotten: list[TP] = []
    consumer = FakeConsumer(positions={RAW: 60, TP("raw-events", 1): 10})
    expected = {RAW: 50, TP("raw-events", 1): 10}.get
    assert await consumer.reread_lost(expected, forgotten.append) == 0  # first sight: only suspected
    assert await consumer.reread_lost(expected, forgotten.append) == 1
    assert consumer.seeks == [(RAW, 50)]  # partition 1 is caught up: left alone


async def test_reread_lost_leaves_partitions_alone_while_work_is_in_progress() -> None:
    forgotten: list[TP] = []
    consumer = FakeConsumer(positions={RAW: 60})
    consumer._unacked_messages.add(Message(TP("delivery", 0), 3))
    for _ in range(3):
        assert await consumer.reread_lost({RAW: 50}.get, forgotten.append) == 0
    assert consumer.seeks == []


async def test_reread_lost_does_nothing_during_a_rebalance() -> None:
    forgotten: list[TP] = []
    consumer = FakeConsumer(positions={RAW: 60}, flow_active=False)  # revoked, not yet reassigned
    for _ in range(3):
        assert await consumer.reread_lost({RAW: 50}.get, forgotten.append) == 0
    assert consumer.seeks == []


async def test_reread_lost_ignores_a_partition_that_moved_between_checks() -> None:
    forgotten: list[TP] = []
    consumer = FakeConsumer(positions={RAW: 60})
    expected = {RAW: 50}
    await consumer.reread_lost(expected.get, forgotten.append)
    expected[RAW] = 55  # the agent is getting records: not stuck
    assert await consumer.reread_lost(expected.get, forgotten.append) == 0


async def test_reread_lost_reads_a_persistent_hole_again_and_the_sequencer_starts_over() -> None:
    forgotten: list[TP] = []
    consumer = FakeConsumer(positions={RAW: 100})
    consumer._committed_offset[RAW] = 615
    consumer.ledger = CommitLedger(consumer.committed_offset)
    for offset in (667, 668):  # 615-666 were admitted but never done
        consumer.ledger.done(RAW, offset)
    expected = {RAW: 100}.get
    assert await consumer.reread_lost(expected, forgotten.append) == 0
    assert await consumer.reread_lost(expected, forgotten.append) == 1
    assert consumer.seeks == [(RAW, 615)] and forgotten == [RAW]


def test_committed_offset_keeps_zero() -> None:
    consumer = FakeConsumer()
    consumer._committed_offset[RAW] = 0  # faust itself treats 0 as "none"
    assert consumer.committed_offset(RAW) == 0
    assert consumer.committed_offset(TP("other", 0)) is None


@dataclass
class RecordingHooks:
    calls: list[str] = field(default_factory=list)

    def reading_restarted(self) -> None:
        self.calls.append("reading_restarted")

    async def before_rebalance_wait(self) -> None:
        self.calls.append("before_rebalance_wait")


@dataclass
class SeekingConsumer:
    """What perform_seek reads: Faust's committed offsets after its seek, the reset policy's starts."""

    committed: dict[Any, int | None]
    app: Any
    _committed_offset: dict[Any, int | None] = field(default_factory=dict)
    restarts: int = 0

    perform_seek = GuardedConsumer.perform_seek
    hooks = GuardedConsumer.hooks

    def __post_init__(self) -> None:
        owner = self

        class Ledger(CommitLedger):
            def reading_restarted(self) -> None:
                owner.restarts += 1
                super().reading_restarted()

        self.ledger = Ledger(self._committed_offset.get)

    async def seek_to_committed(self) -> dict[Any, int | None]:
        return self.committed

    async def earliest_offsets(self, *tps: Any) -> dict[Any, int]:
        return {tp: 5 for tp in tps}

    async def position(self, tp: Any) -> int:
        return 9


@pytest.mark.parametrize(("policy", "fresh_start"), [("earliest", 5), ("latest", 9)])
async def test_perform_seek_keeps_zero_learns_fresh_starts_and_tells_ledger_and_hooks(
    policy: str, fresh_start: int
) -> None:
    from faust.types import TP as FaustTP

    hooks = RecordingHooks()
    app = SimpleNamespace(conf=SimpleNamespace(consumer_auto_offset_reset=policy), pipeline_hooks=hooks)
    zero, fresh, changelog = FaustTP("raw", 0), FaustTP("raw", 1), FaustTP("app-t-changelog", 0)
    consumer = SeekingConsumer({zero: 0, fresh: None, changelog: None}, app)
    await consumer.perform_seek()
    assert consumer._committed_offset == {zero: 0, fresh: fresh_start}  # changelogs: table recovery's
    assert consumer.restarts == 1 and hooks.calls == ["reading_restarted"]
    assert consumer.ledger.committable(zero) == 0


def test_without_a_pipeline_app_the_hooks_do_nothing() -> None:
    consumer = SeekingConsumer({}, SimpleNamespace())
    consumer.hooks.reading_restarted()  # a plain faust.App: no hooks, no error
