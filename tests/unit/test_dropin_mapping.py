"""Drop-in for Segment and RudderStack users (#14): the pure functions behind each behaviour."""

from __future__ import annotations

from typing import Any

import pytest

from streams.events import parse_event
from streams.mapping import Action, MappingOptions, Plan, plan_event
from streams.mapping.integrations import integrations_problem, intercom_enabled
from streams.mapping.money import convert_revenue, reduce_objects
from streams.mapping.track import event_metadata

T0 = "2026-11-20T10:00:00Z"


def plan(raw: dict[str, Any], **options: Any) -> Plan:
    return plan_event(parse_event(raw), MappingOptions(**options))


# -- 1. the integrations object -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("integrations", "enabled"),
    [
        ({}, True),
        ({"All": True}, True),
        ({"All": False}, False),
        ({"Intercom": False}, False),
        ({"intercom": False}, False),
        ({"INTERCOM": "false"}, False),
        ({"All": False, "Intercom": True}, True),
        ({"All": False, "Intercom": {"lookup": "phone"}}, True),  # an options object enables
        ({"All": True, "Intercom": False}, False),
        ({"All": False, "Intercom": None}, False),  # an explicit null says nothing
        ({"Intercom": None}, True),
        ({"Salesforce": False}, True),
    ],
)
def test_intercom_entry_overrides_all_which_defaults_to_true(
    integrations: dict[str, Any], enabled: bool
) -> None:
    assert intercom_enabled(integrations) is enabled
    assert (integrations_problem(integrations) is None) is enabled


@pytest.mark.parametrize("kind", ["identify", "track", "group", "alias", "delete"])
def test_withheld_events_plan_nothing_with_their_own_reason(kind: str) -> None:
    raw = {"type": kind, "userId": "u1", "previousId": "u0", "event": "E", "groupId": "g1", "timestamp": T0}
    result = plan({**raw, "integrations": {"All": False}})
    assert result.filtered == "integration_disabled" and result.operations == ()
    assert plan({**raw, "integrations": {"All": False, "Intercom": True}}).filtered is None


# -- 2. traits from traits, then context.traits ---------------------------------------------------


def test_rudderstack_context_traits_fill_the_contact_and_explicit_nulls_fall_through() -> None:
    raw = {
        "type": "identify",
        "userId": "u1",
        "timestamp": T0,
        "traits": {"name": None, "plan": None},
        "context": {"traits": {"email": "r@x.io", "name": "Rudder", "plan": "pro", "colour": None}},
    }
    (upsert,) = plan(raw).operations
    assert upsert.body == {
        "external_id": "u1",
        "email": "r@x.io",
        "name": "Rudder",
        "role": "user",
        "custom_attributes": {"plan": "pro", "colour": None},  # null everywhere: it clears
    }


def test_lookup_external_id_reads_context_traits() -> None:
    raw = {
        "type": "identify",
        "anonymousId": "anon-1",
        "timestamp": T0,
        "integrations": {"Intercom": {"lookup": "external_id"}},
        "context": {"traits": {"external_id": "ext-9", "email": "e@x.io"}},
    }
    (upsert,) = plan(raw).operations
    assert upsert.contact is not None
    assert (upsert.contact.lookup, upsert.contact.lookup_value) == ("external_id", "ext-9")
    assert upsert.body["external_id"] == "ext-9" and upsert.body["role"] == "user"


def test_lookup_of_a_named_trait_reads_context_traits() -> None:
    raw = {
        "type": "identify",
        "userId": "u1",
        "timestamp": T0,
        "integrations": {"intercom": {"lookup": "phone"}},
        "context": {"traits": {"phone": "+4412"}},
    }
    (upsert,) = plan(raw).operations
    assert upsert.contact is not None and upsert.contact.lookup_value == "+4412"


# -- 3, 4, 5. track metadata ----------------------------------------------------------------------


def test_revenue_becomes_segments_price_with_usd_by_default() -> None:
    assert convert_revenue({"revenue": 49.99, "sku": "s"}) == (
        {"price": {"amount": 4999, "currency": "usd"}, "sku": "s"},
        [],
    )
    metadata, reports = convert_revenue({"revenue": "10", "currency": "EUR"}, revenue_key="revenue")
    assert metadata == {"revenue": {"amount": 1000, "currency": "eur"}} and reports == []


def test_revenue_replacing_a_price_property_reports_it() -> None:
    metadata, (report,) = convert_revenue({"price": "cheap", "revenue": 5})
    assert metadata == {"price": {"amount": 500, "currency": "usd"}}
    assert report.reason == "values_dropped" and report.details["values"] == {"price": "cheap"}


def test_money_and_link_objects_keep_only_what_intercom_accepts() -> None:
    values, (report,) = reduce_objects(
        {
            "revenue": {"amount": 100, "currency": "usd", "test": True},
            "link": {"url": "https://x.io", "value": "X", "rel": "a"},
            "plain": {"a": 1},
        }
    )
    assert values == {
        "revenue": {"amount": 100, "currency": "usd"},
        "link": {"url": "https://x.io", "value": "X"},
        "plain": {"a": 1},
    }
    assert report.reason == "values_dropped"
    assert report.details == {"target": "event", "values": {"revenue.test": True, "link.rel": "a"}}
    assert reduce_objects({"n": 1}) == ({"n": 1}, [])


def test_track_metadata_leaves_out_the_email_unless_asked() -> None:
    properties = {"email": "a@x.io", "n": 1}
    assert event_metadata(properties)[0] == {"n": 1}
    assert event_metadata(properties, MappingOptions(track_email_metadata=True))[0] == properties


def test_rudderstack_money_object_is_delivered_reduced_with_a_report() -> None:
    raw = {
        "type": "track",
        "userId": "u1",
        "event": "Order Completed",
        "timestamp": T0,
        "properties": {"revenue": {"amount": 2500, "currency": "USD", "test": True}, "email": "a@x.io"},
    }
    result = plan(raw)
    (op,) = result.operations
    assert op.action is Action.TRACK_EVENT
    assert op.body["metadata"] == {"revenue": {"amount": 2500, "currency": "USD"}}
    assert [r.reason for r in result.reports] == ["values_dropped"]
