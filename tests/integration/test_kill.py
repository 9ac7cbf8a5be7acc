"""kill -9 of workers at random points during a stream of thousands of events: nothing lost, order kept.

Two workers share the partitions; one of them is killed (SIGKILL: no leave-group, no final commit)
several times mid-stream and replaced. Everything is asserted on what the emulator saw.
"""

from __future__ import annotations

import json
import random
import signal
import time
from collections import defaultdict
from typing import Any

import pytest

from streams.emulator.middleware import CLIENT_CLOSED_REQUEST
from tests.integration.builders import group, identify, track
from tests.integration.conftest import RunningPipeline

pytestmark = pytest.mark.integration

USERS = 100
EVENTS_PER_USER = 30  # one identify, then tracks 2..30
KILLS = 3


def _event_posts(calls: list[dict[str, Any]]) -> list[tuple[str, int, int]]:
    """(user, n, status) of every POST /events, in the order the emulator received them."""
    posts = []
    for call in calls:
        body = call.get("request_body") or {}
        if call["method"] == "POST" and call["path"] == "/events":
            posts.append((str(body.get("user_id")), _step(body), int(call["status"])))
    return posts


def _step(body: dict[str, Any]) -> int:
    """The event's number: its name is "Step n" (metadata may have been trimmed)."""
    return int(str(body["event_name"]).split()[-1])


def _wait_for_progress(pipeline: RunningPipeline, at_least: int, timeout_s: float = 120.0) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        seen = len(pipeline.emulator.requests())
        if seen >= at_least:
            return seen
        time.sleep(0.05)
    raise AssertionError(f"the workers made fewer than {at_least} calls in {timeout_s:.0f}s")


def test_kill_9_mid_stream_loses_nothing_and_keeps_each_users_order(
    pipeline: RunningPipeline, request: pytest.FixtureRequest
) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    print(f"seed={seed}")
    # Intercom misbehaves too (seeded: 5xx, slow answers, stalls, dropped connections), as in production.
    pipeline.emulator.configure(rate_limit=0, fault_rate=0.05)
    request.addfinalizer(lambda: pipeline.emulator.configure(fault_rate=0))  # the emulator is shared
    pipeline.env["INTERCOM_STREAM_RATE_LIMIT"] = "100000/10s"  # the pipeline, not the budget, is under test
    pipeline.env["INTERCOM_STREAM_REQUEST_TIMEOUT_S"] = "3"  # stalled calls time out, and are retried
    users = [f"k-{i:03d}" for i in range(USERS)]
    events: list[dict[str, Any]] = []
    for n in range(1, EVENTS_PER_USER + 1):
        for user in users:
            events.append(identify(user, n) if n == 1 else track(user, n, f"Step {n}"))
    pipeline.start()
    pipeline.start()
    pipeline.publish(events)

    total = len(events)
    alive = list(pipeline.workers)
    for kill in range(KILLS):
        # Kill somewhere in the middle of the remaining work, then replace the worker.
        target = int(total * (kill + 1) / (KILLS + 2) * rng.uniform(0.7, 1.1))
        _wait_for_progress(pipeline, target)
        victim = alive.pop(rng.randrange(len(alive)))
        victim.stop(sig=signal.SIGKILL)
        alive.append(pipeline.start())
    pipeline.wait_drained(total)
    pipeline.emulator.configure(fault_rate=0)  # the checks below read the emulator
    dead_letters = pipeline.dead_letters()
    assert dead_letters == [], json.dumps(dead_letters[:3], default=str)[:2000]
    state = pipeline.emulator.state()
    contacts = sorted(c["external_id"] for c in state["contacts"])
    assert contacts == users, "each user exactly one contact"
    stored = defaultdict(set)
    for event in state["events"]:
        stored[event["user_id"]].add(event["event_name"].lower())
    expected = {f"step {n}" for n in range(2, EVENTS_PER_USER + 1)}
    missing = {u: sorted(expected - stored[u]) for u in users if stored[u] != expected}
    assert not missing, f"events lost: {dict(list(missing.items())[:5])}"
    assert len(state["events"]) == USERS * (EVENTS_PER_USER - 1)

    calls = pipeline.emulator.requests()
    # 499: a killed worker's request cut short (the emulator, like Intercom, never saw it).
    calls = [c for c in calls if c["status"] != CLIENT_CLOSED_REQUEST]
    odd = [c for c in calls if c["path"] == "/events" and "event_name" not in (c.get("request_body") or {})]
    assert not odd, f"event posts without a name: {odd[:3]}"
    created_at: dict[str, int] = {}
    for index, call in enumerate(calls):
        body = call.get("request_body") or {}
        if call["method"] == "POST" and call["path"] == "/contacts" and call["status"] == 200:
            created_at.setdefault(str(body.get("external_id")), index)
    first_seen: dict[str, list[int]] = defaultdict(list)
    first_post_index: dict[str, int] = {}
    for index, call in enumerate(calls):
        body = call.get("request_body") or {}
        if call["method"] == "POST" and call["path"] == "/events" and call["status"] == 202:
            user, n = str(body["user_id"]), _step(body)
            first_post_index.setdefault(user, index)
            if n not in first_seen[user]:
                first_seen[user].append(n)
    disordered = {u: ns for u, ns in first_seen.items() if ns != sorted(ns)}
    assert not disordered, f"per-user order broken: {dict(list(disordered.items())[:3])}"
    early = [u for u, i in first_post_index.items() if i < created_at.get(u, -1)]
    assert not early, f"events sent before their user's contact was created: {early[:5]}"

    posts = _event_posts(calls)
    duplicates = len(posts) - len({(u, n) for u, n, _ in posts})
    print(f"events={total} calls={len(calls)} event_posts={len(posts)} duplicate_event_posts={duplicates}")
    # At-least-once: a kill replays what its worker had not committed (about one commit interval of
    # work plus the in-flight window, on both the raw and the delivery side), never the whole stream.
    # Measured: 47-656 duplicate posts for 3 kills (2-22%, 15 runs); Intercom drops them (same created_at).
    assert duplicates < total * 0.3, f"{duplicates} duplicate event posts for {total} events"


