"""Out-of-order arrival (#15): the same user stories published keyed by user, unkeyed round-robin over
the partitions, and with an alias keyed by its new userId right after the old id's identify. Whatever
the order the worker sees: no dead letter, every contact ends with its newest values, every event is
in Intercom once with its own created_at, and no lead is left unmerged."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from streams.mapping.timestamps import to_unix_seconds
from tests.integration.builders import group, identify, track
from tests.integration.conftest import RunningPipeline

pytestmark = pytest.mark.integration

USERS = 6


def story(user: str) -> list[dict[str, Any]]:
    """Anonymous browsing, sign-up, activity, a company, a newer identify: in event-time order."""
    visit = track(user, 1, "Visited")
    del visit["userId"]
    visit["anonymousId"] = f"anon-{user}"
    signup = identify(user, 2, name="Old Name")
    signup["anonymousId"] = f"anon-{user}"
    return [
        visit, signup, track(user, 3, "Step 3"), group(user, 4, f"co-{user}"),
        identify(user, 5, name="New Name"), track(user, 6, "Step 6"),
    ]  # fmt: skip


def alias_story(user: str) -> list[dict[str, Any]]:
    """identify under the old id, then an alias keyed by the new id (as the SDKs key it), then activity."""
    renamed = f"{user}-new"
    alias = {"type": "alias", "messageId": f"{user}-a2", "previousId": user, "userId": renamed,
             "timestamp": "2026-11-20T10:00:02Z"}  # fmt: skip
    return [identify(user, 1, name="Aliased"), alias, track(renamed, 3, "After Alias")]


async def _publish_round_robin(
    bootstrap: str, topic: str, events: list[dict[str, Any]], partitions: int
) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for index, event in enumerate(events):  # an unkeyed producer spreading records over partitions
            await producer.send_and_wait(topic, json.dumps(event).encode(), partition=index % partitions)
    finally:
        await producer.stop()


def _expected_events(events: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return sorted(
        (str(e["event"]).lower(), int(to_unix_seconds(e["timestamp"]) or 0))
        for e in events
        if e["type"] == "track"
    )


@pytest.mark.parametrize("producer", ["keyed", "round_robin", "alias_keyed_by_new_id"])
def test_stories_converge_whatever_the_arrival_order(pipeline: RunningPipeline, producer: str) -> None:
    pipeline.start()
    users = [f"o-{i}" for i in range(USERS)]
    if producer == "alias_keyed_by_new_id":
        events = [e for u in users for e in alias_story(u)]
    else:
        # Interleaved by step, as many users' traffic is.
        stories = [story(u) for u in users]
        events = [s[n] for n in range(len(stories[0])) for s in stories]
    if producer == "round_robin":
        asyncio.run(_publish_round_robin(pipeline.bootstrap, pipeline.settings.raw_events_topic, events, 3))
    else:
        pipeline.publish(events)
    pipeline.wait_drained(len(events))

    letters = pipeline.dead_letters()
    assert letters == [], json.dumps(letters[:3], default=str)[:2000]
    state = pipeline.emulator.state()
    contacts = state["contacts"]
    assert [c for c in contacts if c["role"] == "lead"] == [], "a lead was left unmerged"
    by_id = {c["external_id"]: c for c in contacts}
    if producer == "alias_keyed_by_new_id":
        assert sorted(by_id) == sorted(f"{u}-new" for u in users)
        assert all(c["name"] == "Aliased" for c in contacts)
    else:
        assert sorted(by_id) == users
        stale = {u: by_id[u]["name"] for u in users if by_id[u]["name"] != "New Name"}
        assert not stale, f"older values won: {stale}"
        companies = {c["company_id"] for c in state["companies"]}
        assert companies == {f"co-{u}" for u in users}
        for user in users:
            attached = pipeline.emulator.api("GET", f"/contacts/{by_id[user]['id']}/companies")
            assert [c["company_id"] for c in attached["companies"]] == [f"co-{user}"]
    stored = sorted((e["event_name"].lower(), e["created_at"]) for e in state["events"])
    assert stored == _expected_events(events), "each event once, with its own created_at"
