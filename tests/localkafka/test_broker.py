"""A real Kafka 4.x broker: start, topic with 3 partitions, produce/consume, stop cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.errors import BrokerError
from streams.localkafka import (
    LocalKafka,
    bootstrap_for_tests,
    ensure_kafka_jars,
    external_bootstrap,
    fetch,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

REPO = Path(__file__).resolve().parents[2]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def jars() -> Path:
    # Fetch (or reuse) before anything is timed; the first run on a machine downloads ~54 MB.
    return ensure_kafka_jars()


def test_cached_fetch_does_not_run_maven(jars: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_maven(argv: Sequence[str], **kwargs: Any) -> None:
        raise AssertionError(f"Maven ran although the cache is complete: {argv}")

    monkeypatch.setattr(fetch, "_run", no_maven)
    assert ensure_kafka_jars() == jars
    assert any(p.name.startswith("kafka_2.13-") for p in jars.glob("*.jar"))


async def test_lifecycle_topic_roundtrip_and_clean_stop(jars: Path) -> None:
    kafka = LocalKafka()
    kafka.start()
    pid, data_dir = kafka.pid, kafka.data_dir
    assert pid is not None and data_dir is not None
    try:
        assert kafka.bootstrap == f"127.0.0.1:{kafka.port}"
        assert kafka.is_running() and data_dir.is_dir()

        topic = f"localkafka-{uuid.uuid4().hex[:8]}"
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
            described = await admin.describe_topics([topic])
            assert len(described[0]["partitions"]) == 3
        finally:
            await admin.close()

        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap)
        await producer.start()
        try:
            meta = await producer.send_and_wait(topic, b"hello", key=b"k1", partition=2)
        finally:
            await producer.stop()
        assert meta.partition == 2

        consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap, auto_offset_reset="earliest")
        await consumer.start()
        try:
            tp = TopicPartition(topic, 2)
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            record = await consumer.getone()
        finally:
            await consumer.stop()
        assert (record.key, record.value, record.offset) == (b"k1", b"hello", 0)
    finally:
        kafka.stop()

    assert not kafka.is_running()
    assert not _pid_alive(pid)
    assert not data_dir.exists()
    with pytest.raises(BrokerError):
        _ = kafka.bootstrap
    kafka.stop()  # idempotent


def test_bad_configuration_is_a_clear_error(jars: Path) -> None:
    kafka = LocalKafka(extra_properties={"num.io.threads": "not-a-number"})
    with pytest.raises(BrokerError, match=r"num\.io\.threads"):
        kafka.start()
    assert not kafka.is_running()
    assert kafka.data_dir is None


def test_port_in_use_reports_the_broker_log(jars: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        kafka = LocalKafka(port=taken.getsockname()[1])
        with pytest.raises(BrokerError, match="Address already in use") as err:
            kafka.start()
    assert "last lines of the broker's" in str(err.value)
    assert not kafka.is_running() and kafka.data_dir is None


def test_run_broker_cli_until_sigterm(jars: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", "from streams.localkafka import run_broker; run_broker()"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("Kafka broker ready at 127.0.0.1:"), line
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert out == "", "the broker's log must not reach our stdout"


def test_external_bootstrap_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INTERCOM_STREAM_TEST_BOOTSTRAP", raising=False)
    assert external_bootstrap() is None
    monkeypatch.setenv("INTERCOM_STREAM_TEST_BOOTSTRAP", " kafka.example:9092 ")
    assert external_bootstrap() == "kafka.example:9092"


def test_bootstrap_for_tests_prefers_the_users_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERCOM_STREAM_TEST_BOOTSTRAP", "kafka.example:9092")
    with bootstrap_for_tests() as bootstrap:
        assert bootstrap == "kafka.example:9092"


async def _roundtrip_offsets(
    bootstrap: str, topic: str, group: str, expected: int
) -> tuple[list[bytes], int | None]:
    """The values of ``topic``'s partition 0 (read until ``expected`` or for a bounded time) and the
    group's committed offset of it."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        values: list[bytes] = []
        for _ in range(10):  # a partition whose leader is still starting answers with nothing
            records = await consumer.getmany(tp, timeout_ms=2000)
            values += [r.value for r in records.get(tp, []) if r.value is not None]
            if len(values) >= expected:
                break
        # Just after a restart the broker may still be loading __consumer_offsets (the group
        # coordinator is "not available" and the answer is empty): ask again, for a bounded time.
        committed = await consumer.committed(tp)
        for _ in range(40):
            if committed is not None:
                break
            await asyncio.sleep(0.5)
            committed = await consumer.committed(tp)
        return values, committed
    finally:
        await consumer.stop()


async def test_restart_keeps_ports_topics_records_and_offsets(jars: Path) -> None:
    kafka = LocalKafka(auto_create_topics=True)
    kafka.start()
    try:
        port, data_dir, first_pid = kafka.port, kafka.data_dir, kafka.pid
        topic, group = f"restart-{uuid.uuid4().hex[:8]}", "restart-group"
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
        await producer.start()
        try:
            for n in range(3):
                await producer.send_and_wait(topic, f"r{n}".encode(), partition=0)
        finally:
            await producer.stop()
        # No auto-commit: on stop it would commit the position it reset to (the end, 3) over ours.
        consumer = AIOKafkaConsumer(
            bootstrap_servers=kafka.bootstrap, group_id=group, enable_auto_commit=False
        )
        await consumer.start()
        try:
            tp = TopicPartition(topic, 0)
            consumer.assign([tp])
            await consumer.commit({tp: 2})
        finally:
            await consumer.stop()

        kafka.restart(downtime_s=0.5)

        assert kafka.is_running() and kafka.pid != first_pid and first_pid is not None
        assert not _pid_alive(first_pid)
        assert (kafka.port, kafka.data_dir) == (port, data_dir)
        values, committed = await _roundtrip_offsets(kafka.bootstrap, topic, group, expected=3)
        assert values == [b"r0", b"r1", b"r2"]
        assert committed == 2
    finally:
        kafka.stop()
    assert not kafka.is_running() and data_dir is not None and not data_dir.exists()
    with pytest.raises(BrokerError):
        kafka.restart()
