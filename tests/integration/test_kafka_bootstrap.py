"""Kafka clients started while the broker is down wait for it: the wait step the worker runs first
(streams.kafka_bootstrap), and Faust's producer on our transport (streams/pipeline/transport.py)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError

from streams.kafka_bootstrap import wait_for_broker
from streams.localkafka import LocalKafka
from streams.pipeline.faust_app import PipelineApp, broker_urls

pytestmark = pytest.mark.integration


async def _start_admin(bootstrap: str, wait_s: float) -> None:
    await wait_for_broker(bootstrap, wait_s)  # as the worker does before its admin client starts
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
            asyncio.run(_start_admin(bootstrap, 30.0))  # started while the port refused connections
        finally:
            restart.join()


def test_without_a_timeout_the_first_failure_is_final() -> None:
    with LocalKafka() as kafka:
        bootstrap, restart = _while_down(kafka, downtime_s=3.0)
        try:
            with pytest.raises(KafkaConnectionError):
                asyncio.run(_start_admin(bootstrap, 0.0))
        finally:
            restart.join()


async def _start_faust_producer(bootstrap: str, tmp_path: Path) -> None:
    app = PipelineApp(
        "bootstrap-test", kafka_connect_timeout_s=30.0, broker=broker_urls(bootstrap), datadir=str(tmp_path)
    )
    producer = app.producer
    # Our transport's producer: waits for the broker, then aiokafka's producer starts (it bootstraps;
    # without the wait it raises KafkaConnectionError at once, as the test above shows for a client).
    await producer.start()
    await producer.stop()


def test_faust_producer_on_our_transport_waits_for_the_broker(tmp_path: Path) -> None:
    with LocalKafka() as kafka:
        bootstrap, restart = _while_down(kafka, downtime_s=4.0)
        try:
            asyncio.run(_start_faust_producer(bootstrap, tmp_path))
        finally:
            restart.join()
