"""The Faust app: raw-events → transform → delivery topic → sink → Intercom (and the dead-letter topic).

    raw-events ─┐                      ┌─ (wrong key) → rekey topic ─┐
                └──► transform agent ──┤                             │
    rekey topic ───►                   └─ DeliveryRequest → delivery topic ──► sink agent ──► Intercom
                        │                                                   │
                        └──────────────► dead-letter topic ◄────────────────┘

Records are keyed by user, so one user's requests stay in one partition, in order. The tables
(known contacts and companies) are updated by the sink and changelogged by Faust.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import faust

from streams.deadletter import (
    SourceRecord,
    dead_letter_for_delivery,
    dead_letter_for_input,
    dead_letter_for_report,
    dead_letter_headers,
    fit_dead_letter,
)
from streams.deadletter.select import REPLAY_HEADER
from streams.delivery import Executor
from streams.delivery.attributes import AttributeCache
from streams.delivery.executor import FOLLOW_UP_ACTIONS, NEEDS_CONTACT
from streams.delivery.outage import OutageDetector
from streams.delivery.retry import RetryPolicy
from streams.errors import ContactPendingError, DeliveryError, InvalidEventError
from streams.events import decode_raw_event, parse_event
from streams.intercom import IntercomClient, SlidingWindowLimiter
from streams.kafka_io import first_offset_from
from streams.kafka_security import aiokafka_security, faust_security
from streams.mapping import Action, Operation, Plan, Report, plan_event
from streams.mapping.timestamps import event_seconds
from streams.observability import HealthState, install_observability, metrics
from streams.pipeline import bulk_recovery, delivered, faust_guards, rocksdb_tuning
from streams.pipeline.commits import CommitLedger
from streams.pipeline.lanes import UserLanes
from streams.pipeline.parking import ParkingLot
from streams.pipeline.sequencer import Admission, PartitionSequencer, Verdict
from streams.pipeline.workspace import attach_workspace
from streams.records import codec_for
from streams.settings import Settings

log = logging.getLogger(__name__)


RECORD_OVERHEAD_BYTES = 16_384
PARK_EXPIRY = "park_expiry"  # event_type of a tick record (see tick_parked_work)
TICK_AGAIN_S = 5.0  # a tick whose record was lost (a crash) is sent again after this long
# Operations whose success shows that the user's contact exists: parked work can go.
CONTACT_PROOF = (NEEDS_CONTACT - {Action.ALIAS}) | {
    Action.UPSERT_CONTACT,
    Action.ENSURE_LEAD,
    Action.LEARN_CONTACT,
}

# A record queued for the broker: resolves once the broker has it.
Written = Awaitable[Any]
# Handles one input event; returns what it wrote (the event is acked once all of it is on the broker).
Handler = Callable[[Any], Awaitable[list[Written]]]


@dataclass
class Pipeline:
    app: faust.App
    settings: Settings


def _now_ms() -> int:
    return int(time.time() * 1000)


def _source(message: Any) -> SourceRecord:
    return SourceRecord(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value or b"",
        received_at_ms=_now_ms(),
    )


def delivery_record(plan: Plan, event: dict[str, Any], source: SourceRecord) -> dict[str, Any]:
    return {
        "request_id": str(event.get("messageId") or f"{source.topic}/{source.partition}/{source.offset}"),
        "user_key": plan.user_key,
        "event_type": plan.event_type,
        "operations": [op.to_record() for op in plan.operations],
        "event": json.dumps(event, separators=(",", ":"), default=str),
        "reports": [report.to_json() for report in plan.reports],
        "source_topic": source.topic,
        "source_partition": source.partition,
        "source_offset": source.offset,
        "received_at_ms": source.received_at_ms,
    }


def original_source(request: dict[str, Any]) -> SourceRecord:
    """The input record a delivery request was planned from (for its dead letters)."""
    return SourceRecord(
        request["source_topic"],
        request["source_partition"],
        request["source_offset"],
        request["user_key"].encode(),
        request["event"].encode(),
        request["received_at_ms"],
    )


def event_time_of(request: dict[str, Any]) -> int | None:
    """When the request's event happened (unix seconds), for the newest-value-wins check."""
    try:
        event = json.loads(request["event"])
    except ValueError:
        return None
    return event_seconds(event) if isinstance(event, dict) else None


