"""One worker on the real broker against the emulator with the API out of the way (no rate limit,
zero latency): events/s end to end, then the latency from publish to the Intercom call at low load.

The emulator logs each call with the wall-clock time it was received (``time``); the benchmark
runs on the same machine, so publish times and call times share one clock.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from tests.benchmarks import report
from tests.benchmarks.kafka_bench import (
    CallLog,
    cpu_seconds,
    drain,
    event_records,
    publish_fast,
    unlimited_worker,
)
from tests.benchmarks.workloads import mixed
from tests.integration.conftest import TOKEN, RunningPipeline

pytestmark = pytest.mark.bench

RUNS = 3
USERS_PER_RUN = 200  # 14 events each: 2,800 events a run
PROBES = 200
PROBE_INTERVAL_S = 0.05
PROBE_USER = "warm-00000"


@pytest.fixture(scope="module")
def fast_worker(
    kafka_bootstrap: str, emulator_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningPipeline, CallLog]]:
    # Warm up: group joined, partitions assigned, connections open, companies and users known.
    warm = mixed(20, prefix="warm")
    with unlimited_worker(kafka_bootstrap, emulator_url, tmp_path_factory.mktemp("speed"), warm) as worker:
        yield worker


def emulator_ceiling(base_url: str, calls: int = 300) -> float:
    """Calls/s the emulator serves to one client making one call at a time, as the sink does: the
    most any end-to-end figure against it can reach at one call per event."""
    headers = {"Authorization": f"Bearer {TOKEN}", "Intercom-Version": "2.10"}
    with httpx.Client(base_url=base_url, headers=headers) as client:
        started = time.monotonic()
        for n in range(calls):
            body = {"event_name": "Ceiling Probe", "created_at": 1_760_000_000, "user_id": PROBE_USER,
                    "metadata": {"n": n}}  # fmt: skip
            client.post("/events", json=body).raise_for_status()
        return calls / (time.monotonic() - started)


def test_end_to_end_events_per_second(fast_worker: tuple[RunningPipeline, CallLog]) -> None:
    running, calls = fast_worker
    ceiling = [emulator_ceiling(running.emulator.base_url) for _ in range(RUNS)]
    report.record(
        "emulator alone, serial calls",
        "calls/s",
        ceiling,
        note="POST /events one at a time from one client: the emulator's own ceiling on this machine",
    )
    runs, totals, busy = [], [], []
    pid = running.workers[-1].process.pid
    for run in range(RUNS):
        events = mixed(USERS_PER_RUN, prefix=f"run{run}")
        calls.mark()
        started, cpu_before = time.time(), cpu_seconds(pid)
        asyncio.run(publish_fast(running.bootstrap, running.settings.raw_events_topic, event_records(events)))
        drain(running, calls)
        assert calls.calls, "the worker made no call"
        finished = max(call["time"] for call in calls.calls)  # the last Intercom call of the run
        runs.append(len(events) / (finished - started))
        busy.append((cpu_seconds(pid) - cpu_before) / (time.time() - started))
        totals.append(len(calls.calls))
    calls_per_event = statistics.median(totals) / (USERS_PER_RUN * 14)
    figure = report.record(
        "end to end, one worker",
        "events/s",
        runs,
        goal_min=2_000,
        reference=statistics.median(ceiling) / calls_per_event,
        compare="of the emulator's ceiling",
        note=f"{USERS_PER_RUN * 14:,} events a run (identify/track/group mix, "
        f"{statistics.median(totals):.0f} calls), 3 partitions; publish start → last Intercom call; "
        f"emulator unlimited, zero latency; the worker used {statistics.median(busy):.0%} of a core",
    )
    print(f"\nend to end: {[round(r) for r in runs]} events/s, median {figure.value:,.0f}")


async def _publish_paced(bootstrap: str, topic: str, run: int) -> dict[str, float]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    published: dict[str, float] = {}
    try:
        next_at = time.monotonic()
        for i in range(PROBES):
            probe = f"{run}-{i}"
            event = {"type": "track", "userId": PROBE_USER, "event": "Latency Probe",
                     "timestamp": 1_760_000_100 + i, "properties": {"probe": probe}}  # fmt: skip
            ((key, value),) = event_records([event])
            published[probe] = time.time()
            await producer.send_and_wait(topic, value, key=key)
            next_at += PROBE_INTERVAL_S
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    finally:
        await producer.stop()
    return published


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def test_latency_publish_to_call(fast_worker: tuple[RunningPipeline, CallLog]) -> None:
    running, calls = fast_worker
    p50s, p99s = [], []
    for run in range(RUNS):
        calls.mark()
        published = asyncio.run(_publish_paced(running.bootstrap, running.settings.raw_events_topic, run))
        drain(running, calls)
        seen: dict[str, float] = {}
        for call in calls.calls:
            body: Any = call.get("request_body")
            if call["path"] == "/events" and isinstance(body, dict):
                probe = (body.get("metadata") or {}).get("probe")
                if probe in published:
                    seen.setdefault(probe, call["time"])
        assert len(seen) == PROBES, f"{PROBES - len(seen)} probes never reached the emulator"
        latencies = [(seen[p] - published[p]) * 1000 for p in published]
        p50s.append(percentile(latencies, 0.50))
        p99s.append(percentile(latencies, 0.99))
    note = f"{PROBES} track events a run, one every {PROBE_INTERVAL_S * 1000:.0f} ms, to a known user"
    report.record("latency publish→call p50", "ms", p50s, note=note)
    report.record("latency publish→call p99", "ms", p99s, goal_max=250)
    print(f"\nlatency: p50 {[round(p) for p in p50s]} ms, p99 {[round(p) for p in p99s]} ms")
