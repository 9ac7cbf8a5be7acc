"""Fixtures that start real servers on 127.0.0.1: Apache Kafka and workers. The Intercom emulator
comes from our pytest plugin (streams.emulator.pytest_plugin): one process for the run, a workspace
and token of its own for every test, so a worker an earlier test left behind can reach no later
test's state or request log (its token answers 401 once its test is over)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from streams.emulator.testing import EmulatorHandle
from streams.emulator_admin import EmulatorAdmin
from streams.kafka_io import publish_lines, read_all, wait_for_topics
from streams.localkafka import bootstrap_for_tests
from streams.processes import Child, settings_from_env, start_worker, worker_env
from streams.sandbox import decode_dead_letters, wait_until_drained
from streams.settings import Settings


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    with bootstrap_for_tests() as bootstrap:
        yield bootstrap


# The token of one workspace shared by the tests that drive the emulator by URL (benchmarks, the
# secured-broker tests); every other test has a workspace of its own (the `emulator` fixture).
TOKEN = "tok_integration_secret_4f9a2c"


@pytest.fixture(scope="session")
def emulator_url(intercom_emulator_server: EmulatorAdmin) -> str:
    intercom_emulator_server.create_workspace(TOKEN)
    return intercom_emulator_server.base_url


@pytest.fixture
def emulator(intercom_emulator: EmulatorHandle) -> EmulatorAdmin:
    """The admin client of this test's own workspace (``.token`` is the token to give a worker)."""
    return intercom_emulator.admin


@dataclass
class RunningPipeline:
    """One worker (restartable) on topics of its own, so tests never see each other's records."""

    bootstrap: str
    emulator: EmulatorAdmin
    workdir: Path
    env: dict[str, str]
    workers: list[Child] = field(default_factory=list)

    @property
    def token(self) -> str:
        return self.emulator.token

    @property
    def settings(self) -> Settings:
        return settings_from_env(self.env)

    def start(self) -> Child:
        child = start_worker(self.workdir / f"worker-{len(self.workers)}.log", self.env)
        self.workers.append(child)
        asyncio.run(wait_for_topics(self.bootstrap, [self.settings.raw_events_topic]))
        return child

    def stop(self) -> None:
        for child in self.workers:
            child.stop()

    def publish(self, events: list[Any], keyed: bool = True) -> None:
        lines = [e if isinstance(e, str) else json.dumps(e) for e in events]
        if keyed:
            asyncio.run(publish_lines(self.bootstrap, self.settings.raw_events_topic, lines))
        else:
            asyncio.run(_publish_unkeyed(self.bootstrap, self.settings.raw_events_topic, lines))

    def wait_drained(self, total: int) -> None:
        asyncio.run(wait_until_drained(self.settings, total))

    def dead_letters(self) -> list[dict[str, Any]]:
        return decode_dead_letters(asyncio.run(read_all(self.bootstrap, self.settings.dead_letter_topic)))

    def logs(self) -> str:
        return "".join(child.log_text() for child in self.workers)


async def _publish_unkeyed(bootstrap: str, topic: str, lines: list[str]) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for line in lines:
            # A producer that keys by something other than the user (say, its tenant).
            await producer.send_and_wait(topic, line.encode(), key=b"tenant-42")
    finally:
        await producer.stop()


@pytest.fixture
def pipeline(kafka_bootstrap: str, emulator: EmulatorAdmin, tmp_path: Path) -> Iterator[RunningPipeline]:
    suffix = uuid.uuid4().hex[:8]
    env = worker_env(
        kafka_bootstrap, emulator.base_url, emulator.token, tmp_path / "data",
        app_id=f"it-{suffix}", raw_events_topic=f"raw-{suffix}", delivery_topic=f"delivery-{suffix}",
        rekey_topic=f"rekey-{suffix}", dead_letter_topic=f"dlq-{suffix}", partitions="3",
    )  # fmt: skip
    running = RunningPipeline(kafka_bootstrap, emulator, tmp_path, env)
    yield running
    running.stop()
