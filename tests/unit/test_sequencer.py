"""The sequencer admits each partition's records strictly in offset order and rewinds over holes."""

from __future__ import annotations

from streams.pipeline.sequencer import PartitionSequencer, Verdict


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def sequencer(start: int | None = 5, clock: Clock | None = None) -> PartitionSequencer:
    return PartitionSequencer(lambda tp: start, gap_grace_s=1.0, clock=clock or Clock())


def test_in_order_records_are_processed_and_replays_skipped() -> None:
    seq = sequencer(start=5)
    assert [seq.admit("t-0", o).verdict for o in (5, 6, 7)] == [Verdict.PROCESS] * 3
    assert seq.admit("t-0", 6).verdict is Verdict.DUPLICATE
    assert seq.expected("t-0") == 8


def test_a_missing_record_rewinds_once_and_skips_until_it_arrives() -> None:
    seq = sequencer(start=5)
    first = seq.admit("t-0", 7)
    assert (first.verdict, first.rewind_to, first.process) == (Verdict.REWIND, 5, False)
    assert seq.admit("t-0", 8).verdict is Verdict.WAIT  # no second seek for the same hole
    assert seq.admit("t-0", 5).verdict is Verdict.PROCESS
    assert seq.admit("t-0", 6).verdict is Verdict.PROCESS
    assert seq.admit("t-0", 7).verdict is Verdict.PROCESS


def test_a_hole_is_overdue_only_after_the_grace_time_and_never_skipped_by_time_alone() -> None:
    clock = Clock()
    seq = sequencer(start=5, clock=clock)
    assert seq.admit("t-0", 7).verdict is Verdict.REWIND
    clock.now += 0.5
    assert seq.overdue("t-0") is None
    clock.now += 0.6
    assert seq.overdue("t-0") == 5
    assert seq.admit("t-0", 520).verdict is Verdict.WAIT  # old buffered records: still waiting for 5
    seq.rewind_again("t-0")
    assert seq.overdue("t-0") is None


def test_a_verified_gap_is_skipped() -> None:
    clock = Clock()
    seq = sequencer(start=5, clock=clock)
    seq.admit("t-0", 7)
    clock.now += 2
    assert seq.skip_gap("t-0", 7) == (5, 7)  # Kafka: the first record at or after 5 is 7
    assert seq.admit("t-0", 7).verdict is Verdict.PROCESS
    assert seq.admit("t-0", 8).verdict is Verdict.PROCESS


def test_partitions_are_independent_and_start_at_their_committed_offset() -> None:
    starts = {"a": 0, "b": 40}
    seq = PartitionSequencer(starts.get)
    assert seq.admit("a", 0).verdict is Verdict.PROCESS
    assert seq.admit("b", 41).rewind_to == 40
    assert seq.admit("a", 1).verdict is Verdict.PROCESS


def test_without_a_known_start_nothing_is_admitted() -> None:
    start: dict[str, int] = {}
    seq = PartitionSequencer(start.get)
    assert seq.admit("t-0", 667).verdict is Verdict.WAIT  # the seek is still to come
    start["t-0"] = 615
    assert seq.admit("t-0", 667).rewind_to == 615
    assert seq.admit("t-0", 615).verdict is Verdict.PROCESS


def test_forget_starts_over_from_the_committed_offset() -> None:
    committed = {"t-0": 3}
    seq = PartitionSequencer(committed.get)
    for offset in (3, 4, 5):
        seq.admit("t-0", offset)
    committed["t-0"] = 4  # a rebalance: 5 was in flight and abandoned, so it is read again
    seq.forget()
    assert seq.admit("t-0", 4).verdict is Verdict.PROCESS
    assert seq.admit("t-0", 5).verdict is Verdict.PROCESS
