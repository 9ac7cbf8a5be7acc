"""What one ``kill -9`` costs: duplicate Intercom calls replayed after a worker is killed mid-backlog.

One worker, a backlog of track events for known users, the emulator unlimited; the worker is killed
(SIGKILL: no final commit) halfway through and a new one takes over. Duplicates are event posts
Intercom saw more than once (it drops them: same user, name and created_at).
"""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from pathlib import Path

import pytest

from streams.emulator_admin import EmulatorAdmin
from tests.benchmarks import report
from tests.benchmarks.kafka_bench import CallLog, bench_pipeline, event_records, publish_fast, wait_for
from tests.integration.conftest import TOKEN

pytestmark = pytest.mark.bench

USERS = 50
TRACKS = 1000
RUNS = 3


def _one_run(kafka_bootstrap: str, admin: EmulatorAdmin, workdir: Path) -> tuple[int, int]:
    workdir.mkdir(parents=True, exist_ok=True)
    admin.reset()
    admin.configure(rate_limit=0, search_lag_s=0, fault_rate=0)
    running = bench_pipeline(kafka_bootstrap, admin, workdir, partitions=3, rate_limit="100000/10s")
    users = [f"kill-{n}" for n in range(USERS)]
    events = [{"type": "identify", "userId": u, "timestamp": 1_760_000_000} for u in users]
    events += [
        {"type": "track", "userId": users[n % USERS], "event": "Step", "timestamp": 1_760_000_001 + n}
        for n in range(TRACKS)
    ]
    calls = CallLog(admin)
    try:
        first = running.start()
        asyncio.run(publish_fast(kafka_bootstrap, running.settings.raw_events_topic, event_records(events)))
        wait_for(
            "half the backlog",
            lambda: calls.poll() is not None and len(calls.calls) >= (USERS * 2 + TRACKS) // 2,
            120,
            0.02,
        )
        first.stop(sig=signal.SIGKILL)
        running.start()
        running.wait_drained(len(events))
        calls.poll()
    finally:
        running.stop()
    posts = Counter(
        (c["request_body"]["user_id"], c["request_body"]["created_at"])
        for c in calls.calls
        if c["path"] == "/events" and c["status"] == 202
    )
    return sum(n - 1 for n in posts.values()), len(calls.calls)


def test_duplicate_calls_after_one_kill(kafka_bootstrap: str, emulator_url: str, tmp_path: Path) -> None:
    admin = EmulatorAdmin(emulator_url, TOKEN)
    runs = [_one_run(kafka_bootstrap, admin, tmp_path / f"run-{n}") for n in range(RUNS)]
    duplicates = [d for d, _ in runs]
    report.record(
        "duplicate calls after kill -9",
        "calls",
        duplicates,
        note=f"{USERS + TRACKS} events, one worker killed (SIGKILL) halfway, a new one takes over; "
        f"event posts Intercom saw twice; total calls per run {[t for _, t in runs]}; commit interval 0.5 s",
    )
    assert all(d < TRACKS for d in duplicates)  # a replay of the uncommitted tail, never the stream
