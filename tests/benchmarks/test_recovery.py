"""Table recovery: how fast a restarted worker rebuilds its known-contacts table from the changelog.

The changelog (``<app_id>-known-contacts-changelog``, JSON keys and values) is filled directly with
realistic entries (those of test_state), then the worker is restarted; Faust logs when it starts
restoring and when it is done reading the changelogs. Memory store (the default): every restart
reads the whole changelog.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.emulator_admin import EmulatorAdmin
from streams.kafka_io import end_offsets, wait_for_topics
from tests.benchmarks import report
from tests.benchmarks.kafka_bench import bench_pipeline, cpu_seconds, log_times, publish_fast
from tests.benchmarks.test_state import entries, sample_entry
from tests.integration.conftest import TOKEN, RunningPipeline

pytestmark = pytest.mark.bench

RECORDS = 100_000
RUNS = 3
RESTORING = "Restoring state from changelog topics"
DONE = "Done reading from changelog topics"
READY = "Worker ready"


@pytest.fixture
def stopped_worker(kafka_bootstrap: str, emulator_url: str, tmp_path: Path) -> Iterator[RunningPipeline]:
    running = bench_pipeline(kafka_bootstrap, EmulatorAdmin(emulator_url, TOKEN), tmp_path, partitions=3)
    try:
        first = running.start()  # creates the topics and the changelogs
        first.wait_for(lambda: READY in first.log_text(), 90, "worker ready")
        first.stop()
        yield running
    finally:
        running.stop()


def test_known_contacts_recovery_speed(stopped_worker: RunningPipeline) -> None:
    running = stopped_worker
    changelog = f"{running.settings.app_id}-known-contacts-changelog"
    asyncio.run(wait_for_topics(running.bootstrap, [changelog]))
    key, entry = asyncio.run(sample_entry())
    records = entries(key, entry, RECORDS)
    asyncio.run(publish_fast(running.bootstrap, changelog, records))
    ends = asyncio.run(end_offsets(running.bootstrap, [changelog]))
    assert sum(ends.values()) == RECORDS, ends
    assert json.loads(records[0][1]).keys() == entry.keys()  # same shape, values of its own

    runs, restarts, busy = [], [], []
    for _ in range(RUNS):
        child = running.start()
        started_at = time.monotonic()
        child.wait_for(lambda c=child: READY in c.log_text(), 120, "recovery")  # type: ignore[misc]
        busy.append(cpu_seconds(child.process.pid) / (time.monotonic() - started_at))
        text = child.log_text()
        started, done, ready = log_times(text, RESTORING), log_times(text, DONE), log_times(text, READY)
        assert started and done, "Faust logged no recovery:\n" + text[-2000:]
        runs.append(RECORDS / (done[-1] - started[0]))
        restarts.append(ready[-1] - started[0])
        child.stop()
    figure = report.record(
        "table recovery",
        "records/s",
        runs,
        goal_min=100_000,
        note=f"{RECORDS:,} known-contacts changelog records, 3 partitions, memory store; restoring → done "
        f"reading (Faust's log); restart to 'Worker ready' {statistics.median(restarts):.1f}s, the worker "
        f"using {statistics.median(busy):.0%} of a core meanwhile",
    )
    print(f"\nrecovery: {[round(r) for r in runs]} records/s, median {figure.value:,.0f}")
