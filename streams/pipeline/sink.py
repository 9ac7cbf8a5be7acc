"""The sink: delivery records → Intercom calls, per user in order, with parking for unknown contacts.

For each record of the delivery topic (in its user's lane, lanes.py):

- a ``DeliveryRequest`` already done (its user's done-request memory, delivered.py, says so: it was
  planned or read again after a kill) makes no call;
- otherwise its plan is executed. Success: its reports become dead letters, its follow-up plans go
  back on the delivery topic, and if it proved the contact exists, the user's parked work is released
  (performed) now, before the user's next record. A ``ContactPendingError``: the rest of the plan is
  parked (parking.py) and the user's later records go on. Any other ``DeliveryError``: dead letter.
- a ``ParkExpiryTick`` (sent by ``tick_parked_work`` on a timer, keyed by the user, so it runs in the
  user's lane) dead-letters the user's parked work past its bound.

A request is remembered as done only once its dead letters are on the broker. A parked request is not
remembered: the parking is a table write that a kill may lose while a later write survives; a replay
parks it again (at least once).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import MutableMapping
from dataclasses import replace
from typing import Any, Protocol

from streams.deadletter import dead_letter_for_delivery, dead_letter_for_report
from streams.delivery import NEEDS_CONTACT, Delivered
from streams.errors import ContactPendingError, DeliveryError
from streams.mapping import Action, Plan, Report
from streams.observability import metrics
from streams.pipeline import delivered
from streams.pipeline.lanes import UserLanes
from streams.pipeline.output import DeadLetters, Output, Written
from streams.pipeline.parking import Parked, ParkingLot
from streams.pipeline.requests import DeliveryRequest, DeliveryTopicCodec, ParkExpiryTick

log = logging.getLogger(__name__)

TICK_AGAIN_S = 5.0  # a tick whose record was lost (a crash) is sent again after this long
# Operations whose success shows that the user's contact exists: parked work can go.
CONTACT_PROOF = (NEEDS_CONTACT - {Action.ALIAS}) | {
    Action.UPSERT_CONTACT,
    Action.ENSURE_LEAD,
    Action.LEARN_CONTACT,
}


class PlanExecutor(Protocol):
    """What the sink needs of delivery (streams/delivery): one per partition (its own rate budget)."""

    async def execute(
        self, plan: Plan, *, event_time: int | None = ..., unknown_user: bool = ...
    ) -> Delivered: ...

    def is_known(self, user_key: str) -> bool: ...


class PartitionExecutors(Protocol):
    def for_partition(self, partition: int) -> PlanExecutor: ...


class Sink:
    def __init__(
        self,
        executors: PartitionExecutors,
        parking: ParkingLot,
        done_requests: MutableMapping[str, Any],
        output: Output,
        dead_letters: DeadLetters,
        delivery_topic: str,
        *,
        in_flight: int,
        drain_deadline_s: float,
    ) -> None:
        self._executors = executors
        self._parking = parking
        self._done = done_requests
        self._output = output
        self._dead_letters = dead_letters
        self._delivery_topic = delivery_topic
        self._codec = DeliveryTopicCodec()
        self._ticked: dict[str, float] = {}
        self._in_flight = in_flight
        self._drain_deadline_s = drain_deadline_s
        self._lanes: dict[int, UserLanes] = {}

    def lanes_for(self, partition: int) -> UserLanes:
        """Each partition runs up to ``in_flight`` users' requests at once (lanes.py)."""
        if partition not in self._lanes:
            self._lanes[partition] = UserLanes(self._in_flight, metrics.sink_jobs)
        return self._lanes[partition]

    async def drain(self) -> None:
        """At a rebalance (and shutdown): in-flight requests get ``drain_deadline_s`` to finish."""
        abandoned = 0
        for lanes in list(self._lanes.values()):
            abandoned += await lanes.drain(self._drain_deadline_s)
        if abandoned:
            log.warning("abandoned %d in-flight requests after %.0fs; they will be redone", abandoned,
                        self._drain_deadline_s)  # fmt: skip

    async def handle(self, message: Any) -> list[Written]:
        record = self._codec.decode(message.value, message.headers)
        if isinstance(record, ParkExpiryTick):
            await self._expire(message.partition, record.user_key)
            return []
        return await self._deliver(message.partition, record)

    async def _deliver(self, partition: int, request: DeliveryRequest) -> list[Written]:
        """Returns what must reach the broker before the record is done (a parked request's letters)."""
        user = request.user_key
        if delivered.already_done(self._done.get(user), request):
            metrics.replay_avoided()  # planned again, or read again, after a kill: done before
            return []
        executor = self._executors.for_partition(partition)
        plan = request.plan()
        try:
            result = await executor.execute(
                plan, event_time=request.event_time(), unknown_user=self._parking.unknown(user)
            )
        except ContactPendingError as pending:
            written = await self._letters(request, pending.reports, pending.follow_ups)
            return written + await self._park(request, pending)
        except DeliveryError as error:
            written = [await self._dead_letter(request, error)]
        else:
            written = await self._letters(request, result.reports, result.follow_ups)
            if any(op.action in CONTACT_PROOF for op in plan.operations) and (
                self._parking.unknown(user) or self._parking.items(user)
            ):
                self._parking.known(user)
                await self._release(partition, user)
            if result.left_no_trace:
                # Nothing to remember (an unchanged identify): done again, it makes no call again, and
                # a later request's entry covers it anyway. Saves the table (changelog) write.
                metrics.request_without_calls()
                return []
        # Its dead letters on the broker first: a request remembered as done is never done again.
        await asyncio.gather(*written)
        current = self._done.get(user)
        updated = delivered.mark_done(current, request)
        if updated != current:  # a follow-up changes nothing: no changelog write
            self._done[user] = updated
        return []

    async def _letters(
        self, request: DeliveryRequest, reports: tuple[Report, ...], follow_ups: tuple[Plan, ...]
    ) -> list[Written]:
        """Dead letters for what was delivered but not as sent, and the plans the delivery asked for
        under other keys (an alias teaching its new id to that id's partition)."""
        source = request.source()
        user, kind = request.user_key, request.event_type
        written = [
            await self._dead_letters.write(dead_letter_for_report(source, r, user, kind)) for r in reports
        ]
        event = request.event() if follow_ups else {}  # parsed only when needed (rare)
        for plan in follow_ups:
            value = self._codec.encode_request(DeliveryRequest.planned(plan, event, source))
            written.append(await self._output.send(self._delivery_topic, plan.user_key.encode(), value))
        return written

    async def _dead_letter(self, request: DeliveryRequest, error: DeliveryError) -> Written:
        record = dead_letter_for_delivery(request.source(), error, request.user_key, request.event_type)
        return await self._dead_letters.write(record)

    async def _park(self, request: DeliveryRequest, pending: ContactPendingError) -> list[Written]:
        """Park the rest of ``request`` for its user; done (committable) once the table write is
        flushed, which Faust does before every commit."""
        user = request.user_key
        if self._parking.park(user, request, pending.operation_index, pending):
            metrics.parked(pending.reason or "contact_not_found")
            return []
        full = ContactPendingError(
            pending.reason or "contact_not_found",
            f"{pending.message}; not parked: {self._parking.max_items} records already wait for {user!r}",
        )
        return [await self._dead_letter(request, full)]

    async def _release(self, partition: int, user: str) -> None:
        """Perform the user's parked work, oldest first, now that the contact exists. Its dead letters
        are on the broker before the work leaves the table (a crash in between redoes it)."""
        executor = self._executors.for_partition(partition)
        remaining = self._parking.items(user)
        written: list[Written] = []
        released = 0
        while remaining:
            item = remaining[0]
            request = item.request
            try:
                result = await executor.execute(request.plan(item.start), event_time=request.event_time())
            except ContactPendingError as pending:  # needs yet another contact: stays, in order
                written += await self._letters(request, pending.reports, pending.follow_ups)
                remaining[0] = replace(item, start=item.start + pending.operation_index)
                break
            except DeliveryError as error:
                written.append(await self._dead_letter(request, error))
            else:
                written += await self._letters(request, result.reports, result.follow_ups)
                released += 1
            remaining.pop(0)
        await asyncio.gather(*written)
        self._parking.keep(user, remaining)
        metrics.released(released)

    async def _expire(self, partition: int, user: str) -> None:
        """A tick for ``user``: dead-letter the parked work past the bound (with its reason)."""
        if self._executors.for_partition(partition).is_known(user):
            await self._release(partition, user)
        remaining = self._parking.items(user)
        expired = [item for item in remaining if self._parking.due(item)]
        if not expired:
            return
        written = [await self._dead_letter(item.request, self._expired_error(item, user)) for item in expired]
        await asyncio.gather(*written)
        self._parking.keep(user, [item for item in remaining if item not in expired])

    def _expired_error(self, item: Parked, user: str) -> ContactPendingError:
        return ContactPendingError(
            item.reason,
            f"{item.message}; parked {self._parking.hold_s:g}s and no contact for "
            f"{user!r} was created or learned meanwhile",
        )

    async def tick_parked_work(self) -> None:
        """Work past its bound is dead-lettered by a tick record on the delivery topic, keyed by its
        user, so that it runs in that user's lane, in stream context (table writes need one)."""
        now = time.time()
        for user in self._parking.users_due():
            if now - self._ticked.get(user, 0.0) < TICK_AGAIN_S:
                continue
            self._ticked[user] = now
            value, headers = self._codec.encode_tick(ParkExpiryTick.now(user))
            await self._output.send(self._delivery_topic, user.encode(), value, headers)
        for user in [u for u, at in self._ticked.items() if now - at > TICK_AGAIN_S]:
            del self._ticked[user]
