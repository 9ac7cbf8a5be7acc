"""Drop-in for Segment and RudderStack users (#14), end to end: events shaped as each SDK sends them,
through a real broker and worker, into the emulator."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.builders import rudder_identify, rudder_track, segment_identify, segment_track
from tests.integration.conftest import RunningPipeline
from tests.integration.test_observability import value, with_web_port

pytestmark = pytest.mark.integration


def routes(pipeline: RunningPipeline, since: int = 0) -> list[str]:
    return [f"{c['method']} {c['path']}" for c in pipeline.emulator.requests()[since:]]


def events_of(pipeline: RunningPipeline, user: str) -> list[dict[str, Any]]:
    return [e for e in pipeline.emulator.state()["events"] if e["user_id"] == user]


def test_integrations_object_withholds_events_without_a_call_or_dead_letter(
    pipeline: RunningPipeline,
) -> None:
    port = with_web_port(pipeline)
    pipeline.start()
    events = [
        segment_identify("int-1", 1, {"email": "int-1@example.com"}),  # {}: All defaults to true
        segment_track("int-1", 2, "Kept", {"n": 1}, {"All": True}),
        segment_track("int-1", 3, "Private", {"n": 2}, {"Intercom": False}),
        segment_track("int-1", 4, "Nowhere", {"n": 3}, {"All": False}),
        segment_track("int-1", 5, "Only Intercom", {"n": 4}, {"All": False, "Intercom": {}}),
        rudder_identify("int-2", 6, {"email": "int-2@example.com"}, {"intercom": False}),
    ]
    pipeline.publish(events)
    pipeline.wait_drained(len(events))
    assert pipeline.dead_letters() == []
    assert sorted(e["event_name"].lower() for e in events_of(pipeline, "int-1")) == ["kept", "only intercom"]
    assert [c["external_id"] for c in pipeline.emulator.state()["contacts"]] == ["int-1"]
    assert not any("int-2" in json.dumps(c.get("request_body")) for c in pipeline.emulator.requests())
    assert value(port, "intercom_stream_events_filtered_total", reason="integration_disabled") == 3
    # The first names an example event; the others are counted (a summary line) and logged at DEBUG.
    first = [line for line in pipeline.logs().splitlines() if "integration_disabled" in line]
    assert first and "(the first for this reason" in first[0] and " of int-" in first[0]


def test_rudderstack_context_traits_and_lookup_find_the_existing_contact(pipeline: RunningPipeline) -> None:
    existing = pipeline.emulator.api(
        "POST", "/contacts", {"role": "user", "external_id": "ext-9", "email": "old@example.com"}
    )
    pipeline.start()
    event = rudder_identify(
        None,
        1,
        {"external_id": "ext-9", "email": "new@example.com", "name": "Ada Lovelace", "phone": None},
        {"Intercom": {"lookup": "external_id"}},
        anonymousId="anon-9",
    )
    before = len(pipeline.emulator.requests())
    pipeline.publish([event])
    pipeline.wait_drained(1)
    assert pipeline.dead_letters() == []
    (contact,) = pipeline.emulator.state()["contacts"]  # no duplicate lead
    assert contact["id"] == existing["id"] and contact["role"] == "user"
    assert (contact["email"], contact["name"]) == ("new@example.com", "Ada Lovelace")
    assert [r for r in routes(pipeline, before) if "data_attributes" not in r] == [
        "POST /contacts/search",
        f"PUT /contacts/{existing['id']}",
    ]
    search = next(c for c in pipeline.emulator.requests() if c["path"] == "/contacts/search")
    assert search["request_body"]["query"] == {"field": "external_id", "operator": "=", "value": "ext-9"}


def test_segment_revenue_lands_as_price_in_cents_with_usd(pipeline: RunningPipeline) -> None:
    pipeline.start()
    events = [
        segment_identify("rev-1", 1, {"email": "rev-1@example.com"}),
        segment_track("rev-1", 2, "Order Completed", {"revenue": 49.99, "currency": None, "order_id": "o-1"}),
        segment_track("rev-1", 3, "Order Refunded", {"revenue": 5, "currency": "EUR"}),
    ]
    pipeline.publish(events)
    pipeline.wait_drained(len(events))
    assert pipeline.dead_letters() == []
    metadata = {e["event_name"].lower(): e["metadata"] for e in events_of(pipeline, "rev-1")}
    assert metadata == {
        "order completed": {"price": {"amount": 4999, "currency": "usd"}, "order_id": "o-1"},
        "order refunded": {"price": {"amount": 500, "currency": "eur"}},
    }


def test_rudderstack_money_object_with_extra_keys_is_delivered_and_the_cut_reported(
    pipeline: RunningPipeline,
) -> None:
    pipeline.start()
    events = [
        rudder_identify("mon-1", 1, {"email": "mon-1@example.com"}),
        rudder_track(
            "mon-1", 2, "Order Completed", {"revenue": {"amount": 2500, "currency": "USD", "test": True}}
        ),
    ]
    pipeline.publish(events)
    pipeline.wait_drained(len(events))
    (event,) = events_of(pipeline, "mon-1")
    assert event["metadata"] == {"revenue": {"amount": 2500, "currency": "USD"}}
    (letter,) = pipeline.dead_letters()  # a report: the event itself was delivered
    assert letter["reason"] == "values_dropped" and letter["user_key"] == "mon-1"
    assert json.loads(letter["details"]) == {"target": "event", "values": {"revenue.test": True}}


def test_email_in_track_properties_is_not_sent_as_metadata(pipeline: RunningPipeline) -> None:
    pipeline.start()
    events = [
        segment_identify("em-1", 1, {"email": "em-1@example.com"}),
        segment_track("em-1", 2, "Signed In", {"email": "em-1@example.com", "method": "sso"}),
        rudder_track("em-1", 3, "Signed Out", {"email": "em-1@example.com"}),
    ]
    pipeline.publish(events)
    pipeline.wait_drained(len(events))
    assert pipeline.dead_letters() == []
    metadata = {e["event_name"].lower(): e.get("metadata") or {} for e in events_of(pipeline, "em-1")}
    assert metadata == {"signed in": {"method": "sso"}, "signed out": {}}


def test_identify_call_economy_new_existing_and_email_only(pipeline: RunningPipeline) -> None:
    emulator = pipeline.emulator
    existing = emulator.api(
        "POST", "/contacts", {"role": "user", "external_id": "old-1", "email": "o@example.com"}
    )
    pipeline.start()
    pipeline.publish([segment_identify("warm-up", 1, {"email": "warm@example.com"})])
    pipeline.wait_drained(1)  # the attribute listing is behind us: what follows is contact calls only

    before = len(emulator.requests())
    pipeline.publish([segment_identify("new-1", 2, {"email": "n@example.com", "name": "New"})])
    pipeline.wait_drained(2)
    assert routes(pipeline, before) == ["POST /contacts"]  # a new user: one call

    before = len(emulator.requests())
    pipeline.publish([rudder_identify("old-1", 3, {"email": "o@example.com", "name": "Old"})])
    pipeline.wait_drained(3)
    # Known to Intercom, not to our tables: the create's 409 names it, then one update.
    assert routes(pipeline, before) == ["POST /contacts", f"PUT /contacts/{existing['id']}"]
    assert [c["status"] for c in emulator.requests()[before:]] == [409, 200]

    before = len(emulator.requests())
    pipeline.publish([segment_identify(None, 4, {"email": "only@example.com"}) | {"anonymousId": None}])
    pipeline.wait_drained(4)
    assert routes(pipeline, before) == ["POST /contacts/search", "POST /contacts"]  # email-only: search

    assert pipeline.dead_letters() == []
    by_id = {c["external_id"]: c for c in emulator.state()["contacts"]}
    assert by_id["old-1"]["name"] == "Old" and by_id["new-1"]["name"] == "New"
    assert len(emulator.state()["contacts"]) == 4
