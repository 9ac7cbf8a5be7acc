"""The worker and the commands on a SASL_SSL Kafka (SCRAM-SHA-512, TLS with a test CA), and the
start-up checks: each misconfiguration stops the worker with a message naming what to fix."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.emulator_admin import EmulatorAdmin
from streams.kafka_io import wait_for_topics
from streams.kafka_security import aiokafka_security
from streams.localkafka import LocalKafka, SaslSslConfig, TestCertificates, make_test_certificates
from streams.processes import free_port, python_module, settings_from_env, start_worker, worker_env
from tests.integration.conftest import TOKEN

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

USER = "alice"
PASSWORD = "s3cret-Pa55word-7d1e"
WRONG_PASSWORD = "wrong-Pa55word-0b3c"


@dataclass
class SecureKafka:
    kafka: LocalKafka
    certs: TestCertificates

    def env(self, emulator_url: str, data_dir: Path, token: str = TOKEN, **extra: str) -> dict[str, str]:
        suffix = uuid.uuid4().hex[:8]
        settings: dict[str, str] = {
            "app_id": f"sec-{suffix}",
            "raw_events_topic": f"raw-{suffix}",
            "delivery_topic": f"delivery-{suffix}",
            "rekey_topic": f"rekey-{suffix}",
            "dead_letter_topic": f"dlq-{suffix}",
            "partitions": "2",
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_username": USER,
            "sasl_password": PASSWORD,
            "ssl_cafile": str(self.certs.ca_cert),
            "kafka_connect_timeout_s": "10",
        }
        settings.update(extra)
        return worker_env(self.kafka.sasl_ssl_bootstrap, emulator_url, token, data_dir, **settings)


@pytest.fixture(scope="module")
def secure_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureKafka]:
    certs = make_test_certificates(tmp_path_factory.mktemp("tls"))
    config = SaslSslConfig(certs.server_cert, certs.server_key, users={USER: PASSWORD})
    with LocalKafka(sasl_ssl=config) as kafka:
        yield SecureKafka(kafka, certs)


def run_cli(env: dict[str, str], *args: str, timeout: float = 60) -> tuple[int, str]:
    """Run ``intercom-stream ARGS`` to completion (a hang fails with TimeoutExpired); exit code, output."""
    result = subprocess.run(
        python_module("streams.cli", *args),
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    return result.returncode, result.stdout


def create_topics(env: dict[str, str], partitions: dict[str, int]) -> None:
    settings = settings_from_env(env)

    async def create() -> None:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=settings.bootstrap_servers, **aiokafka_security(settings)
        )
        await admin.start()
        try:
            await admin.create_topics([NewTopic(name, n, 1) for name, n in partitions.items()])
        finally:
            await admin.close()

    asyncio.run(create())


def wait_for_contact(
    emulator: EmulatorAdmin, external_id: str, logs: Callable[[], str], timeout_s: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for contact in emulator.state()["contacts"]:
            if contact.get("external_id") == external_id:
                return dict(contact)
        time.sleep(0.3)
    raise AssertionError(
        f"contact {external_id} did not reach the emulator within {timeout_s:.0f}s:\n{logs()[-4000:]}"
    )


def test_topics_create_publish_and_worker_end_to_end_over_sasl_ssl(
    secure_kafka: SecureKafka, emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    # The worker itself may not create topics here: `topics create` (the chart's Job) does.
    env = secure_kafka.env(emulator.base_url, tmp_path / "data", emulator.token, create_topics="false")
    settings = settings_from_env(env)
    code, output = run_cli(env, "topics", "create")
    assert code == 0, output
    assert f"{settings.raw_events_topic}: 2 partitions" in output

    worker = start_worker(tmp_path / "worker.log", env)
    try:
        asyncio.run(
            wait_for_topics(
                settings.bootstrap_servers, [settings.raw_events_topic], security=aiokafka_security(settings)
            )
        )
        events = tmp_path / "events.jsonl"
        identify = {
            "type": "identify",
            "messageId": "sec-1",
            "userId": "secure-user",
            "timestamp": "2026-11-20T10:00:00Z",
            "traits": {"email": "secure-user@example.com"},
        }
        events.write_text(json.dumps(identify) + "\n")
        code, output = run_cli(env, "publish", str(events), "--topic", settings.raw_events_topic)
        assert code == 0, output
        contact = wait_for_contact(emulator, "secure-user", worker.log_text)
        assert contact["email"] == "secure-user@example.com"
    finally:
        worker.stop()
    log = worker.log_text()
    assert "no committed offsets" in log and "starting from the earliest offsets" in log, log[-3000:]
    assert "INTERCOM_STREAM_CONSUMER_AUTO_OFFSET_RESET=earliest" in log
    assert "security_protocol=SASL_SSL" in log
    assert PASSWORD not in log and PASSWORD not in output


def test_wrong_password_names_the_password_setting(
    secure_kafka: SecureKafka, emulator_url: str, tmp_path: Path
) -> None:
    env = secure_kafka.env(emulator_url, tmp_path / "data", sasl_password=WRONG_PASSWORD)
    code, output = run_cli(env, "worker")
    assert code == 2, output
    assert "refused authentication" in output and "INTERCOM_STREAM_SASL_PASSWORD" in output, output
    assert WRONG_PASSWORD not in output and PASSWORD not in output


def test_unreachable_brokers_fail_within_the_bounded_time(
    secure_kafka: SecureKafka, emulator_url: str, tmp_path: Path
) -> None:
    env = secure_kafka.env(
        emulator_url,
        tmp_path / "data",
        bootstrap_servers=f"127.0.0.1:{free_port()}",
        kafka_connect_timeout_s="3",
    )
    code, output = run_cli(env, "worker")
    assert code == 2, output
    assert "cannot reach Kafka" in output and "INTERCOM_STREAM_BOOTSTRAP_SERVERS" in output, output
    assert PASSWORD not in output


def test_missing_topics_with_creation_disabled_name_the_topics_and_the_command(
    secure_kafka: SecureKafka, emulator_url: str, tmp_path: Path
) -> None:
    env = secure_kafka.env(emulator_url, tmp_path / "data", create_topics="false")
    settings = settings_from_env(env)
    code, output = run_cli(env, "worker")
    assert code == 2, output
    assert "topics missing" in output and "intercom-stream topics create" in output, output
    for topic in (settings.raw_events_topic, settings.delivery_topic, settings.dead_letter_topic):
        assert topic in output


def test_unequal_partition_counts_refuse_to_start(
    secure_kafka: SecureKafka, emulator_url: str, tmp_path: Path
) -> None:
    env = secure_kafka.env(emulator_url, tmp_path / "data")
    settings = settings_from_env(env)
    create_topics(env, {settings.raw_events_topic: 3, settings.delivery_topic: 2})
    code, output = run_cli(env, "worker")
    assert code == 2, output
    assert "co-partitioning required" in output and "refusing to start" in output, output
    assert f"{settings.raw_events_topic}=3" in output and f"{settings.delivery_topic}=2" in output


def test_dlq_commands_over_sasl_ssl(
    secure_kafka: SecureKafka, emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    """`dlq list/show/replay` read and write with the same TLS/SASL settings as the worker."""
    from aiokafka import AIOKafkaProducer

    from streams.deadletter import SourceRecord, dead_letter_for_input, dead_letter_headers
    from streams.errors import InvalidEventError
    from streams.kafka_io import read_all
    from streams.records import codec_for

    env = secure_kafka.env(emulator.base_url, tmp_path / "data", emulator.token)
    settings = settings_from_env(env)
    security = aiokafka_security(settings)
    create_topics(env, {settings.raw_events_topic: 2, settings.dead_letter_topic: 2})
    source = SourceRecord(
        settings.raw_events_topic, 1, 7, b"sec-u", b'{"type":"identify","userId":"sec-u"}', 0
    )
    letter = dead_letter_for_input(source, InvalidEventError("invalid_event", "made up"), "sec-u", "identify")

    async def write_dead_letter() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, **security)
        await producer.start()
        try:
            await producer.send_and_wait(
                settings.dead_letter_topic, codec_for("dead_letter").encode(letter), key=b"sec-u",
                partition=0, headers=dead_letter_headers(letter),
            )  # fmt: skip
        finally:
            await producer.stop()

    asyncio.run(write_dead_letter())
    code, output = run_cli(env, "dlq", "list", "--json")
    assert code == 0, output
    assert json.loads(output)["by_reason"] == {"invalid_event": 1}
    code, output = run_cli(env, "dlq", "show", "0:0", "--json")
    assert code == 0, output
    assert ["__connect.errors.offset", "7"] in json.loads(output)["headers"]
    code, output = run_cli(env, "dlq", "replay", "--reason", "invalid_event", "--yes")
    assert code == 0, output
    assert "replayed 1 records" in output
    (replayed,) = asyncio.run(
        read_all(settings.bootstrap_servers, settings.raw_events_topic, security=security)
    )
    assert replayed.key == b"sec-u" and replayed.value == source.value
    assert dict(replayed.headers)["intercom-stream-replay-of"] == f"{settings.dead_letter_topic}/0/0".encode()
    assert PASSWORD not in output
