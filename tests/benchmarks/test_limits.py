"""Our worker beside the limits Kafka, Faust and httpx allow, measured in the same run (issue 23).

One worker, 3 partitions, the emulator without rate limit, its users known beforehand; the worker's
CPU is read from /proc (all threads) from the publish of a run's events until all are committed.

- no call: 16,000 page views (PAGE_POLICY=ignore) + 4,000 identifies whose traits did not change,
  beside a bare aiokafka loop and a do-nothing Faust agent reading the same records (limits.py);
- one call: 3,000 tracks of known users (one POST /events each), beside a bare httpx client posting
  the bodies the worker posted to the same emulator, 8 in flight.

Each figure is the median of 3 runs, the limits run between the worker's runs; no timing is a
pass/fail (only correctness is asserted: every event committed, the right calls, no dead letter).
With BENCH_PROFILE=1 py-spy records the worker during each workload (profile_worker.py).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streams.kafka_io import group_lag
from tests.benchmarks import limits, report
from tests.benchmarks.kafka_bench import (
    CallLog,
    cpu_seconds,
    create_plain_topics,
    drain,
    event_records,
    publish_fast,
    unlimited_worker,
)
from tests.benchmarks.profile_worker import profiled
from tests.benchmarks.workloads import identify, page, track
from tests.integration.conftest import RunningPipeline

pytestmark = pytest.mark.bench

RUNS = 3
USERS = 1_000
PAGES_PER_USER = 16  # 16,000 pages a run
IDENTIFIES_PER_USER = 4  # 4,000 unchanged identifies a run
TRACKS_PER_USER = 3  # 3,000 tracks a run
KNOWN_AT = 1_760_000_000  # the identify that made each user known, before any run
GOALS = {"kafka": 0.25, "http": 0.7}  # issue 23


def user(i: int) -> str:
    return f"known-{i:05d}"


def no_call_events(run: int) -> list[dict[str, Any]]:
    """Each user's pages with an identify after every fourth, users interleaved as on a real topic."""
    steps = PAGES_PER_USER + IDENTIFIES_PER_USER
    at = KNOWN_AT + 1_000 * (run + 1)
    events = []
    for step in range(steps):
        for i in range(USERS):
            repeat = step % (steps // IDENTIFIES_PER_USER) == steps // IDENTIFIES_PER_USER - 1
            events.append(identify(user(i), i, at + step) if repeat else page(user(i), step, at + step))
    return events


def one_call_events(run: int) -> list[dict[str, Any]]:
    at = KNOWN_AT + 100_000 * (run + 1)  # new timestamps each run: new events, never a replay
    return [track(user(i), step, at + step) for step in range(TRACKS_PER_USER) for i in range(USERS)]


@pytest.fixture(scope="module")
def known_worker(
    kafka_bootstrap: str, emulator_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningPipeline, CallLog]]:
    known = [identify(user(i), i, KNOWN_AT) for i in range(USERS)]
    workdir = tmp_path_factory.mktemp("limits")
    with unlimited_worker(kafka_bootstrap, emulator_url, workdir, known, page_policy="ignore") as worker:
        _, calls = worker
        created = [c for c in calls.calls if (c["method"], c["path"]) == ("POST", "/contacts")]
        assert len(created) == USERS, f"{len(created)} of {USERS} users were created before measuring"
        yield worker


def worker_rate(running: RunningPipeline, calls: CallLog, events: list[dict[str, Any]]) -> float:
    """Events per worker-CPU-second from the publish until every event is committed (calls in
    ``calls.calls``)."""
    pid = running.workers[-1].process.pid
    calls.mark()
    before = cpu_seconds(pid)
    asyncio.run(publish_fast(running.bootstrap, running.settings.raw_events_topic, event_records(events)))
    drain(running, calls)
    return len(events) / (cpu_seconds(pid) - before)


def kafka_limit(kind: str, bootstrap: str, topic: str, count: int, workdir: Path) -> float:
    """Records per CPU-second of the ``kafka`` or ``faust`` limit reading ``topic`` in a group of its own."""
    group = f"{kind}-{topic}"
    extra = ["--datadir", str(workdir / group)] if kind == "faust" else []
    result = limits.run(
        kind, "--bootstrap", bootstrap, "--topic", topic, "--out", f"{topic}-out",
        "--count", str(count), "--group", group, *extra,
    )  # fmt: skip
    assert result["records"] == count
    assert asyncio.run(group_lag(bootstrap, group, [topic])) == 0, (
        f"the {kind} limit left records uncommitted"
    )
    return float(result["per_cpu_s"])


def limits_table(title: str, rows: list[tuple[str, str, list[float], list[float], float | None]]) -> None:
    """Ours, the limit and their ratio, one line each (under the benchmark table and printed now)."""
    cells = []
    for traffic, limit, ours, theirs, goal in rows:
        ratio = statistics.median(ours) / statistics.median(theirs)
        cells.append((traffic, f"{statistics.median(ours):,.0f}", limit, f"{statistics.median(theirs):,.0f}",
                      f"{ratio:.2f}", "" if goal is None else f"≥ {goal:.2f}"))  # fmt: skip
    header = ("traffic", "ours /CPU-s", "limit", "limit /CPU-s", "ratio", "goal")
    lines = ["", title, *report.table(header, cells)]
    report.TEXT.extend(lines)
    print("\n".join(lines))


