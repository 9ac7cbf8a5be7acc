"""Wires metrics, health and state-change logs into a Faust app (called once by ``create_pipeline``)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

import structlog
from prometheus_client import CONTENT_TYPE_LATEST

from streams.observability import metrics
from streams.observability.health import HealthState

log = structlog.get_logger("streams.observability")

TICK_INTERVAL_S = 1.0
LAG_INTERVAL_S = 10.0
# Consecutive failed connectivity checks (one per LAG_INTERVAL_S) before the broker counts as unreachable.
BROKER_FAILURES_BEFORE_RED = 2


def _by_topic(tps: Iterable[Any]) -> dict[str, list[int]]:
    grouped: dict[str, list[int]] = {}
    for tp in tps:
        grouped.setdefault(tp.topic, []).append(tp.partition)
    return {topic: sorted(parts) for topic, parts in sorted(grouped.items())}


def consumer_lag(consumer: Any, topics: Iterable[str]) -> dict[tuple[str, int], int]:
    """Highwater minus committed offset for each assigned partition of ``topics`` (from what the
    consumer already knows: no extra requests). Partitions without both numbers are left out."""
    wanted = set(topics)
    committed_offsets: Mapping[Any, int | None] = getattr(consumer, "_committed_offset", {})
    lag: dict[tuple[str, int], int] = {}
    for tp in consumer.assignment():
        if tp.topic not in wanted:
            continue
        try:
            highwater = consumer.highwater(tp)
        except Exception:  # not fetched yet / consumer restarting
            continue
        committed = committed_offsets.get(tp)
        if highwater is None or committed is None:
            continue
        lag[(tp.topic, tp.partition)] = max(0, int(highwater) - int(committed))
    return lag


def broker_problem(consumer: Any) -> str | None:
    """Why the Kafka consumer seems cut off from the cluster, or None (reachable, or cannot tell)."""
    try:
        kafka = consumer._thread._consumer  # faust's aiokafka driver: the AIOKafkaConsumer
        if kafka is None:
            return None
        connections = list(kafka._client._conns.values())
        if not any(conn.connected() for conn in connections):
            return "no open connection to any Kafka broker"
        if getattr(kafka._coordinator, "coordinator_id", 0) is None:
            return "the consumer group coordinator is unknown"
    except AttributeError:
        return None  # another transport, or the consumer is not started: cannot tell
    return None


class WorkerWatch:
    """The worker's own signals and timers: partition assignments, loop stalls, lag, the broker."""

    def __init__(self, app: Any, source_topics: set[str], health: HealthState) -> None:
        self._app = app
        self._source_topics = source_topics
        self._health = health
        self._last_tick = time.monotonic()
        self._broker_failures = 0

    async def on_assigned(self, sender: Any, assigned: Any, **kwargs: Any) -> None:
        self._health.partitions_assigned(len(assigned))
        log.info("partitions assigned", partitions=_by_topic(assigned), state="assigned")

    async def on_revoked(self, sender: Any, revoked: Any, **kwargs: Any) -> None:
        if revoked:
            log.info("partitions revoked", partitions=_by_topic(revoked), state="revoked")

    async def loop_tick(self) -> None:
        """How late the loop runs a 1 s timer: a blocked loop shows here (and in health)."""
        now = time.monotonic()
        self._health.tick(max(0.0, now - self._last_tick - TICK_INTERVAL_S))
        self._last_tick = now

    async def lag_and_broker(self) -> None:
        consumer = self._app.consumer
        lag = consumer_lag(consumer, self._source_topics)
        metrics.CONSUMER_LAG.clear()  # partitions revoked since the last run disappear
        for (topic, partition), behind in lag.items():
            metrics.CONSUMER_LAG.labels(topic=topic, partition=str(partition)).set(behind)
        problem = broker_problem(consumer)
        self._broker_failures = self._broker_failures + 1 if problem else 0
        if problem is None or self._broker_failures >= BROKER_FAILURES_BEFORE_RED:
            self._health.broker(problem)


def install_observability(
    app: Any, settings: Any, limiters: Mapping[Any, Any] | None = None, *, health: HealthState
) -> None:
    """Registers ``/metrics``, ``/health/live`` and ``/health/ready`` (answered from ``health``, the
    worker's) on Faust's web server, the partition-assignment logs, the loop tick and the
    consumer-lag timer. Called once per app (``create_pipeline``)."""
    metrics.SCRAPE_TIME.limiters = limiters if limiters is not None else {}
    metrics.SCRAPE_TIME.tables = lambda: [(str(name), table) for name, table in app.tables.items()]

    # Faust's pages are functions of (view, request): the view builds the response.
    @app.page("/metrics", name="intercom_stream_metrics")
    async def metrics_page(self: Any, request: Any) -> Any:
        return self.bytes(metrics.exposition(), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    @app.page("/health/live", name="intercom_stream_live")
    async def live_page(self: Any, request: Any) -> Any:
        ok, body = health.live(app)
        return self.json(body, status=200 if ok else 503)

    @app.page("/health/ready", name="intercom_stream_ready")
    async def ready_page(self: Any, request: Any) -> Any:
        ok, body = health.ready(app)
        return self.json(body, status=200 if ok else 503)

    watch = WorkerWatch(
        app, {settings.raw_events_topic, settings.rekey_topic, settings.delivery_topic}, health
    )
    app.on_partitions_assigned.connect(watch.on_assigned)
    app.on_partitions_revoked.connect(watch.on_revoked)
    app.timer(TICK_INTERVAL_S, name="intercom_stream_loop_tick")(watch.loop_tick)
    app.timer(LAG_INTERVAL_S, name="intercom_stream_consumer_lag")(watch.lag_and_broker)