def test_kill_9_while_work_is_parked_loses_nothing(pipeline: RunningPipeline) -> None:
    """Tracks and attaches of users not identified yet are parked; the worker is killed (no final
    commit, no leave-group); its replacement releases them all when the identifies come."""
    pipeline.env["INTERCOM_STREAM_UNKNOWN_USER_HOLD_S"] = "600"  # nothing may expire during the test
    pipeline.emulator.configure(rate_limit=0)  # the test's own reads must not meet a 429
    users = [f"p-{i:02d}" for i in range(20)]
    early = [track(u, n, f"Step {n}") for n in (2, 3) for u in users]
    early += [group(u, 4, f"co-{u}") for u in users]
    first = pipeline.start()
    pipeline.publish(early)
    pipeline.wait_drained(len(early))  # every record parked (done), none delivered
    assert [c for c in pipeline.emulator.requests() if c["path"] == "/events" and c["status"] == 202] == []
    first.stop(sig=signal.SIGKILL)
    pipeline.start()
    late = [identify(u, 1) for u in users]
    pipeline.publish(late)
    pipeline.wait_drained(len(early) + len(late))

    dead_letters = pipeline.dead_letters()
    assert dead_letters == [], json.dumps(dead_letters[:3], default=str)[:2000]
    state = pipeline.emulator.state()
    stored = sorted((e["user_id"], e["event_name"].lower()) for e in state["events"])
    assert stored == sorted((u, f"step {n}") for n in (2, 3) for u in users)
    by_id = {c["external_id"]: c["id"] for c in state["contacts"]}
    assert sorted(by_id) == users
    for user in users[:5]:
        attached = pipeline.emulator.api("GET", f"/contacts/{by_id[user]}/companies")
        assert [c["company_id"] for c in attached["companies"]] == [f"co-{user}"]