def expiry_record(user: str) -> dict[str, Any]:
    """A tick on the delivery topic: expire ``user``'s parked work that is past the bound."""
    return {
        "request_id": f"park-expiry:{user}", "user_key": user, "event_type": PARK_EXPIRY, "operations": [],
        "event": "{}", "reports": [], "source_topic": "", "source_partition": -1, "source_offset": -1,
        "received_at_ms": _now_ms(),
    }  # fmt: skip


def create_pipeline(settings: Settings) -> Pipeline:
    token = settings.require_token()
    # RocksDB tables: one memory budget, zstd, and a cold partition copied from its changelog in bulk.
    rocksdb_tuning.install(settings.rocksdb_memory_mb)
    bulk_recovery.install(settings.bootstrap_servers, aiokafka_security(settings))
    data_dir = Path(settings.data_dir)
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{server.strip()}" for server in settings.bootstrap_servers.split(",")],
        store=settings.table_store,
        datadir=str(data_dir),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        web_enabled=settings.web_port > 0,
        web_port=settings.web_port or 6066,
        web_host=settings.web_host,
        broker_session_timeout=settings.consumer_session_timeout_s,
        consumer_group_instance_id=settings.group_instance_id,  # static membership (None: dynamic)
        broker_heartbeat_interval=max(0.5, settings.consumer_session_timeout_s / 10),
        broker_commit_interval=settings.commit_interval_s,
        # Resume processing as soon as table recovery ends (Faust's default waits 3 s after every
        # rebalance, which only adds latency).
        stream_recovery_delay=0.0,
        table_standby_replicas=settings.standby_replicas,
        consumer_auto_offset_reset=settings.consumer_auto_offset_reset,
        **faust_security(settings),  # TLS / SASL (streams.kafka_security)
        producer_acks=-1,
        # Tables (changelogs) use JSON; our own topics carry raw bytes that we encode ourselves.
        key_serializer="json",
        value_serializer="json",
    )
    inputs = [settings.raw_events_topic, settings.rekey_topic]
    if settings.deletion_topic:
        inputs.append(settings.deletion_topic)  # deletion requests on a topic of their own
    raw_channel = app.topic(*inputs, key_serializer="raw", value_serializer="raw")
    rekey_topic = app.topic(settings.rekey_topic, key_serializer="raw", value_serializer="raw")
    delivery_topic = app.topic(settings.delivery_topic, key_serializer="raw", value_serializer="raw")
    dead_letter_topic = app.topic(settings.dead_letter_topic, key_serializer="raw", value_serializer="raw")

    contacts = app.Table("known-contacts", default=None, partitions=settings.partitions)
    companies = app.Table("known-companies", default=None, partitions=settings.partitions)
    # Per-worker workspace cache (attribute lists, tag ids); facts all workers must agree on (event-name
    # slots, attributes created) are on the workspace topic instead. A plain table: a GlobalTable's
    # changelog was seen to be created too late for the first assignment, stalling the worker.
    workspace = app.Table("intercom-workspace", default=None, partitions=settings.partitions)
    # Users deleted on request (keyed by user, like known-contacts): their events are dead-lettered.
    suppressed = app.Table("suppressed-users", default=None, partitions=settings.partitions)
    # Per user, the last input position whose delivery request is done: replays make no call again.
    done_requests = app.Table("delivered-requests", default=None, partitions=settings.partitions)
    # Work waiting for a contact, per user (streams/pipeline/parking.py).
    parked = app.Table("parked-work", default=None, partitions=settings.partitions)
    parking = ParkingLot(parked, settings.unknown_user_hold_s, settings.park_max_per_user)
    # Event-name slots and attribute creations: one answer for all workers (the workspace topic).
    event_names, shared_attributes = attach_workspace(app, settings)
    attribute_cache = AttributeCache(workspace, settings.attribute_refresh_s, shared=shared_attributes)
    mapping_options, delivery_options = settings.mapping_options(), settings.delivery_options()

    delivery_codec = codec_for("delivery_request")
    # What one record may weigh: the producer's limit, less room for the key, headers and framing.
    record_limit = app.conf.producer_max_request_size - RECORD_OVERHEAD_BYTES
    dead_letter_codec = codec_for("dead_letter")
    max_calls, window_s = settings.rate
    limiters: dict[int, SlidingWindowLimiter] = {}
    executors: dict[int, Executor] = {}
    lanes: dict[int, UserLanes] = {}
    policy = RetryPolicy(max_attempts=settings.max_attempts, retry_horizon_s=settings.retry_horizon_s)
    # This worker's health and outage detector, shared by its executors, client and web pages.
    health = HealthState()
    outage = OutageDetector(
        health=health, window_s=settings.outage_window_s, min_calls=settings.outage_min_calls,
        min_failures=settings.outage_failures, failure_rate=settings.outage_failure_rate,
        probes=settings.outage_probes, close_after=settings.outage_close_after,
        probe_max_s=settings.outage_probe_max_s,
    )  # fmt: skip
    # One shared client (connection pool, keep-alive) for every partition.
    client = IntercomClient(
        settings.intercom_base_url, token, settings.api_version, timeout_s=settings.request_timeout_s,
        health=health,
    )  # fmt: skip

    async def produce(topic: Any, key: bytes | None, value: bytes, headers: Any = None) -> Written:
        """Queue a record; the result resolves once the broker has it (acks=all). The input record
        is acked only after that, which keeps delivery at-least-once without a round trip per event."""
        return await app.producer.send(
            topic.get_topic_name(), key, value, partition=None, timestamp=None, headers=headers
        )

    async def dead_letter(record: dict[str, Any]) -> Written:
        metrics.dead_letter(record["reason"])
        log.warning(
            "dead-lettered %s/%s@%s: %s: %s",
            record["source_topic"],
            record["source_partition"],
            record["source_offset"],
            record["reason"],
            record["message"],
        )
        key = record["user_key"].encode() if record["user_key"] else record["original_key"]
        value = dead_letter_codec.encode(record)
        if len(value) > record_limit:
            record = fit_dead_letter(record, len(value), record_limit)
            value = dead_letter_codec.encode(record)
        return await produce(dead_letter_topic, key, value, dead_letter_headers(record))

    def reading_start(tp: Any) -> int | None:
        return faust_guards.committed_offset(app.consumer, tp)

    sequencer = PartitionSequencer(reading_start)
    # What may be committed: only records fully handled (commits.py); Faust's commits ask nothing else.
    ledger = CommitLedger(reading_start)
    faust_guards.install(ledger)

    confirming: set[asyncio.Task[None]] = set()

    async def handle_then_finish(event: Any, handle: Handler) -> None:
        """Process one event; it is done (the ledger may commit past it) once what it wrote is on
        the broker. An event whose handling is cancelled (rebalance, shutdown) is only released:
        never done, so never committed, and the partition's next owner handles it again."""
        message = event.message
        try:
            written = await handle(event)
        except asyncio.CancelledError:
            faust_guards.release(app.consumer, message)  # abandoned: redone by the next owner
            raise
        except Exception as exc:  # a bug must neither stop the partition nor lose the event
            log.exception("internal error handling %s", message.tp)
            error = InvalidEventError("internal_error", f"{type(exc).__name__}: {exc}")
            try:
                written = [await dead_letter(dead_letter_for_input(_source(message), error))]
            except Exception as fatal:  # not even a dead letter can be written: stop, read it again later
                log.exception("could not dead-letter %s@%d; stopping", message.tp, message.offset)
                faust_guards.release(app.consumer, message)
                await app.crash(fatal)
                return
        if not written:
            finished(message)
            return
        task = asyncio.ensure_future(finish_when_written(event, written))
        confirming.add(task)
        task.add_done_callback(confirming.discard)

    async def finish_when_written(event: Any, written: list[Written]) -> None:
        message = event.message
        try:
            await asyncio.gather(*written)
        except Exception as exc:  # the producer gave up: stop, and read the input again on restart
            log.error("could not write the records of %s@%d to Kafka: %s", message.tp, message.offset, exc)
            faust_guards.release(app.consumer, message)
            await app.crash(exc)
            return
        finished(message)

    def finished(message: Any) -> None:
        """Fully handled: the commit may pass it, and Faust's rebalance wait need not wait for it."""
        ledger.done(message.tp, message.offset)
        faust_guards.release(app.consumer, message)

    async def consume(
        stream: Any,
        handle: Handler,
        lanes_for: Callable[[int], UserLanes] | None = None,
    ) -> None:
        """Each partition's events in offset order (the sequencer rewinds over lost records); with
        ``lanes_for``, several users' events of a partition at once, each user's in order."""
        async for event in stream.noack().events():
            message = event.message
            admission = sequencer.admit(message.tp, message.offset)
            if admission.verdict is Verdict.WAIT:
                admission = await settle_overdue_hole(message)
            if admission.rewind_to is not None:
                log.warning(
                    "%s@%d arrived before %d: reading %s again from %d",
                    message.tp, message.offset, admission.rewind_to, message.tp, admission.rewind_to,
                )  # fmt: skip
                metrics.rewind()
                await app.consumer.seek(message.tp, admission.rewind_to)
            if not admission.process:
                faust_guards.release(app.consumer, message)
                continue
            if ledger.is_done(message.tp, message.offset):  # read again (rewind, rebalance): done already
                metrics.replay_avoided()
                faust_guards.release(app.consumer, message)
                continue
            if lanes_for is None:
                await handle_then_finish(event, handle)
            else:
                user = (message.key or b"").decode("utf-8", "replace")
                await lanes_for(message.partition).submit(user, partial(handle_then_finish, event, handle))

    async def settle_overdue_hole(message: Any) -> Admission:
        """A hole that a rewind did not fill within the grace time: a lost record, or no record at all?"""
        tp = message.tp
        missing = sequencer.overdue(tp)
        if missing is None:
            return Admission(Verdict.WAIT)
        first = await first_offset_from(
            settings.bootstrap_servers, tp.topic, tp.partition, missing, security=aiokafka_security(settings)
        )
        if first is None or first <= missing:  # the record exists: the rewind was lost or slow
            sequencer.rewind_again(tp)
            metrics.rewind()
            await app.consumer.seek(tp, missing)
            return Admission(Verdict.WAIT)
        gap = sequencer.skip_gap(tp, first)
        log.warning(
            "offsets %d-%d of %s hold no record (transaction markers?); moving on", gap[0], gap[1] - 1, tp
        )
        ledger.skip(tp, *gap)
        return sequencer.admit(tp, message.offset)

    # After each rebalance reading restarts at the committed offsets: both start over from there.
    faust_guards.after_seek(sequencer.forget)
    faust_guards.after_seek(ledger.reading_restarted)

    def too_large(what: str, size: int) -> InvalidEventError:
        return InvalidEventError(
            "event_too_large",
            f"{what} is {size} bytes, over the {record_limit} bytes a Kafka record may have here "
            "(producer max_request_size)",
        )

    async def transform_one(event: Any) -> list[Written]:
        message = event.message
        source = _source(message)
        try:
            raw = decode_raw_event(message.value, message.headers)
            parsed = parse_event(raw)
        except InvalidEventError as error:
            return [await dead_letter(dead_letter_for_input(source, error))]
        if message.topic == settings.deletion_topic and parsed.type != "delete":
            wrong = InvalidEventError("invalid_event", "only delete events belong on the deletion topic")
            return [await dead_letter(dead_letter_for_input(source, wrong, parsed.user_key, parsed.type))]
        user_key = parsed.user_key.encode()
        if message.topic != settings.rekey_topic and message.key != user_key:
            # The producer keyed by something else: route through the re-key topic so this
            # user's records meet in one partition (and one table shard) from here on.
            if len(message.value) > record_limit:  # it came compressed: it cannot go out again
                big = too_large(f"this {parsed.type}", len(message.value))
                return [await dead_letter(dead_letter_for_input(source, big, parsed.user_key, parsed.type))]
            return [await produce(rekey_topic, user_key, message.value, message.headers)]
        metrics.event_in(parsed.type)
        if any(name == REPLAY_HEADER for name, _ in message.headers or ()):
            metrics.replayed(parsed.type)  # sent again by `intercom-stream dlq replay`
        try:
            plan = plan_event(parsed, mapping_options)
        except InvalidEventError as error:
            return [await dead_letter(dead_letter_for_input(source, error, parsed.user_key, parsed.type))]
        if plan.filtered is not None:
            # Deliberately not sent: counted and logged, never dead-lettered (docs/mapping.md).
            metrics.filtered(plan.filtered)
            log.info(
                "filtered %s event %s of %s: %s",
                parsed.type,
                parsed.message_id,
                parsed.user_key,
                plan.filtered,
            )
            return []
        parts = [  # each keyed by the user whose table entries it uses
            (part.user_key.encode(), delivery_codec.encode(delivery_record(part, raw, source)))
            for part in (plan, *plan.related)
        ]
        if (largest := max(len(value) for _, value in parts)) > record_limit:
            big = too_large(f"the delivery request for this {parsed.type}", largest)
            return [await dead_letter(dead_letter_for_input(source, big, parsed.user_key, parsed.type))]
        return [await produce(delivery_topic, key, value) for key, value in parts]

    @app.timer(2.0)
    async def reread_lost_records() -> None:
        await faust_guards.reread_lost(app.consumer, sequencer.expected, sequencer.forget_partition)

    @app.agent(raw_channel, name="transform")
    async def transform(stream: Any) -> None:
        await consume(stream, transform_one)

    def executor_for(partition: int) -> Executor:
        """Each delivery partition spends its own rate budget (see README: sizing)."""
        if partition not in executors:
            limiter = limiters[partition] = SlidingWindowLimiter(max_calls, window_s)

            async def call(method: str, path: str, body: Any) -> Any:
                await limiter.acquire()
                return await client.request(method, path, body)

            executors[partition] = Executor(
                call, contacts, companies, policy, workspace=workspace, options=delivery_options,
                attributes=attribute_cache, suppressed=suppressed, event_names=event_names,
                outage=outage, health=health,
            )  # fmt: skip
        return executors[partition]

    def plan_of(request: dict[str, Any], start: int = 0) -> Plan:
        """The request's plan from operation ``start`` (a parked rest carries no reports: they were
        dead-lettered when it was parked)."""
        return Plan(
            request["user_key"],
            request["event_type"],
            tuple(Operation.from_record(op) for op in request["operations"][start:]),
            () if start else tuple(Report.from_json(text) for text in request.get("reports") or ()),
        )

    async def letters_for(
        request: dict[str, Any], reports: tuple[Report, ...], follow_ups: tuple[Plan, ...]
    ) -> list[Written]:
        """Dead letters for what was delivered but not as sent, and the plans the delivery asked for
        under other keys (an alias teaching its new id to that id's partition)."""
        source = original_source(request)
        user, kind = request["user_key"], request["event_type"]
        written = [await dead_letter(dead_letter_for_report(source, r, user, kind)) for r in reports]
        event = json.loads(request["event"]) if follow_ups else {}  # parsed only when needed (rare)
        for follow in follow_ups:
            value = delivery_codec.encode(delivery_record(follow, event, source))
            written.append(await produce(delivery_topic, follow.user_key.encode(), value))
        return written

    async def sink_one(event: Any) -> list[Written]:
        message = event.message
        request = delivery_codec.decode(message.value)
        if request["event_type"] == PARK_EXPIRY:
            return await expire_parked(message.partition, request["user_key"])
        user = request["user_key"]
        # A follow-up carries the source position of another user's record: not tracked as done.
        follow_up = {op["action"] for op in request["operations"]} <= FOLLOW_UP_ACTIONS
        if not follow_up and delivered.already_done(done_requests.get(user), request):
            metrics.replay_avoided()  # planned again, or read again, after a kill: done before
            return []
        executor = executor_for(message.partition)
        plan = plan_of(request)
        try:
            done = await executor.execute(
                plan, event_time=event_time_of(request), unknown_user=parking.unknown(user)
            )
        except ContactPendingError as pending:
            # Not remembered as done: the parking is a table write that a kill may lose while a
            # later write survives; a replay parks it again (at least once).
            written = await letters_for(request, pending.reports, pending.follow_ups)
            return written + await park(request, pending.operation_index, pending)
        except DeliveryError as error:
            source = original_source(request)
            written = [await dead_letter(dead_letter_for_delivery(source, error, user, plan.event_type))]
        else:
            written = await letters_for(request, done.reports, done.follow_ups)
            if any(op.action in CONTACT_PROOF for op in plan.operations) and (
                parking.unknown(user) or parking.items(user)
            ):
                parking.known(user)
                written += await release(message.partition, user)
        # Its dead letters on the broker first: a request remembered as done is never done again.
        await asyncio.gather(*written)
        if not follow_up:
            done_requests[user] = delivered.mark_done(done_requests.get(user), request)
        return []

    async def park(request: dict[str, Any], start: int, pending: ContactPendingError) -> list[Written]:
        """Park the rest of ``request`` for its user; done (committable) once the table write is
        flushed, which Faust does before every commit."""
        user = request["user_key"]
        if parking.park(user, request, start, pending):
            metrics.parked(pending.reason or "contact_not_found")
            return []
        full = ContactPendingError(
            pending.reason or "contact_not_found",
            f"{pending.message}; not parked: {settings.park_max_per_user} records already wait for {user!r}",
        )
        return [await dead_letter(dead_letter_for_delivery(original_source(request), full, user,
                                                           request["event_type"]))]  # fmt: skip

    async def release(partition: int, user: str) -> list[Written]:
        """Perform the user's parked work, oldest first, now that the contact exists. Its dead letters
        are on the broker before the work leaves the table (a crash in between redoes it)."""
        executor = executor_for(partition)
        remaining = parking.items(user)
        written: list[Written] = []
        released = 0
        while remaining:
            item = remaining[0]
            request = item.request
            try:
                done = await executor.execute(plan_of(request, item.start), event_time=event_time_of(request))
            except ContactPendingError as pending:  # needs yet another contact: stays, in order
                written += await letters_for(request, pending.reports, pending.follow_ups)
                remaining[0] = replace(item, start=item.start + pending.operation_index)
                break
            except DeliveryError as error:
                letter = dead_letter_for_delivery(
                    original_source(request), error, user, request["event_type"]
                )
                written.append(await dead_letter(letter))
            else:
                written += await letters_for(request, done.reports, done.follow_ups)
                released += 1
            remaining.pop(0)
        await asyncio.gather(*written)
        parking.keep(user, remaining)
        metrics.released(released)
        return []

    async def expire_parked(partition: int, user: str) -> list[Written]:
        """A tick for ``user``: dead-letter the parked work past the bound (with its reason)."""
        if executor_for(partition).is_known(user):
            await release(partition, user)
        remaining = parking.items(user)
        expired = [item for item in remaining if parking.due(item)]
        if not expired:
            return []
        written = []
        for item in expired:
            error = ContactPendingError(
                item.reason,
                f"{item.message}; parked {settings.unknown_user_hold_s:g}s and no contact for "
                f"{user!r} was created or learned meanwhile",
            )
            kind = item.request["event_type"]
            written.append(
                await dead_letter(dead_letter_for_delivery(original_source(item.request), error, user, kind))
            )
        await asyncio.gather(*written)
        parking.keep(user, [item for item in remaining if item not in expired])
        return []

    ticked: dict[str, float] = {}

    @app.timer(1.0)
    async def tick_parked_work() -> None:
        """Work past its bound is dead-lettered by a tick record on the delivery topic, keyed by its
        user, so that it runs in that user's lane, in stream context (table writes need one)."""
        now = time.time()
        for user in parking.users_due():
            if now - ticked.get(user, 0.0) < TICK_AGAIN_S:
                continue
            ticked[user] = now
            await produce(delivery_topic, user.encode(), delivery_codec.encode(expiry_record(user)))
        for user in [u for u, at in ticked.items() if now - at > TICK_AGAIN_S]:
            del ticked[user]

    @app.agent(delivery_topic, name="sink")
    async def sink(stream: Any) -> None:
        await consume(stream, sink_one, lanes_for)

    def lanes_for(partition: int) -> UserLanes:
        if partition not in lanes:
            lanes[partition] = UserLanes(settings.sink_in_flight, metrics.sink_jobs)
        return lanes[partition]

    async def drain_in_flight() -> None:
        """At a rebalance (and shutdown): in-flight requests get ``drain_deadline_s`` to finish."""
        abandoned = 0
        for partition_lanes in list(lanes.values()):
            abandoned += await partition_lanes.drain(settings.drain_deadline_s)
        if abandoned:
            log.warning("abandoned %d in-flight requests after %.0fs; they will be redone", abandoned,
                        settings.drain_deadline_s)  # fmt: skip

    faust_guards.before_rebalance_wait(drain_in_flight)

    install_observability(app, settings, limiters, health=health)  # /metrics, /health/*, lag, assignment logs
    return Pipeline(app=app, settings=settings)
