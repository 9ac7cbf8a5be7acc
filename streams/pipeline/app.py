"""The worker's pipeline: raw-events → transform → delivery topic → sink → Intercom (and dead letters).

    raw-events ─┐                      ┌─ (wrong key) → rekey topic ─┐
                └──► transform agent ──┤                             │
    rekey topic ───►                   └─ DeliveryRequest → delivery topic ──► sink agent ──► Intercom
                        │                                                   │
                        └──────────────► dead-letter topic ◄────────────────┘

Records are keyed by user, so one user's requests stay in one partition, in order. The parts, each
a module with one job: intake.py (the consume loop both agents share: order, commits), transform.py,
sink.py (parking, release, expiry, done-request memory), executors.py (delivery per partition),
output.py (everything written to Kafka, dead letters), tables.py (the Faust tables).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import faust

from streams.delivery import Executor
from streams.delivery.attributes import AttributeCache
from streams.delivery.idle_probe import IdleProbe
from streams.delivery.outage import OutageDetector
from streams.delivery.retry import RetryPolicy
from streams.intercom import IntercomClient
from streams.kafka_io import first_offset_from
from streams.kafka_security import aiokafka_security
from streams.observability import HealthState, install_observability
from streams.pipeline.executors import PartitionCalls, PartitionExecutors
from streams.pipeline.faust_app import Hooks, PipelineApp, channels, faust_app
from streams.pipeline.intake import ConsumerControl, Intake
from streams.pipeline.output import DeadLetters, Output
from streams.pipeline.parking import ParkingLot
from streams.pipeline.sink import Sink
from streams.pipeline.tables import Tables, declare_tables
from streams.pipeline.transform import Transform
from streams.pipeline.workspace import attach_workspace
from streams.registry.intake import input_decoder
from streams.settings import Settings


@dataclass
class Pipeline:
    app: PipelineApp
    settings: Settings
    health: HealthState
    intake: Intake
    transform: Transform
    sink: Sink


def create_pipeline(settings: Settings) -> Pipeline:
    """Compose the parts top-down and register them with Faust (agents, timers, hooks)."""
    hooks = Hooks()  # what the consumer tells the pipeline (after a seek, before a rebalance wait)
    app = faust_app(settings, hooks)
    topics, tables = channels(app, settings), declare_tables(app, settings.partitions)
    health = HealthState()  # this worker's: read by /health/*, the metrics, the client, delivery
    output = Output(app)
    dead_letters = DeadLetters(output, settings.dead_letter_topic)
    first_offset = partial(
        first_offset_from, settings.bootstrap_servers, security=aiokafka_security(settings)
    )
    intake = Intake(ConsumerControl(app), dead_letters, first_offset)
    hooks.on_reading_restarted.append(intake.reading_restarted)
    delivery = DeliveryFactory(app, settings, tables, health)
    client = delivery.client()
    executors = PartitionExecutors(client, settings.rate, delivery.executor)
    idle_probe = IdleProbe(delivery.outage, client.request)
    parking = ParkingLot(tables.parked, settings.unknown_user_hold_s, settings.park_max_per_user)
    sink = Sink(executors, parking, tables.delivered, output, dead_letters, settings.delivery_topic,
                in_flight=settings.sink_in_flight, drain_deadline_s=settings.drain_deadline_s)  # fmt: skip
    decoder = input_decoder(settings, health)
    transform = Transform(settings, decoder, settings.mapping_options(), output, dead_letters)

    app.agent(topics.inputs, name="transform")(partial(intake.consume, handler=transform))
    app.agent(topics.delivery, name="sink")(partial(intake.consume, handler=sink, lanes_for=sink.lanes_for))
    app.timer(2.0)(intake.reread_lost)
    app.timer(1.0)(sink.tick_parked_work)
    app.timer(1.0)(idle_probe.tick)  # ends an outage pause when no delivery call is left to probe
    hooks.on_before_rebalance_wait.append(sink.drain)
    install_observability(app, settings, executors.limiters, health=health)  # /metrics, /health/*, lag
    return Pipeline(app, settings, health, intake, transform, sink)


class DeliveryFactory:
    """Builds what delivery needs once per worker (client, outage detector, caches) and an
    ``Executor`` per delivery partition on top of it."""

    def __init__(self, app: faust.App, settings: Settings, tables: Tables, health: HealthState) -> None:
        self._settings = settings
        self._tables = tables
        self._health = health
        self._event_names, shared_attributes = attach_workspace(app, settings)  # one answer for all workers
        self._attributes = AttributeCache(
            tables.workspace, settings.attribute_refresh_s, shared=shared_attributes
        )
        self._policy = RetryPolicy(
            max_attempts=settings.max_attempts, retry_horizon_s=settings.retry_horizon_s
        )
        self._options = settings.delivery_options()
        # One detector for the worker: every partition's calls go to the same Intercom.
        self.outage = OutageDetector(
            health=health, window_s=settings.outage_window_s, min_calls=settings.outage_min_calls,
            min_failures=settings.outage_failures, failure_rate=settings.outage_failure_rate,
            probes=settings.outage_probes, close_after=settings.outage_close_after,
            probe_max_s=settings.outage_probe_max_s,
        )  # fmt: skip

    def client(self) -> IntercomClient:
        """One shared client (connection pool, keep-alive) for every partition."""
        settings = self._settings
        return IntercomClient(
            settings.intercom_base_url, settings.require_token(), settings.api_version,
            timeout_s=settings.request_timeout_s, health=self._health,
        )  # fmt: skip

    def executor(self, calls: PartitionCalls) -> Executor:
        tables = self._tables
        return Executor(
            calls, tables.contacts, tables.companies, self._policy, workspace=tables.workspace,
            options=self._options, attributes=self._attributes, suppressed=tables.suppressed,
            event_names=self._event_names, outage=self.outage, health=self._health,
        )  # fmt: skip
