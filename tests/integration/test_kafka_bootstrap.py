"""A Kafka client started while the broker is down waits for it (streams.kafka_bootstrap)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError

from streams import kafka_bootstrap
from streams.localkafka import LocalKafka

pytestmark = pytest.mark.integration


async def _start_admin(bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await admin.start()
        assert await admin.list_topics() is not None
    finally:
        await admin.close()


def _while_down(kafka: LocalKafka, downtime_s: float) -> tuple[str, threading.Thread]:
    bootstrap = kafka.bootstrap  # read while it runs (the same address after the restart)
    restart = threading.Thread(target=kafka.restart, kwargs={"downtime_s": downtime_s})
    restart.start()
    deadline = time.monotonic() + 30
    host, port = bootstrap.rsplit(":", 1)
    while time.monotonic() < deadline:  # until the broker really refuses connections
        try:
            socket.create_connection((host, int(port)), timeout=0.5).close()
        except OSError:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the broker never went down: the test would prove nothing")
    return bootstrap, restart


def test_a_client_started_while_the_broker_is_down_waits_for_it() -> None:
    with LocalKafka() as kafka:
        bootstrap, restart = _while_down(kafka, downtime_s=4.0)
        try:
            kafka_bootstrap.install(30.0)
            asyncio.run(_start_admin(bootstrap))  # started while the port refused connections
        finally:
            kafka_bootstrap.install(0.0)  # back to aiokafka's single try for the other tests
            restart.join()


def test_without_a_timeout_the_first_failure_is_final() -> None:
    with LocalKafka() as kafka:
        bootstrap, restart = _while_down(kafka, downtime_s=3.0)
        try:
            kafka_bootstrap.install(0.0)
            with pytest.raises(KafkaConnectionError):
                asyncio.run(_start_admin(bootstrap))
        finally:
            restart.join()
