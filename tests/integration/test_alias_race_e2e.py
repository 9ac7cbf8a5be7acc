"""An identify for the new id before its alias (#24, part 3): whichever of ``identify(userId=new)`` and
``alias(previousId=old, userId=new)`` is applied first, each person ends as one Intercom contact that
holds the new id, the old id's events and the new identify's profile; no dead letter, no lead left.

The order is made certain by publishing in steps, each drained before the next: the old id's history,
then for "identify first" the new id's identify (its contact created) before the alias, for "alias
first" the alias before the new id's identify. Both for an old id that is a user and one that is an anonymous
visitor's lead, published keyed by user and unkeyed round-robin over the partitions."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.integration.builders import identify, track
from tests.integration.conftest import RunningPipeline
from tests.integration.test_arrival_order_e2e import _publish_round_robin
from tests.integration.test_observability import samples, with_web_port

pytestmark = pytest.mark.integration

# Three of each kind: an old id that is a user (u), and one that is an anonymous visitor's lead (v).
PEOPLE_IDS = [f"{kind}{i}" for kind in "uv" for i in range(3)]


def alias(previous: str, new: str, n: int) -> dict[str, Any]:
    return {"type": "alias", "messageId": f"{new}-a{n}", "previousId": previous, "userId": new,
            "timestamp": f"2026-11-20T10:00:{n:02d}Z"}  # fmt: skip


def visit(anonymous: str, n: int) -> dict[str, Any]:
    event = track(anonymous, n, "Visited")
    del event["userId"]
    event["anonymousId"] = anonymous
    return event


Story = tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]


def user_story(person: str, order: str) -> Story:
    """The old id is a user with history; then the new id's identify and the alias, in ``order``."""
    old, new = f"{person}-old", f"{person}-new"
    history = [identify(old, 1, name="Old Name"), track(old, 2, "Before Alias")]
    early, move = identify(new, 3, name="New Name", email=f"{person}@example.com"), alias(old, new, 4)
    after = track(new, 5, "After Alias")
    if order == "identify_first":
        return history, [early], [move, after]
    return history, [move], [early, after]


def visitor_story(person: str, order: str) -> Story:
    """The old id is an anonymous visitor (a lead); the new id's identify does not name it."""
    anonymous, new = f"anon-{person}", f"{person}-new"
    early = identify(new, 3, name="New Name", email=f"{person}@example.com")
    move, after = alias(anonymous, new, 4), track(new, 5, "After Alias")
    if order == "identify_first":
        return [visit(anonymous, 1)], [early], [move, after]
    return [visit(anonymous, 1)], [move], [early, after]


def _publish(pipeline: RunningPipeline, events: list[dict[str, Any]], keying: str) -> None:
    if keying == "round_robin":
        asyncio.run(_publish_round_robin(pipeline.bootstrap, pipeline.settings.raw_events_topic, events, 3))
    else:
        pipeline.publish(events)


@pytest.mark.parametrize("keying", ["keyed", "round_robin"])
@pytest.mark.parametrize("order", ["identify_first", "alias_first"])
def test_one_contact_per_person_whichever_arrives_first(
    pipeline: RunningPipeline, order: str, keying: str
) -> None:
    port = with_web_port(pipeline)
    pipeline.start()
    stories = [user_story(p, order) for p in PEOPLE_IDS if p.startswith("u")]
    stories += [visitor_story(p, order) for p in PEOPLE_IDS if p.startswith("v")]
    published = 0
    # The old ids' history, then the first of the two, then the other, then a later identify of the
    # new id (its partition's table must name the surviving contact: still one contact, no letter).
    steps = [[e for story in stories for e in story[step]] for step in range(3)]
    steps.append([identify(f"{p}-new", 6, name="Final Name", email=f"{p}@example.com") for p in PEOPLE_IDS])
    for events in steps:
        _publish(pipeline, events, keying)
        published += len(events)
        pipeline.wait_drained(published)

    letters = pipeline.dead_letters()
    assert letters == [], json.dumps(letters[:3], default=str)[:2000]
    # Nothing still waiting either (parked work is dead-lettered only at the end of its hold).
    metrics = samples(port)
    parked = sum(v for (name, _), v in metrics.items() if name == "intercom_stream_parked_total")
    assert parked == metrics.get(("intercom_stream_released_total", ()), 0.0), "work left parked"
    state = pipeline.emulator.state()
    contacts = state["contacts"]
    assert sorted(c["external_id"] for c in contacts) == sorted(f"{p}-new" for p in PEOPLE_IDS), (
        "one contact per person, holding the new id (no second contact, no lead left)"
    )
    by_new = {c["external_id"]: c for c in contacts}
    events_of: dict[str, list[str]] = {}
    for event in state["events"]:
        events_of.setdefault(event["intercom_user_id"], []).append(event["event_name"].lower())
    for person in PEOPLE_IDS:
        contact = by_new[f"{person}-new"]
        assert contact["role"] == "user" and contact["name"] == "Final Name", contact
        old_event = "before alias" if person.startswith("u") else "visited"
        assert sorted(events_of.get(contact["id"], [])) == sorted([old_event, "after alias"]), person
    # Each event once on the surviving contacts (the emulator keeps a deleted contact's events, under
    # its gone id; Intercom deletes them with it).
    kept = [e for e in state["events"] if e["intercom_user_id"] in {c["id"] for c in contacts}]
    assert len(kept) == 2 * len(PEOPLE_IDS), "each event once"
