"""Workspace-wide limits held by every worker together (the workspace topic, docs/mapping.md).

Three workers share six partitions. Users send more distinct event names than the (lowered) cap, and
each identify carries a data attribute Intercom does not have yet (``attribute_policy=create``).
Everything is asserted on what the emulator received and on the dead-letter topic.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest

from streams.workspace.state import event_name_key
from tests.integration.builders import identify, track
from tests.integration.conftest import RunningPipeline

pytestmark = pytest.mark.integration

WORKERS = 3
PARTITIONS = 6
CAP = 5
NAMES = [f"Feature {k} Used" for k in range(12)]  # more distinct names than the cap
USERS = 36
TRACKS_PER_USER = 4
READY = "Worker ready"


def _wait_until_all_ready(pipeline: RunningPipeline, timeout_s: float = 180.0) -> None:
    """All workers ready: the last one joined the group, so the others hold its assignment too."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if all(READY in child.log_text() for child in pipeline.workers):
            return
        time.sleep(0.2)
    raise AssertionError("not every worker became ready:\n" + pipeline.logs()[-3000:])


def _events() -> list[dict[str, Any]]:
    users = [f"ws-{i:02d}" for i in range(USERS)]
    events = [identify(user, 1, favourite_colour="teal") for user in users]
    for n in range(2, TRACKS_PER_USER + 2):
        for index, user in enumerate(users):
            events.append(track(user, n, NAMES[(index + n) % len(NAMES)]))
    return events


def test_three_workers_send_at_most_the_cap_of_names_and_create_an_attribute_once(
    pipeline: RunningPipeline,
) -> None:
    pipeline.emulator.configure(rate_limit=0)  # the emulator fixture resets it for the next test
    pipeline.env.update(
        {
            "INTERCOM_STREAM_PARTITIONS": str(PARTITIONS),
            "INTERCOM_STREAM_EVENT_NAME_CAP": str(CAP),
            "INTERCOM_STREAM_ATTRIBUTE_POLICY": "create",
            "INTERCOM_STREAM_RATE_LIMIT": "100000/10s",
        }
    )
    for _ in range(WORKERS):
        pipeline.start()
    _wait_until_all_ready(pipeline)
    for child in pipeline.workers:  # each worker holds delivery partitions (else this proves less)
        assigned = [line for line in child.log_text().splitlines() if "partitions assigned" in line]
        assert assigned and pipeline.settings.delivery_topic in assigned[-1], child.log_text()[-2000:]

    events = _events()
    pipeline.publish(events)
    pipeline.wait_drained(len(events))

    calls = pipeline.emulator.requests()
    posts = [c for c in calls if c["method"] == "POST" and c["path"] == "/events"]
    sent = {event_name_key(str((c.get("request_body") or {})["event_name"])) for c in posts}
    assert 0 < len(sent) <= CAP, sorted(sent)
    assert [c for c in posts if c["status"] == 422] == []  # never past Intercom's own limit

    tracks = [e for e in events if e["type"] == "track"]
    refused = [e for e in tracks if event_name_key(e["event"]) not in sent]
    letters = pipeline.dead_letters()
    assert Counter(letter["reason"] for letter in letters) == {"event_name_cap": len(refused)}
    # Every event of a name within the cap was delivered, and no call was made for the others.
    assert len(posts) == len(tracks) - len(refused)
    assert {event_name_key(e["event"]) for e in refused}.isdisjoint(sent)

    creates = [c for c in calls if c["method"] == "POST" and c["path"] == "/data_attributes"]
    assert [c["request_body"]["name"] for c in creates] == ["favourite_colour"]
    contacts = pipeline.emulator.state()["contacts"]
    assert len(contacts) == USERS
    assert all(c["custom_attributes"].get("favourite_colour") == "teal" for c in contacts)
