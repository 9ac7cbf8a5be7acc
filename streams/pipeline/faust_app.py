"""The Faust app of a worker, configured from Settings, and its topics."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust

from streams.kafka_security import faust_security
from streams.settings import Settings


def faust_app(settings: Settings) -> faust.App:
    return faust.App(
        settings.app_id,
        broker=[f"kafka://{server.strip()}" for server in settings.bootstrap_servers.split(",")],
        store=settings.table_store,
        datadir=str(Path(settings.data_dir)),
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


@dataclass(frozen=True)
class Channels:
    inputs: Any  # raw events, the re-key topic and the deletion topic (if any)
    delivery: Any


def channels(app: faust.App, settings: Settings) -> Channels:
    names = [settings.raw_events_topic, settings.rekey_topic]
    if settings.deletion_topic:
        names.append(settings.deletion_topic)  # deletion requests on a topic of their own
    return Channels(
        inputs=app.topic(*names, key_serializer="raw", value_serializer="raw"),
        delivery=app.topic(settings.delivery_topic, key_serializer="raw", value_serializer="raw"),
    )
