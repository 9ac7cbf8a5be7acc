"""Stopping the worker mid-stream loses nothing, and its tables come back from their changelogs."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from streams.kafka_io import group_lag
from tests.integration.builders import identify, track
from tests.integration.conftest import RunningPipeline

pytestmark = pytest.mark.integration


async def _processed_some(pipeline: RunningPipeline, total: int) -> None:
    settings = pipeline.settings
    for _ in range(600):
        lag = await group_lag(settings.bootstrap_servers, settings.app_id, [settings.raw_events_topic])
        if lag is not None and lag < total:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the worker processed nothing")


def test_restart_mid_stream_loses_nothing_and_recovers_tables(pipeline: RunningPipeline) -> None:
    pipeline.emulator.configure(rate_limit=0)
    users = [f"r-{i}" for i in range(10)]
    events: list[dict[str, Any]] = []
    for n in range(1, 6):
        for user in users:
            events.append(identify(user, n) if n == 1 else track(user, n, f"Event {n}"))
    first = pipeline.start()
    pipeline.publish(events)
    asyncio.run(_processed_some(pipeline, len(events)))
    first.stop()  # SIGTERM mid-stream
    pipeline.start()
    pipeline.wait_drained(len(events))

    assert pipeline.dead_letters() == []
    state = pipeline.emulator.state()
    assert sorted(c["external_id"] for c in state["contacts"]) == sorted(users)
    stored = {(e["user_id"], e["event_name"].lower()) for e in state["events"]}
    expected = {(u, f"event {n}") for u in users for n in range(2, 6)}
    missing = expected - stored
    calls = [
        (c["method"], c["path"], c["status"], c.get("request_body"))
        for c in pipeline.emulator.requests()
        if any(u == (c.get("request_body") or {}).get("user_id") for u, _ in missing)
    ]
    # Every event exactly once (Intercom dedupes replays on created_at).
    assert not missing, f"lost {missing}; their calls: {calls}"
    assert len(state["events"]) == len(expected)

    # A fresh worker rebuilds the tables from their changelogs: an identify of a known user needs no
    # lookup (neither a search nor a create that Intercom answers 409), just the update.
    pipeline.workers[-1].stop()
    pipeline.start()

    def lookups(calls: list[dict[str, Any]]) -> int:
        paths = ("/contacts/search", "/contacts")
        return sum(1 for c in calls if c["method"] == "POST" and c["path"] in paths)

    searches_before = lookups(pipeline.emulator.requests())
    puts_before = sum(1 for c in pipeline.emulator.requests() if c["method"] == "PUT")
    later = [identify(user, 59, name=f"Renamed {user}") for user in users]
    pipeline.publish(later)
    pipeline.wait_drained(len(events) + len(later))
    calls = pipeline.emulator.requests()
    assert lookups(calls) == searches_before
    assert sum(1 for c in calls if c["method"] == "PUT") - puts_before >= len(users)
