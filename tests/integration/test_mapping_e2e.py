"""The mapping's policies end to end: Kafka → worker → the emulator (unknown attributes, 409s, archive)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.builders import group, identify
from tests.integration.conftest import RunningPipeline

pytestmark = pytest.mark.integration


def routes(pipeline: RunningPipeline) -> list[str]:
    return [f"{c['method']} {c['path']}" for c in pipeline.emulator.requests()]


def contacts(pipeline: RunningPipeline) -> dict[str, dict[str, Any]]:
    return {c["external_id"]: c for c in pipeline.emulator.state()["contacts"]}


def test_drop_policy_writes_the_contact_and_reports_the_dropped_attribute(pipeline: RunningPipeline) -> None:
    pipeline.emulator.create_attribute("plan", "string", "contact")
    pipeline.env["INTERCOM_STREAM_ATTRIBUTE_REFRESH_S"] = "0.5"
    pipeline.start()
    pipeline.publish([identify("d-1", 1, plan="pro", favourite_colour="green")])
    pipeline.wait_drained(1)
    contact = contacts(pipeline)["d-1"]
    assert contact["custom_attributes"] == {"plan": "pro"}
    (letter,) = pipeline.dead_letters()
    assert letter["reason"] == "attributes_dropped" and letter["user_key"] == "d-1"
    assert json.loads(letter["details"]) == {"target": "contact", "values": {"favourite_colour": "green"}}
    assert json.loads(letter["original_value"])["messageId"] == "d-1-i1"
    # Once the attribute exists, replaying the record sends just what was missing.
    pipeline.emulator.create_attribute("favourite_colour", "string", "contact")
    before = len(routes(pipeline))
    pipeline.publish([letter["original_value"]])
    pipeline.wait_drained(2)
    assert contacts(pipeline)["d-1"]["custom_attributes"] == {"plan": "pro", "favourite_colour": "green"}
    writes = [r for r in routes(pipeline)[before:] if not r.startswith("GET /data_attributes")]
    assert writes == [f"PUT /contacts/{contact['id']}"]
    put = [c for c in pipeline.emulator.requests() if c["method"] == "PUT"][-1]
    assert put["request_body"] == {"custom_attributes": {"favourite_colour": "green"}}


def test_create_policy_creates_typed_attributes_then_writes(pipeline: RunningPipeline) -> None:
    pipeline.env["INTERCOM_STREAM_ATTRIBUTE_POLICY"] = "create"
    pipeline.start()
    pipeline.publish([identify("c-1", 1, score=5, vip=True), group("c-1", 2, "acme", tier="gold")])
    pipeline.wait_drained(2)
    assert pipeline.dead_letters() == []
    assert contacts(pipeline)["c-1"]["custom_attributes"] == {"score": 5, "vip": True}
    (company,) = pipeline.emulator.state()["companies"]
    assert company["custom_attributes"] == {"tier": "gold"}
    created = [
        (c["request_body"]["model"], c["request_body"]["name"], c["request_body"]["data_type"])
        for c in pipeline.emulator.requests()
        if c["method"] == "POST" and c["path"] == "/data_attributes"
    ]
    assert sorted(created) == [
        ("company", "tier", "string"), ("contact", "score", "integer"), ("contact", "vip", "boolean"),
    ]  # fmt: skip


def test_reject_policy_dead_letters_without_writing(pipeline: RunningPipeline) -> None:
    pipeline.env["INTERCOM_STREAM_ATTRIBUTE_POLICY"] = "reject"
    pipeline.start()
    pipeline.publish([identify("r-1", 1, favourite_colour="green"), identify("r-2", 2)])
    pipeline.wait_drained(2)
    (letter,) = pipeline.dead_letters()
    assert letter["reason"] == "attributes_unknown" and letter["user_key"] == "r-1"
    assert "favourite_colour" in letter["message"]
    assert set(contacts(pipeline)) == {"r-2"}
    assert routes(pipeline).count("POST /contacts") == 1


def test_409_from_search_lag_updates_the_named_contact(pipeline: RunningPipeline) -> None:
    emulator = pipeline.emulator
    emulator.configure(search_lag_s=60)
    existing = emulator.api("POST", "/contacts", {"external_id": "race-1", "email": "race-1@example.com"})
    pipeline.start()
    pipeline.publish([identify("race-1", 1, name="Raced")])
    pipeline.wait_drained(1)
    assert pipeline.dead_letters() == []
    assert routes(pipeline)[-2:] == ["POST /contacts", f"PUT /contacts/{existing['id']}"]
    statuses = [c["status"] for c in emulator.requests() if c["path"] == "/contacts"]
    assert statuses[-1] == 409
    (contact,) = emulator.state()["contacts"]
    assert contact["name"] == "Raced" and contact["id"] == existing["id"]


def test_archived_contact_is_unarchived_and_updated(pipeline: RunningPipeline) -> None:
    emulator = pipeline.emulator
    existing = emulator.api("POST", "/contacts", {"external_id": "arc-1", "email": "arc-1@example.com"})
    emulator.api("POST", f"/contacts/{existing['id']}/archive")
    pipeline.start()
    pipeline.publish([identify("arc-1", 1, name="Back")])
    pipeline.wait_drained(1)
    assert pipeline.dead_letters() == []
    contact_id = existing["id"]
    assert routes(pipeline)[-2:] == [f"POST /contacts/{contact_id}/unarchive", f"PUT /contacts/{contact_id}"]
    contact = next(c for c in emulator.state()["contacts"] if c["id"] == existing["id"])
    assert contact["name"] == "Back" and not contact.get("archived")