def test_no_call_traffic(
    known_worker: tuple[RunningPipeline, CallLog], kafka_bootstrap: str, tmp_path: Path
) -> None:
    running, calls = known_worker
    suffix = uuid.uuid4().hex[:8]
    ours, kafka, faust = [], [], []
    with profiled(running.workers[-1].process.pid, "no-call"):
        for run in range(RUNS):
            events = no_call_events(run)
            topic = f"limits-{suffix}-{run}"  # the same records, for the limits
            asyncio.run(create_plain_topics(kafka_bootstrap, [topic, f"{topic}-out"], 3))
            asyncio.run(publish_fast(kafka_bootstrap, topic, event_records(events)))
            ours.append(worker_rate(running, calls, events))
            assert calls.calls == [], f"{len(calls.calls)} Intercom calls for events that need none"
            kafka.append(kafka_limit("kafka", kafka_bootstrap, topic, len(events), tmp_path))
            faust.append(kafka_limit("faust", kafka_bootstrap, topic, len(events), tmp_path))
    assert running.dead_letters() == []
    count = len(no_call_events(0))
    report.record("limit: bare aiokafka loop", "records/CPU-s", kafka,
                  note="consume → json.loads → produce a small record (not awaited one by one) → commit "
                  "per batch once its sends are acked (acks=all); 3 partitions")  # fmt: skip
    report.record("limit: Faust do-nothing agent", "records/CPU-s", faust, reference=statistics.median(kafka),
                  compare="of the aiokafka loop", note="faust-streaming 0.15.3, one agent: json.loads, "
                  "app.producer.send of a small record, acked and committed by Faust (acks=-1)")  # fmt: skip
    figure = report.record(
        "no call, one worker", "events/CPU-s", ours, reference=statistics.median(kafka),
        compare="of the aiokafka loop",
        note=f"{count:,} events a run ({USERS * PAGES_PER_USER:,} pages, PAGE_POLICY=ignore; "
        f"{USERS * IDENTIFIES_PER_USER:,} identifies, traits unchanged); "
        f"{statistics.median(ours) / statistics.median(faust):.2f} of the Faust floor",
    )  # fmt: skip
    limits_table("no-call traffic: ours beside the limits (medians of the same run)", [
        ("no call", "bare aiokafka loop", ours, kafka, GOALS["kafka"]),
        ("no call", "Faust do-nothing agent", ours, faust, None),
        ("(Faust itself)", "bare aiokafka loop", faust, kafka, None),
    ])  # fmt: skip
    print(f"\nno call: ours {[round(r) for r in ours]}, kafka {[round(r) for r in kafka]}, "
          f"faust {[round(r) for r in faust]} per CPU-s; median ours {figure.value:,.0f}")  # fmt: skip


def test_one_call_traffic(known_worker: tuple[RunningPipeline, CallLog], tmp_path: Path) -> None:
    running, calls = known_worker
    ours, http = [], []
    with profiled(running.workers[-1].process.pid, "one-call"):
        for run in range(RUNS):
            events = one_call_events(run)
            ours.append(worker_rate(running, calls, events))
            made = [(c["method"], c["path"]) for c in calls.calls]
            assert made == [("POST", "/events")] * len(events), f"{len(made)} calls for {len(events)} tracks"
            assert all(200 <= c["status"] < 300 for c in calls.calls)
            bodies = tmp_path / f"bodies-{run}.jsonl"  # what the worker posted, for the bare client
            bodies.write_text("".join(json.dumps(c["request_body"]) + "\n" for c in calls.calls))
            result = limits.run(
                "http", "--base-url", running.emulator.base_url, "--bodies", str(bodies),
                env={limits.TOKEN_ENV: running.token},
            )  # fmt: skip
            assert result["records"] == len(events)
            http.append(float(result["per_cpu_s"]))
    assert running.dead_letters() == []
    report.record("limit: bare httpx client", "calls/CPU-s", http,
                  note=f"one pooled httpx.AsyncClient, {limits.IN_FLIGHT} in flight, POST /events with "
                  "the bodies the worker posted, to the same emulator")  # fmt: skip
    figure = report.record(
        "one call, one worker", "events/CPU-s", ours, reference=statistics.median(http),
        compare="of the bare httpx client",
        note=f"{USERS * TRACKS_PER_USER:,} tracks of known users a run, one POST /events each",
    )  # fmt: skip
    limits_table("one-call traffic: ours beside the limit (medians of the same run)", [
        ("one call", "bare httpx client", ours, http, GOALS["http"]),
    ])  # fmt: skip
    print(f"\none call: ours {[round(r) for r in ours]}, httpx {[round(r) for r in http]} per CPU-s; "
          f"median ours {figure.value:,.0f}")  # fmt: skip
