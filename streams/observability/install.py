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


def install_observability(
    app: Any, settings: Any, limiters: Mapping[Any, Any] | None = None, *, health: HealthState
) -> None:
    """Registers ``/metrics``, ``/health/live`` and ``/health/ready`` (answered from ``health``, the
    worker's) on Faust's web server, the partition-assignment logs, the loop tick and the
    consumer-lag timer."""
    if getattr(app, "_intercom_stream_observability", False):
        return
    app._intercom_stream_observability = True
    metrics.SCRAPE_TIME.limiters = limiters if limiters is not None else {}
    metrics.SCRAPE_TIME.tables = lambda: [(str(name), table) for name, table in app.tables.items()]
    source_topics = {settings.raw_events_topic, settings.rekey_topic, settings.delivery_topic}

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

    async def on_assigned(sender: Any, assigned: Any, **kwargs: Any) -> None:
        health.partitions_assigned(len(assigned))
        log.info("partitions assigned", partitions=_by_topic(assigned), state="assigned")

    async def on_revoked(sender: Any, revoked: Any, **kwargs: Any) -> None:
        if revoked:
            log.info("partitions revoked", partitions=_by_topic(revoked), state="revoked")

    app.on_partitions_assigned.connect(on_assigned)
    app.on_partitions_revoked.connect(on_revoked)

    last = {"tick": time.monotonic(), "broker_failures": 0}

    @app.timer(TICK_INTERVAL_S, name="intercom_stream_loop_tick")
    async def loop_tick() -> None:
        now = time.monotonic()
        health.tick(max(0.0, now - last["tick"] - TICK_INTERVAL_S))
        last["tick"] = now

    @app.timer(LAG_INTERVAL_S, name="intercom_stream_consumer_lag")
    async def lag_and_broker() -> None:
        lag = consumer_lag(app.consumer, source_topics)
        metrics.CONSUMER_LAG.clear()  # partitions revoked since the last run disappear
        for (topic, partition), behind in lag.items():
            metrics.CONSUMER_LAG.labels(topic=topic, partition=str(partition)).set(behind)
        problem = broker_problem(app.consumer)
        last["broker_failures"] = last["broker_failures"] + 1 if problem else 0
        if problem is None or last["broker_failures"] >= BROKER_FAILURES_BEFORE_RED:
            health.broker(problem)
