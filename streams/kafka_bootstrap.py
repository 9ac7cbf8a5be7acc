"""Waiting for Kafka at start-up: every Kafka client of the worker retries its bootstrap.

aiokafka tries each bootstrap broker once and raises ``Unable to bootstrap``. A worker started while
the broker restarts (a rolling upgrade, a node drained next to it) then exited, even though the
start-up checks had just reached the broker. With ``install(timeout_s)`` every client's bootstrap (the
admin client's, Faust's consumer and producer) retries for up to ``timeout_s``
(``INTERCOM_STREAM_KAFKA_CONNECT_TIMEOUT_S``) before failing as before.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaConnectionError

log = logging.getLogger(__name__)

_original_bootstrap = AIOKafkaClient.bootstrap
_timeout_s = 0.0


async def _bootstrap_until_deadline(self: Any) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _timeout_s
    waited = False
    while True:
        try:
            await _original_bootstrap(self)
        except KafkaConnectionError as exc:
            if loop.time() >= deadline:
                raise
            if not waited:
                log.warning("Kafka not reachable (%s); retrying for up to %.0fs", exc, _timeout_s)
                waited = True
            await asyncio.sleep(min(1.0, max(0.0, deadline - loop.time())))
        else:
            if waited:
                log.warning("Kafka reachable again")
            return


def install(timeout_s: float) -> None:
    """Idempotent; a later call changes the timeout."""
    global _timeout_s
    _timeout_s = timeout_s
    AIOKafkaClient.bootstrap = _bootstrap_until_deadline
