"""Fixtures that start real servers on 127.0.0.1: Apache Kafka, the Intercom emulator, and workers."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from streams.emulator_admin import EmulatorAdmin
from streams.kafka_io import publish_lines, read_all, wait_for_topics
from streams.localkafka import bootstrap_for_tests
from streams.processes import Child, settings_from_env, start_emulator, start_worker, worker_env
from streams.sandbox import decode_dead_letters, wait_until_drained
from streams.settings import Settings

TOKEN = "tok_integration_secret_4f9a2c"


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    with bootstrap_for_tests() as bootstrap:
        yield bootstrap


@pytest.fixture(scope="session")
def emulator_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    child, url = start_emulator(tmp_path_factory.mktemp("emulator") / "emulator.log", token=TOKEN)
    yield url
    child.stop()


@pytest.fixture
def emulator(emulator_url: str) -> EmulatorAdmin:
    admin = EmulatorAdmin(emulator_url, TOKEN)
    admin.reset()
    return admin


@dataclass
class RunningPipeline:
    """One worker (restartable) on topics of its own, so tests never see each other's records."""

    bootstrap: str
    emulator: EmulatorAdmin
    workdir: Path
    env: dict[str, str]
    workers: list[Child] = field(default_factory=list)

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
        kafka_bootstrap, emulator.base_url, TOKEN, tmp_path / "data",
        app_id=f"it-{suffix}", raw_events_topic=f"raw-{suffix}", delivery_topic=f"delivery-{suffix}",
        rekey_topic=f"rekey-{suffix}", dead_letter_topic=f"dlq-{suffix}", partitions="3",
    )  # fmt: skip
    running = RunningPipeline(kafka_bootstrap, emulator, tmp_path, env)
    yield running
    running.stop()
