"""Waiting for Kafka at start-up, before any Kafka client of the worker starts.

aiokafka tries each bootstrap broker once and raises ``Unable to bootstrap``. A worker started while
the broker restarts (a rolling upgrade, a node drained next to it) then exited, even though the
start-up checks had just reached the broker. ``wait_for_broker`` bootstraps a throwaway client until
one bootstrap succeeds or ``timeout_s`` (``INTERCOM_STREAM_KAFKA_CONNECT_TIMEOUT_S``) has passed, then
fails as aiokafka does. The worker runs it before its admin client starts, and our Faust transport
(streams/pipeline/transport.py) before Faust's consumer and producer start.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaConnectionError

log = logging.getLogger(__name__)


async def wait_for_broker(bootstrap_servers: str | list[str], timeout_s: float, **security: Any) -> None:
    """Return once a bootstrap broker answers; raise KafkaConnectionError after ``timeout_s``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    waited = False
    while True:
        client = AIOKafkaClient(bootstrap_servers=bootstrap_servers, **security)
        try:
            await client.bootstrap()
        except KafkaConnectionError as exc:
            if loop.time() >= deadline:
                raise
            if not waited:
                log.warning("Kafka not reachable (%s); retrying for up to %.0fs", exc, timeout_s)
                waited = True
            await asyncio.sleep(min(1.0, max(0.0, deadline - loop.time())))
        else:
            if waited:
                log.warning("Kafka reachable again")
            return
        finally:
            await client.close()
