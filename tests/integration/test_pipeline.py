"""End to end on a real Kafka: raw-events → Faust → delivery topic → the Intercom emulator."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from streams.kafka_io import read_all
from tests.integration.builders import group, identify, track
from tests.integration.conftest import RunningPipeline

pytestmark = pytest.mark.integration


def calls_for(calls: list[dict[str, Any]], needle: str) -> list[str]:
    """The calls whose path or body mention ``needle`` (a user id or an Intercom id)."""
    return [
        f"{c['method']} {c['path']}"
        for c in calls
        if needle in c["path"] or needle in json.dumps(c.get("request_body"))
    ]


def test_identify_track_group_reach_intercom_in_per_user_order(pipeline: RunningPipeline) -> None:
    emulator = pipeline.emulator
    emulator.create_attribute("plan", "string", "contact")
    emulator.create_attribute("tier", "string", "company")
    users = [f"user-{i}" for i in range(4)]
    events: list[dict[str, Any]] = []
    for n in range(1, 4):  # interleave users, each with its own ordered story
        for user in users:
            events += [identify(user, n * 10, plan=f"p{n}"), track(user, n * 10 + 1, f"Step {n}")]
    events += [group(user, 50, "acme", tier="gold") for user in users]
    pipeline.start()
    pipeline.publish(events)
    pipeline.wait_drained(len(events))

    assert pipeline.dead_letters() == []
    state = emulator.state()
    contacts = {c["external_id"]: c for c in state["contacts"]}
    assert set(contacts) == set(users)
    for user in users:
        contact = contacts[user]
        assert contact["email"] == f"{user}@example.com"
        assert contact["custom_attributes"]["plan"] == "p3"  # the last identify won: order kept
        stored = [e for e in state["events"] if e["user_id"] == user]
        assert sorted(e["event_name"] for e in stored) == ["step 1", "step 2", "step 3"] or sorted(
            e["event_name"] for e in stored
        ) == ["Step 1", "Step 2", "Step 3"]
    calls = emulator.requests()
    for user in users:
        contact_id = contacts[user]["id"]
        mine = [c for c in calls if user in json.dumps(c.get("request_body")) or contact_id in c["path"]]
        routes = [f"{c['method']} {c['path']}" for c in mine]
        # One create (no search: a user with an external_id is created first), then updates by id.
        assert routes.count("POST /contacts/search") == 0
        assert routes.count("POST /contacts") == 1
        assert routes.count(f"PUT /contacts/{contact_id}") == 2
        # Per-user order: create, event, update, event, update, event, attach.
        assert routes == [
            "POST /contacts", "POST /events",
            f"PUT /contacts/{contact_id}", "POST /events",
            f"PUT /contacts/{contact_id}", "POST /events",
            f"POST /contacts/{contact_id}/companies",
        ]  # fmt: skip
        bodies = [c["request_body"] for c in mine if c["path"] == "/events"]
        assert [b["event_name"] for b in bodies] == ["Step 1", "Step 2", "Step 3"]
    (company,) = state["companies"]
    assert company["company_id"] == "acme" and company["custom_attributes"] == {"tier": "gold"}
    assert company["user_count"] == len(users)


def test_bad_records_are_dead_lettered_with_reasons_and_the_worker_keeps_going(
    pipeline: RunningPipeline,
) -> None:
    events: list[Any] = [
        "this is not json",
        {"type": "track", "messageId": "no-id", "event": "Orphan", "timestamp": 1},
        identify("u-bad", 1, score="high"),  # a string for an integer attribute → 400
        track("u-missing", 2, "Too Early"),  # user never identified → 404
        identify("u-good", 3),
    ]
    # (Unknown attributes no longer fail an event: see tests/integration/test_mapping_e2e.py.)
    pipeline.emulator.create_attribute("score", "integer")
    pipeline.env["INTERCOM_STREAM_UNKNOWN_USER_HOLD_S"] = "2"  # the track waits this long for an identify
    pipeline.start()
    pipeline.publish(events)
    pipeline.wait_drained(len(events))
    deadline = time.monotonic() + 60
    while len(pipeline.dead_letters()) < 4 and time.monotonic() < deadline:
        time.sleep(0.5)
    letters = {
        d["source_offset"] if d["reason"] == "unparseable" else d["user_key"]: d
        for d in pipeline.dead_letters()
    }
    reasons = sorted(d["reason"] for d in letters.values())
    seen = [(d["reason"], d["user_key"], d["message"][:100]) for d in pipeline.dead_letters()]
    assert reasons == ["intercom_rejected", "missing_identity", "unparseable", "user_not_found"], seen
    rejected = next(d for d in letters.values() if d["reason"] == "intercom_rejected")
    assert rejected["intercom_status"] == 400
    assert "score" in rejected["intercom_error"]
    assert json.loads(rejected["original_value"])["messageId"] == "u-bad-i1"
    assert json.loads(rejected["intercom_request"])["path"] == "/contacts"
    assert rejected["attempts"] == 1
    unparseable = next(d for d in letters.values() if d["reason"] == "unparseable")
    assert unparseable["original_value"] == "this is not json"
    assert unparseable["source_topic"] == pipeline.settings.raw_events_topic
    # The good event after the bad ones was delivered.
    assert [c["external_id"] for c in pipeline.emulator.state()["contacts"]] == ["u-good"]
    # The token is nowhere in what the worker logged or dead-lettered.
    assert pipeline.token not in pipeline.logs()
    assert pipeline.token not in json.dumps(pipeline.dead_letters(), default=str)


def test_wrongly_keyed_records_are_rekeyed_and_keep_per_user_order(pipeline: RunningPipeline) -> None:
    events = [
        identify("rk-1", 1),
        track("rk-1", 2, "First"),
        track("rk-1", 3, "Second"),
        track("rk-1", 4, "Third"),
    ]
    pipeline.start()
    pipeline.publish(events, keyed=False)
    pipeline.wait_drained(len(events))
    assert pipeline.dead_letters() == []
    names = [c["request_body"]["event_name"] for c in pipeline.emulator.requests() if c["path"] == "/events"]
    assert names == ["First", "Second", "Third"]
    rekeyed = asyncio.run(read_all(pipeline.bootstrap, pipeline.settings.rekey_topic))
    assert [r.key for r in rekeyed] == [b"rk-1"] * len(events)
