"""Helpers for the benchmarks that run a worker: a pipelined publisher, waits on the emulator's log
and on the consumer group, and a worker on topics of its own with the settings a benchmark needs."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.emulator_admin import EmulatorAdmin
from streams.kafka_io import group_lag, key_for_line, wait_for_topics
from streams.processes import worker_env
from tests.integration.conftest import TOKEN, RunningPipeline


def bench_pipeline(
    bootstrap: str, emulator: EmulatorAdmin, workdir: Path, partitions: int, **extra: str
) -> RunningPipeline:
    """Like the integration ``pipeline`` fixture, with benchmark settings (not started yet)."""
    suffix = uuid.uuid4().hex[:8]
    env = worker_env(
        bootstrap, emulator.base_url, emulator.token, workdir / "data",
        app_id=f"bench-{suffix}", raw_events_topic=f"raw-{suffix}", delivery_topic=f"delivery-{suffix}",
        rekey_topic=f"rekey-{suffix}", dead_letter_topic=f"dlq-{suffix}", partitions=str(partitions),
        log_format="json", **extra,
    )  # fmt: skip
    running = RunningPipeline(bootstrap, emulator, workdir, env)
    asyncio.run(create_topics(running, partitions))
    return running


async def create_topics(running: RunningPipeline, partitions: int) -> None:
    """Create the worker's topics first, as the Helm chart's topics job does: a worker that creates
    them itself can read their partition counts before the broker describes them (seen as a
    KeyError in ensure_topics at start-up on this loaded machine)."""
    s = running.settings
    names = [s.raw_events_topic, s.rekey_topic, s.delivery_topic, s.dead_letter_topic]
    await create_plain_topics(running.bootstrap, names, partitions)


async def create_plain_topics(bootstrap: str, names: Sequence[str], partitions: int) -> None:
    """Create ``names`` and wait until the broker describes them (topics of a benchmark's own)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1) for name in names])
    finally:
        await admin.close()
    await wait_for_topics(bootstrap, names)


async def publish_fast(bootstrap: str, topic: str, records: Iterable[tuple[bytes | None, bytes]]) -> float:
    """Publish without waiting for each ack in turn (batched, acks=all); returns seconds taken."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=262144)
    await producer.start()
    started = time.monotonic()
    try:
        pending = []
        for key, value in records:
            pending.append(await producer.send(topic, value, key=key))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return time.monotonic() - started


def event_records(events: Sequence[dict[str, Any]]) -> list[tuple[bytes | None, bytes]]:
    lines = [json.dumps(e) for e in events]
    return [(key_for_line(line), line.encode()) for line in lines]


def wait_for(
    what: str, ready: Callable[[], bool], timeout_s: float = 120.0, interval_s: float = 0.1
) -> float:
    """Poll until ``ready()``; returns the wall-clock time (time.time()) it first held."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ready():
            return time.time()
        time.sleep(interval_s)
    raise TimeoutError(f"{what}: not within {timeout_s:.0f}s")


def lag(pipeline: RunningPipeline) -> int | None:
    s = pipeline.settings
    topics = [s.raw_events_topic, s.rekey_topic, s.delivery_topic]
    return asyncio.run(group_lag(s.bootstrap_servers, s.app_id, topics))


@contextmanager
def unlimited_worker(
    bootstrap: str, emulator_url: str, workdir: Path, warm: Sequence[dict[str, Any]], **extra: str
) -> Iterator[tuple[RunningPipeline, CallLog]]:
    """One worker on 3 partitions against the emulator with the API out of the way (no rate limit,
    zero latency), warmed up with ``warm`` (group joined, connections open, those users known)."""
    admin = EmulatorAdmin(emulator_url, TOKEN)
    admin.reset()
    admin.configure(rate_limit=0, search_lag_s=0, fault_rate=0)
    admin.create_attribute("plan", "string", "contact")
    admin.create_attribute("tier", "string", "company")
    running = bench_pipeline(bootstrap, admin, workdir, partitions=3, rate_limit="1000000/10s", **extra)
    calls = CallLog(admin)
    try:
        running.start()
        asyncio.run(publish_fast(bootstrap, running.settings.raw_events_topic, event_records(warm)))
        drain(running, calls)
        yield running, calls
    finally:
        running.stop()
        admin.configure(rate_limit=83, rate_window_s=10)


def drain(running: RunningPipeline, calls: CallLog, timeout_s: float = 120.0) -> None:
    """Until the group has committed everything and the emulator sees no new call for 0.5 s."""
    quiet = {"since": time.monotonic()}

    def done() -> bool:
        if calls.poll():
            quiet["since"] = time.monotonic()
        return lag(running) == 0 and time.monotonic() - quiet["since"] >= 0.5

    wait_for("drain", done, timeout_s, interval_s=0.2)


class CallLog:
    """The emulator's request log read incrementally (it keeps the last 10,000 calls)."""

    def __init__(self, emulator: EmulatorAdmin) -> None:
        self.emulator = emulator
        self.calls: list[dict[str, Any]] = []
        self.cursor = 0

    def poll(self) -> list[dict[str, Any]]:
        new = self.emulator.requests(self.cursor)
        if new:
            self.cursor = new[-1]["seq"]
            self.calls += new
        return new

    def mark(self) -> None:
        self.poll()
        self.calls = []


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def log_times(log_text: str, message: str) -> list[float]:
    """Timestamps (epoch seconds) of the worker's JSON log lines whose message contains ``message``."""
    times = []
    for line in log_text.splitlines():
        if message not in line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if message in str(record.get("message", "")) and record.get("timestamp"):
            times.append(datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00")).timestamp())
    return times
