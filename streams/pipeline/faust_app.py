"""The Faust app of the pipeline, and what it needs of Faust: our transport and store, one version.

Faust picks its transport and its table store by URL scheme from registries that read the
``faust.transports`` / ``faust.stores`` entry points; pyproject.toml registers ours there:

- ``intercom-kafka://``: faust's aiokafka transport whose consumer carries the commit guards and owns
  the commit ledger (streams/pipeline/faust_guards.py, transport.py);
- ``intercom-rocksdb://``: faust's RocksDB store with one memory budget and bulk cold recovery
  (streams/pipeline/rocksdb_store.py).

Users keep writing ``rocksdb://`` / ``memory://`` (``store_url`` maps them). ``PipelineApp`` carries
what those extensions need per app (hooks, timeouts, the memory budget), so nothing is process-wide.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faust
from faust.stores import STORES
from faust.transport.drivers import TRANSPORTS

from streams.errors import ConfigurationError
from streams.kafka_security import aiokafka_security, faust_security
from streams.pipeline.commits import CommitLedger
from streams.pipeline.faust_guards import GuardedConsumer, PipelineHooks
from streams.pipeline.rocksdb_tuning import MemoryBudget
from streams.settings import Settings

FAUST_DISTRIBUTION = "faust-streaming"
FAUST_VERSION = "0.15.3"  # the guards override its internals; pyproject.toml pins the same
BROKER_SCHEME = "intercom-kafka"
STORE_SCHEMES = {"rocksdb": "intercom-rocksdb", "memory": "memory"}  # user-facing scheme -> ours

# Wait up to 5 ms to batch records (delivery requests, changelogs, dead letters) into one produce
# request (Faust's default is 0: a request per record): fewer, larger requests cost the worker less
# CPU (socket writes 10.9 % -> 5.2 % of a no-call worker's CPU, docs/performance.md) for at most
# 5 ms more latency.
PRODUCER_LINGER_S = 0.005


def broker_urls(bootstrap_servers: str) -> list[str]:
    """Faust broker URLs on our transport, one per bootstrap server."""
    servers = (server.strip().removeprefix("kafka://") for server in bootstrap_servers.split(","))
    return [f"{BROKER_SCHEME}://{server}" for server in servers if server]


def store_url(table_store: str) -> str:
    """The Faust store URL for the user's ``table_store`` (``rocksdb://`` or ``memory://``)."""
    scheme, sep, rest = table_store.partition("://")
    if not sep or scheme not in STORE_SCHEMES:
        choices = " or ".join(f"{known}://" for known in STORE_SCHEMES)
        raise ConfigurationError(f"INTERCOM_STREAM_TABLE_STORE={table_store!r}: use {choices}")
    return f"{STORE_SCHEMES[scheme]}://{rest}"


def check_faust(version_of: Callable[[str], str] = importlib.metadata.version) -> None:
    """Refuse to start on another faust-streaming than the guards were written against, or when our
    transport and store are not registered (the package installed without its entry points)."""
    try:
        installed = version_of(FAUST_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        installed = "none"
    if installed != FAUST_VERSION:
        raise ConfigurationError(
            f"{FAUST_DISTRIBUTION} {installed} is installed, but intercom-stream requires exactly "
            f"{FAUST_VERSION} (its consumer overrides internals of that version to keep commits "
            f"safe); install it with: pip install '{FAUST_DISTRIBUTION}=={FAUST_VERSION}'"
        )
    for registry, scheme in ((TRANSPORTS, BROKER_SCHEME), (STORES, STORE_SCHEMES["rocksdb"])):
        try:
            registry.by_name(scheme)
        except ModuleNotFoundError:
            raise ConfigurationError(
                f"Faust does not know the {scheme}:// scheme: intercom-stream's entry points are not "
                "installed (reinstall the package: pip install -e . or the wheel)"
            ) from None


@dataclass
class Hooks:
    """``PipelineHooks`` as plain callables, for wiring that creates them after the app."""

    on_reading_restarted: list[Callable[[], Any]] = field(default_factory=list)
    on_before_rebalance_wait: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)

    def reading_restarted(self) -> None:
        for callback in self.on_reading_restarted:
            callback()

    async def before_rebalance_wait(self) -> None:
        for callback in self.on_before_rebalance_wait:
            await callback()


@dataclass(frozen=True)
class KafkaSource:
    """Where the RocksDB store copies changelogs from in bulk (aiokafka client options)."""

    bootstrap_servers: str
    security: Mapping[str, Any]


class PipelineApp(faust.App):
    """A ``faust.App`` that hands our transport and store what they need (instance state only)."""

    def __init__(
        self,
        id: str,
        *,
        hooks: PipelineHooks | None = None,
        kafka_connect_timeout_s: float = 0.0,
        rocksdb_memory_mb: int = 128,
        changelog_source: KafkaSource | None = None,
        **options: Any,
    ) -> None:
        super().__init__(id, **options)
        self.pipeline_hooks: PipelineHooks = hooks if hooks is not None else Hooks()
        self.kafka_connect_timeout_s = kafka_connect_timeout_s  # how long clients wait for the broker
        self.rocksdb_budget = MemoryBudget(rocksdb_memory_mb)  # shared by all RocksDB tables of the app
        self.changelog_source = changelog_source  # None: no bulk recovery

    @property
    def guarded_consumer(self) -> GuardedConsumer:
        consumer = self.consumer
        if not isinstance(consumer, GuardedConsumer):
            raise ConfigurationError(
                f"the app's consumer is {type(consumer).__name__}, not the guarded one: "
                f"its broker URLs must use {BROKER_SCHEME}:// (faust_app.broker_urls)"
            )
        return consumer

    @property
    def ledger(self) -> CommitLedger:
        """The commit ledger, owned by the consumer: what may be committed."""
        return self.guarded_consumer.ledger


def faust_app(settings: Settings, hooks: PipelineHooks) -> PipelineApp:
    """The worker's app: our transport and store, Faust settings from ``settings``."""
    return PipelineApp(
        settings.app_id,
        hooks=hooks,
        kafka_connect_timeout_s=settings.kafka_connect_timeout_s,  # its clients wait for the broker
        # RocksDB tables: one memory budget, zstd, and a cold partition copied from its changelog in bulk.
        rocksdb_memory_mb=settings.rocksdb_memory_mb,
        changelog_source=KafkaSource(settings.bootstrap_servers, aiokafka_security(settings)),
        broker=broker_urls(settings.bootstrap_servers),  # our transport: the guarded consumer
        store=store_url(settings.table_store),
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
        producer_linger=PRODUCER_LINGER_S,
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
