"""Create the app's topics before the worker starts, and check co-partitioning.

The input, delivery, re-key and dead-letter topics are ours. The tables' changelog topics are created
here too, compacted, before Faust starts: left to Faust, two workers starting together raced to create
them, and one kept seeing a changelog with 0 partitions and failed every write to that table.

The workspace topic (streams/workspace) is one partition, compacted: every worker reads it in full, and
its single order decides which event names hold the cap's slots.

raw-events, the re-key topic and the delivery topic must have the same partition count:
the sink updates tables that the transform of the same partition number reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import CoordinatorLoadInProgressError, GroupCoordinatorNotAvailableError

from streams.errors import ConfigurationError
from streams.kafka_bootstrap import wait_for_broker
from streams.kafka_io import await_topics, describe_partition_counts
from streams.kafka_security import aiokafka_security, check_connection
from streams.pipeline.tables import TABLE_NAMES
from streams.settings import Settings

log = logging.getLogger(__name__)


# Changelogs keep the latest value per key, forever (compact, no time retention); a deleted key (a user
# deleted on request: `del table[key]`) leaves a tombstone that compaction drops after a day, so readers
# that were behind still see the deletion. Segments roll every 6 hours so compaction reaches recent
# updates: a cold recovery then reads about one value per key, not every update since the last week.
CHANGELOG_CONFIG = {
    "cleanup.policy": "compact",
    "delete.retention.ms": str(24 * 3600 * 1000),
    "segment.ms": str(6 * 3600 * 1000),
}


# Reservations are never removed (their keys are unique), so compaction keeps the log's order.
WORKSPACE_CONFIG = {"cleanup.policy": "compact", "delete.retention.ms": str(24 * 3600 * 1000)}


def changelog_topics(settings: Settings) -> list[str]:
    """Faust's name for each table's changelog topic."""
    return [f"{settings.app_id}-{table}-changelog" for table in TABLE_NAMES]


def copartitioned_topics(settings: Settings) -> list[str]:
    return [settings.raw_events_topic, settings.rekey_topic, settings.delivery_topic]


async def ensure_topics(settings: Settings, *, check_offsets: bool = False) -> dict[str, int]:
    """Create missing topics (when allowed) and return every topic's partition count.

    With ``check_offsets``, also log where the consumer group starts (see :func:`log_start_positions`).
    """
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=f"{settings.app_id}-admin",
        request_timeout_ms=int(settings.kafka_connect_timeout_s * 1000),
        **aiokafka_security(settings),
    )
    await _start_admin(admin, settings)
    try:
        wanted = [*copartitioned_topics(settings), settings.dead_letter_topic]
        counts = await describe_partition_counts(admin, wanted)
        missing = [name for name in wanted if name not in counts]
        if missing and not settings.create_topics:
            raise ConfigurationError(
                f"topics missing: {', '.join(missing)}; create them with `intercom-stream topics create` "
                "(the Helm chart's topicsJob runs it), or yourself with the same partition count for "
                f"{', '.join(copartitioned_topics(settings))}, or set INTERCOM_STREAM_CREATE_TOPICS=true"
            )
        if missing:
            # New co-partitioned topics follow the input topic when it already exists.
            partitions = counts.get(settings.raw_events_topic, settings.partitions)
            await admin.create_topics(
                [NewTopic(name, partitions, settings.replication_factor) for name in missing]
            )
            log.info("created topics %s with %d partitions", ", ".join(missing), partitions)
            try:
                counts = await await_topics(admin, wanted, settings.kafka_connect_timeout_s)
            except TimeoutError as exc:
                raise ConfigurationError(
                    f"{exc} after creating them (INTERCOM_STREAM_KAFKA_CONNECT_TIMEOUT_S); "
                    "is the broker healthy?"
                ) from None
        sizes = {name: counts[name] for name in copartitioned_topics(settings)}
        if len(set(sizes.values())) > 1:
            raise ConfigurationError(
                "co-partitioning required: these topics must have the same partition count, but have "
                + ", ".join(f"{name}={count}" for name, count in sizes.items())
                + " (records of one user must meet in the same partition number of each topic, where the "
                "sink updates the tables the transform reads); refusing to start: recreate or grow the "
                "smaller topics (kafka-topics --alter --partitions) to the same count"
            )
        counts.update(await _ensure_changelogs(admin, settings, sizes[settings.raw_events_topic]))
        counts.update(await _ensure_workspace_topic(admin, settings))
        if check_offsets:
            await log_start_positions(admin, settings)
        return counts
    finally:
        await admin.close()


async def _ensure_changelogs(
    admin: AIOKafkaAdminClient, settings: Settings, partitions: int
) -> dict[str, int]:
    """Each table's changelog, compacted, with the input's partition count (Faust requires it)."""
    wanted = changelog_topics(settings)
    counts = await describe_partition_counts(admin, wanted)
    missing = [name for name in wanted if name not in counts]
    if missing:
        await admin.create_topics(
            [NewTopic(name, partitions, settings.replication_factor, topic_configs=CHANGELOG_CONFIG)
             for name in missing]
        )  # fmt: skip
        log.info("created changelog topics %s with %d partitions", ", ".join(missing), partitions)
        try:
            counts = await await_topics(admin, wanted, settings.kafka_connect_timeout_s)
        except TimeoutError as exc:
            raise ConfigurationError(f"{exc} after creating them; is the broker healthy?") from None
    await _warn_unless_compacted(admin, [name for name in wanted if name not in missing])
    wrong = {name: n for name, n in counts.items() if n != partitions}
    if wrong:
        raise ConfigurationError(
            f"changelog topics with a partition count other than the input's {partitions}: "
            + ", ".join(f"{name}={n}" for name, n in wrong.items())
            + " (Faust refuses them); recreate them with the same count (their tables are rebuilt from "
            "Intercom lookups as events arrive)"
        )
    return counts


async def _warn_unless_compacted(admin: AIOKafkaAdminClient, topics: list[str]) -> None:
    """Changelogs created before (by Faust, or by hand) may not be compacted: they then lose old
    entries to time retention, and the tables with them. Informational: never blocks start-up."""
    if not topics:
        return
    try:
        resources = [ConfigResource(ConfigResourceType.TOPIC, topic) for topic in topics]
        responses = await admin.describe_configs(resources)
        policies = {
            resource[3]: dict((entry[0], entry[1]) for entry in resource[4]).get("cleanup.policy", "")
            for response in responses
            for resource in response.resources
        }
    except Exception as exc:
        log.info("could not read the changelog topics' configs: %s", exc)
        return
    for topic, policy in sorted(policies.items()):
        if "compact" not in (policy or ""):
            log.warning(
                "changelog topic %s has cleanup.policy=%s: its table loses entries when they expire; set "
                "it to compact (kafka-configs --alter --entity-type topics --entity-name %s --add-config "
                "cleanup.policy=compact)",
                topic, policy, topic,
            )  # fmt: skip


async def _ensure_workspace_topic(admin: AIOKafkaAdminClient, settings: Settings) -> dict[str, int]:
    """The workspace topic: exactly one partition (one order for every worker), compacted."""
    name = settings.workspace_topic_name
    counts = await describe_partition_counts(admin, [name])
    if name not in counts:
        await admin.create_topics(
            [NewTopic(name, 1, settings.replication_factor, topic_configs=WORKSPACE_CONFIG)]
        )
        log.info("created the workspace topic %s (1 partition, compacted)", name)
        try:
            counts = await await_topics(admin, [name], settings.kafka_connect_timeout_s)
        except TimeoutError as exc:
            raise ConfigurationError(f"{exc} after creating it; is the broker healthy?") from None
    if counts[name] != 1:
        raise ConfigurationError(
            f"the workspace topic {name} has {counts[name]} partitions; it needs exactly 1 (every worker "
            "reads one order of records): delete it and restart (it is rebuilt as names are sent), or set "
            "INTERCOM_STREAM_WORKSPACE_TOPIC to a new name"
        )
    return counts


async def _start_admin(admin: AIOKafkaAdminClient, settings: Settings) -> None:
    """Check the connection first (a clear message naming the setting to fix), then start the admin
    client within ``kafka_connect_timeout_s``."""
    await check_connection(settings)
    try:  # a broker restarting right after the check is waited for (within the same timeout)
        await wait_for_broker(
            settings.bootstrap_servers, settings.kafka_connect_timeout_s, **aiokafka_security(settings)
        )
        await asyncio.wait_for(admin.start(), settings.kafka_connect_timeout_s)
    except Exception as exc:
        with contextlib.suppress(Exception):
            await admin.close()
        raise ConfigurationError(
            f"cannot connect to Kafka at {settings.bootstrap_servers}: {exc!r}; check "
            "INTERCOM_STREAM_BOOTSTRAP_SERVERS and INTERCOM_STREAM_SECURITY_PROTOCOL"
        ) from None


async def log_start_positions(admin: AIOKafkaAdminClient, settings: Settings) -> None:
    """Log, per input topic, whether the consumer group resumes from committed offsets or starts from
    the configured policy (first start: no committed offsets)."""
    committed: dict[Any, Any] = {}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + min(10.0, settings.kafka_connect_timeout_s)
    while True:
        try:
            committed = await admin.list_consumer_group_offsets(settings.app_id)
            break
        except (GroupCoordinatorNotAvailableError, CoordinatorLoadInProgressError) as exc:
            # A fresh cluster creates its offsets topic on this first request: then no group has
            # committed anything yet, which is what we report if it stays unavailable.
            if loop.time() > deadline:
                log.info("group coordinator not available yet (%s): no committed offsets", exc)
                break
            await asyncio.sleep(0.5)
        except Exception as exc:  # informational only: never block start-up on it
            log.info("could not read committed offsets of consumer group %s: %s", settings.app_id, exc)
            return
    inputs = [settings.raw_events_topic, settings.rekey_topic, settings.delivery_topic]
    have = {tp.topic for tp, meta in committed.items() if meta is not None and meta.offset >= 0}
    absent = [topic for topic in inputs if topic not in have]
    policy = settings.consumer_auto_offset_reset
    if absent:
        log.info(
            "consumer group %s has no committed offsets for %s (first start): starting from the %s offsets "
            "(INTERCOM_STREAM_CONSUMER_AUTO_OFFSET_RESET=%s)",
            settings.app_id,
            ", ".join(absent),
            policy,
            policy,
        )
    resumed = [topic for topic in inputs if topic in have]
    if resumed:
        log.info("consumer group %s resumes %s from committed offsets", settings.app_id, ", ".join(resumed))
