"""The sink's state machine without a broker: done-request skip, park, release, expire, follow-ups."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from streams.delivery import Delivered
from streams.errors import ContactPendingError, RejectedError
from streams.mapping import Action, Operation, Plan, Report
from streams.pipeline.output import DeadLetters
from streams.pipeline.parking import ParkingLot
from streams.pipeline.requests import CONTROL_HEADER, DeliveryRequest, DeliveryTopicCodec, ParkExpiryTick
from streams.pipeline.sink import Sink
from streams.records import codec_for
from tests.unit.delivery_requests import delivery_request, track
from tests.unit.metrics_sample import sample

DELIVERY = "delivery"
UPSERT = Operation(Action.UPSERT_CONTACT, {"external_id": "u1"})


@dataclass
class Sent:
    topic: str
    key: bytes | None
    value: bytes
    headers: Any


class FakeOutput:
    """Stands in for Kafka: every send is on the broker at once."""

    record_limit = 1_000_000

    def __init__(self) -> None:
        self.sent: list[Sent] = []

    async def send(self, topic: str, key: bytes | None, value: bytes, headers: Any = None) -> Any:
        self.sent.append(Sent(topic, key, value, headers))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    def dead_letters(self) -> list[dict[str, Any]]:
        codec = codec_for("dead_letter")
        return [codec.decode(s.value) for s in self.sent if s.topic == "dead-letters"]


Outcome = Delivered


@dataclass
class ScriptedExecutor:
    """Answers each plan by its first operation's action: a ContactPendingError while the contact is
    unknown, success once an upsert made it known."""

    known: set[str] = field(default_factory=set)
    executed: list[Plan] = field(default_factory=list)
    outcome: Outcome = field(default_factory=lambda: Outcome(calls=1))  # each plan one call
    reject: bool = False

    async def execute(
        self, plan: Plan, *, event_time: int | None = None, unknown_user: bool = False
    ) -> Outcome:
        self.executed.append(plan)
        if self.reject:
            raise RejectedError("400 bad request")
        for index, op in enumerate(plan.operations):
            if op.action is Action.UPSERT_CONTACT:
                self.known.add(plan.user_key)
            elif plan.user_key not in self.known:
                raise ContactPendingError("user_not_found", "404 from /events", operation_index=index)
        return self.outcome

    def is_known(self, user_key: str) -> bool:
        return user_key in self.known


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Message:
    value: bytes
    headers: Any = None
    partition: int = 0


class Harness:
    def __init__(self, hold_s: float = 30.0, max_items: int = 10) -> None:
        self.output = FakeOutput()
        self.executor = ScriptedExecutor()
        self.clock = Clock()
        self.parked: dict[str, Any] = {}
        self.done: dict[str, Any] = {}
        self.parking = ParkingLot(self.parked, hold_s, max_items, clock=self.clock)
        dead_letters = DeadLetters(self.output, "dead-letters")  # type: ignore[arg-type]
        self.sink = Sink(
            self, self.parking, self.done, self.output,  # type: ignore[arg-type]
            dead_letters, DELIVERY, in_flight=4, drain_deadline_s=1.0,
        )  # fmt: skip
        self.codec = DeliveryTopicCodec()

    def for_partition(self, partition: int) -> ScriptedExecutor:
        return self.executor

    async def deliver(self, request: DeliveryRequest) -> list[Any]:
        written = await self.sink.handle(Message(self.codec.encode_request(request)))
        await asyncio.gather(*written)
        return written


async def test_a_request_done_before_makes_no_call_again() -> None:
    h = Harness()
    h.executor.known.add("u1")
    request = delivery_request(5, operations=(track(),))
    await h.deliver(request)
    await h.deliver(request)  # read again after a kill
    await h.deliver(delivery_request(4, operations=(track(),)))  # planned again from an earlier offset
    assert len(h.executor.executed) == 1
    assert "u1" in h.done


async def test_a_request_that_made_no_call_is_not_remembered_and_writes_no_table() -> None:
    h = Harness()
    h.executor.known.add("u1")
    h.executor.outcome = Outcome(calls=0)  # an identify whose traits Intercom already holds
    before = sample("intercom_stream_requests_without_calls_total")
    await h.deliver(delivery_request(5, operations=(UPSERT,)))
    assert h.done == {}  # no done-request entry: no changelog record
    assert sample("intercom_stream_requests_without_calls_total") == before + 1
    h.executor.outcome = Outcome(calls=0, reports=(Report("attribute_dropped", "x", {}),))
    await h.deliver(delivery_request(6, operations=(UPSERT,)))  # no call, but a dead letter: remembered
    assert "u1" in h.done
    await h.deliver(delivery_request(6, operations=(UPSERT,)))
    assert len(h.executor.executed) == 2 and len(h.output.dead_letters()) == 1


async def test_work_for_an_unknown_contact_is_parked_not_done_then_released_by_the_identify() -> None:
    h = Harness()
    tracked = delivery_request(1, operations=(track("Opened"), track("Clicked")))
    await h.deliver(tracked)
    assert [item.request for item in h.parking.items("u1")] == [tracked]
    assert h.parking.unknown("u1") and "u1" not in h.done  # a replay parks it again
    await h.deliver(delivery_request(2, operations=(UPSERT,), event_type="identify"))
    # Released in the identify's own job: the parked track ran from where it stopped, before anything else.
    assert [p.operations for p in h.executor.executed[-2:]] == [(UPSERT,), tracked.operations]
    assert h.parking.items("u1") == [] and h.parked == {}
    assert not h.output.dead_letters()


async def test_parked_work_past_its_bound_is_dead_lettered_by_a_tick_in_the_users_lane() -> None:
    h = Harness(hold_s=30)
    await h.deliver(delivery_request(1, operations=(track(),)))
    await h.sink.tick_parked_work()
    assert not h.output.sent  # not due yet
    h.clock.now += 31
    await h.sink.tick_parked_work()
    await h.sink.tick_parked_work()  # within TICK_AGAIN_S: not sent twice
    ticks = [s for s in h.output.sent if s.topic == DELIVERY]
    assert len(ticks) == 1 and ticks[0].key == b"u1"
    assert dict(ticks[0].headers) == {CONTROL_HEADER: b"park_expiry"}
    decoded = h.codec.decode(ticks[0].value, ticks[0].headers)
    assert isinstance(decoded, ParkExpiryTick) and decoded.user_key == "u1"
    await h.sink.handle(Message(ticks[0].value, ticks[0].headers))
    letters = h.output.dead_letters()
    assert [letter["reason"] for letter in letters] == ["user_not_found"]
    assert "parked 30s" in letters[0]["message"] and letters[0]["source_offset"] == 1
    assert h.parking.items("u1") == []


async def test_a_tick_for_a_user_whose_contact_is_known_by_now_releases_instead() -> None:
    h = Harness(hold_s=30)
    await h.deliver(delivery_request(1, operations=(track(),)))
    h.executor.known.add("u1")  # learned meanwhile (e.g. an alias taught it)
    h.clock.now += 31
    value, headers = h.codec.encode_tick(ParkExpiryTick("u1", 0))
    await h.sink.handle(Message(value, headers))
    assert not h.output.dead_letters() and h.parking.items("u1") == []
    assert len(h.executor.executed) == 2


async def test_a_full_lot_dead_letters_with_the_reason() -> None:
    h = Harness(max_items=1)
    await h.deliver(delivery_request(1, operations=(track(),)))
    await h.deliver(delivery_request(2, operations=(track(),)))
    letters = h.output.dead_letters()
    assert [(letter["reason"], letter["source_offset"]) for letter in letters] == [("user_not_found", 2)]
    assert "not parked: 1 records already wait" in letters[0]["message"]


async def test_reports_become_dead_letters_and_follow_ups_go_back_on_the_delivery_topic() -> None:
    h = Harness()
    h.executor.known.add("u1")
    follow = Plan("new-id", "alias", (Operation(Action.LEARN_CONTACT, {"id": "c1"}),))
    h.executor.outcome = Outcome((Report("attributes_dropped", "plan not sent"),), (follow,))
    await h.deliver(delivery_request(3, operations=(track(),), event_json='{"type":"alias"}'))
    assert [letter["reason"] for letter in h.output.dead_letters()] == ["attributes_dropped"]
    [sent] = [s for s in h.output.sent if s.topic == DELIVERY]
    planned = h.codec.decode(sent.value, sent.headers)
    assert sent.key == b"new-id" and isinstance(planned, DeliveryRequest)
    assert planned.operations == follow.operations and planned.source_offset == 3


async def test_a_failed_request_is_dead_lettered_and_remembered_as_done() -> None:
    h = Harness()
    h.executor.reject = True
    await h.deliver(delivery_request(7, operations=(UPSERT,)))
    assert [letter["reason"] for letter in h.output.dead_letters()] == ["intercom_rejected"]
    await h.deliver(delivery_request(7, operations=(UPSERT,)))  # read again: no second call
    assert len(h.executor.executed) == 1


async def test_a_follow_up_is_never_skipped_as_done_by_its_users_own_later_record() -> None:
    h = Harness()
    h.executor.known.add("new-id")
    await h.deliver(delivery_request(9, user="new-id", operations=(track(),)))  # its own, later record
    learn = Operation(Action.LEARN_CONTACT, {"id": "c1"})
    follow = delivery_request(4, user="new-id", operations=(learn,), event_type="alias")  # the alias's
    await h.deliver(follow)
    await h.deliver(follow)  # redelivered: learning again is harmless
    assert [p.operations for p in h.executor.executed[1:]] == [(learn,), (learn,)]
