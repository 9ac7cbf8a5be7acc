"""Remembering done delivery requests per user: replays are recognised, new requests are not."""

from __future__ import annotations

from streams.mapping import Action, Operation
from streams.pipeline.delivered import already_done, mark_done
from streams.pipeline.requests import DeliveryRequest
from tests.unit.delivery_requests import delivery_request


def request(
    offset: int, *, topic: str = "raw-events", partition: int = 2, op: str = "track_event"
) -> DeliveryRequest:
    operation = Operation(Action(op), {"n": offset})
    return delivery_request(offset, topic=topic, partition=partition, operations=(operation,))


def test_a_request_from_a_done_position_or_before_is_a_replay() -> None:
    entry = mark_done(None, request(10))
    assert already_done(entry, request(10)) and already_done(entry, request(3))
    assert not already_done(entry, request(11))


def test_another_request_from_the_same_position_is_not_a_replay() -> None:
    entry = mark_done(None, request(10, op="upsert_contact"))
    assert not already_done(entry, request(10, op="merge_lead"))


def test_positions_are_per_input_partition_and_never_move_back() -> None:
    entry = mark_done(None, request(10))
    entry = mark_done(entry, request(4, topic="intercom-stream-rekeyed", partition=2))
    assert not already_done(entry, request(4, partition=1))  # another input partition
    assert already_done(entry, request(4, topic="intercom-stream-rekeyed", partition=2))
    assert mark_done(entry, request(7)) == entry  # an older request done late: still up to 10


def test_nothing_remembered_means_nothing_skipped() -> None:
    assert not already_done(None, request(0)) and not already_done({}, request(0))


def test_a_follow_up_is_neither_skipped_nor_remembered() -> None:
    entry = mark_done(None, request(10))
    learn = request(4, op="learn_contact")  # carries the alias's position, another user's record
    assert not already_done(entry, learn)
    assert mark_done(entry, learn) == entry
