"""Budget utilisation during a backlog: the emulator allows L calls per 10-second window (aligned
like Intercom's), the worker is configured to the same L (one partition, so one limiter), and a
backlog of track events waits. Per full window: successful calls / L, and the 429s over the run.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from pathlib import Path

import pytest

from streams.emulator_admin import EmulatorAdmin
from tests.benchmarks import report
from tests.benchmarks.kafka_bench import CallLog, bench_pipeline, event_records, publish_fast, wait_for
from tests.integration.conftest import TOKEN

pytestmark = pytest.mark.bench

LIMIT = 60
WINDOW_S = 10.0
WINDOWS = 3


def test_budget_use_during_backlog(kafka_bootstrap: str, emulator_url: str, tmp_path: Path) -> None:
    admin = EmulatorAdmin(emulator_url, TOKEN)
    admin.reset()
    admin.configure(rate_limit=LIMIT, rate_window_s=WINDOW_S, search_lag_s=0, fault_rate=0)
    running = bench_pipeline(
        kafka_bootstrap, admin, tmp_path, partitions=1, rate_limit=f"{LIMIT}/{WINDOW_S:g}s"
    )
    calls = CallLog(admin)
    users = [f"budget-{n}" for n in range(5)]
    backlog = [{"type": "identify", "userId": u, "timestamp": 1_760_000_000} for u in users]
    backlog += [
        {
            "type": "track",
            "userId": users[n % len(users)],
            "event": f"Backlog {n % 3}",
            "timestamp": 1_760_000_001 + n,
            "properties": {"n": n},
        }
        for n in range(LIMIT * (WINDOWS + 2))
    ]  # fmt: skip  (more than the windows observed can take: the backlog never runs dry)
    try:
        child = running.start()
        asyncio.run(publish_fast(kafka_bootstrap, running.settings.raw_events_topic, event_records(backlog)))
        wait_for("first call", lambda: bool(calls.poll()), 90, 0.2)
        first_window = math.floor(calls.calls[0]["time"] / WINDOW_S) * WINDOW_S
        # Observe the partial first window and WINDOWS full ones after it.
        end = first_window + WINDOW_S * (WINDOWS + 1)
        while time.time() < end + 0.5:
            assert child.process.poll() is None, child.log_text()[-2000:]
            calls.poll()
            time.sleep(0.5)
        calls.poll()
    finally:
        running.stop()
        admin.configure(rate_limit=83, rate_window_s=10)
    ok: Counter[float] = Counter()
    limited = wasted = 0
    for call in calls.calls:
        window = math.floor(call["time"] / WINDOW_S) * WINDOW_S
        if window >= end:
            continue
        if call["status"] == 429:
            limited += 1
        if call["status"] >= 400:
            wasted += 1  # no fault is injected: any error answer is budget spent for nothing
        else:
            ok[window] += 1
    full = [first_window + WINDOW_S * (k + 1) for k in range(WINDOWS)]
    runs = [ok[w] / LIMIT for w in full]
    note = (
        f"L = {LIMIT}/10 s in the emulator and the worker (1 partition), {len(backlog)} events queued; "
        f"successful calls per full window {[ok[w] for w in full]}, {wasted} calls answered with an error "
        "(calls wasted); up to SINK_IN_FLIGHT calls in flight per partition"
    )
    report.record("budget use per window", "of L", runs, goal_min=0.95, note=note)
    report.record("429s during backlog", "429s", [limited], goal_max=0)
    print(f"\nbudget: {[ok[w] for w in full]} calls per window of {LIMIT}, {limited} 429s")
