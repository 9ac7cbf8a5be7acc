"""Create the app's source topics before the worker starts, and check co-partitioning.

Faust creates only its own internal topics (changelogs); the input, delivery, re-key and dead-letter
topics are ours. raw-events, the re-key topic and the delivery topic must have the same partition count:
the sink updates tables that the transform of the same partition number reads.
"""

from __future__ import annotations

import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.errors import ConfigurationError
from streams.settings import Settings

log = logging.getLogger(__name__)


def copartitioned_topics(settings: Settings) -> list[str]:
    return [settings.raw_events_topic, settings.rekey_topic, settings.delivery_topic]


async def ensure_topics(settings: Settings) -> dict[str, int]:
    """Create missing topics (when allowed) and return every topic's partition count."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers, client_id=f"{settings.app_id}-admin"
    )
    await admin.start()
    try:
        wanted = [*copartitioned_topics(settings), settings.dead_letter_topic]
        counts = await _partition_counts(admin, wanted)
        missing = [name for name in wanted if name not in counts]
        if missing and not settings.create_topics:
            raise ConfigurationError(
                f"topics missing: {', '.join(missing)}; create them (same partition count for "
                f"{', '.join(copartitioned_topics(settings))}) or set INTERCOM_STREAM_CREATE_TOPICS=true"
            )
        if missing:
            # New co-partitioned topics follow the input topic when it already exists.
            partitions = counts.get(settings.raw_events_topic, settings.partitions)
            await admin.create_topics(
                [NewTopic(name, partitions, settings.replication_factor) for name in missing]
            )
            log.info("created topics %s with %d partitions", ", ".join(missing), partitions)
            counts = await _partition_counts(admin, wanted)
        sizes = {name: counts[name] for name in copartitioned_topics(settings)}
        if len(set(sizes.values())) > 1:
            raise ConfigurationError(
                "co-partitioning required: these topics must have the same partition count, but have "
                + ", ".join(f"{name}={count}" for name, count in sizes.items())
            )
        return counts
    finally:
        await admin.close()


async def _partition_counts(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, int]:
    described = await admin.describe_topics(names)
    counts: dict[str, int] = {}
    for topic in described:
        if topic.get("error_code", 0) == 0 and topic.get("partitions"):
            counts[topic["topic"]] = len(topic["partitions"])
    return counts
