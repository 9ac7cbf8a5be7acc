"""The pure mapping, field by field and option by option, with exact request bodies (snapshot style)."""

from __future__ import annotations

from typing import Any

import pytest

from streams.errors import InvalidEventError
from streams.events import parse_event
from streams.mapping import Action, MappingOptions, Plan, plan_event
from streams.mapping.company import stable_company_id
from streams.mapping.options import split_list
from streams.mapping.timestamps import to_unix_seconds

T0 = "2024-01-01T00:00:00Z"
S0 = 1704067200


def plan(raw: dict[str, Any], **options: Any) -> Plan:
    return plan_event(parse_event(raw), MappingOptions(**options))


def identify(traits: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"type": "identify", "userId": "u1", "timestamp": T0, "traits": traits or {}, **extra}


def contact(raw: dict[str, Any], **options: Any) -> dict[str, Any]:
    result = plan(raw, **options)
    assert result.operations[0].action is Action.UPSERT_CONTACT
    return result.operations[0].body


# -- identify → contact -------------------------------------------------------------------------


def test_identify_maps_standard_fields_and_custom_attributes() -> None:
    result = plan(
        identify(
            {
                "email": "Ada@Example.com",
                "firstName": "Ada",
                "lastName": "Lovelace",
                "createdAt": T0,
                "plan": "pro",
                "address": {"city": "London"},
                "tags": ["a", "b"],
            },
            context={"traits": {"phone": "+44 1"}},
        )
    )
    (op,) = result.operations
    assert op.action is Action.UPSERT_CONTACT
    assert op.body == {
        "external_id": "u1",
        "role": "user",
        "email": "Ada@Example.com",
        "phone": "+44 1",
        "name": "Ada Lovelace",
        "signed_up_at": S0,
        "custom_attributes": {"plan": "pro", "address_city": "London", "tags": '["a","b"]'},
    }
    assert op.contact is not None and op.contact.user_id == "u1" and op.contact.email == "Ada@Example.com"
    assert result.reports == ()


def test_identify_every_standard_field() -> None:
    body = contact(
        identify(
            {
                "email": "a@x.io",
                "phone": "+1",
                "name": "Ada",
                "avatar": "https://x.io/a.png",
                "role": "user",
                "ownerId": "13",
                "createdAt": 1704067200123,
                "lastSeenAt": "1704067200",
                "unsubscribedFromEmails": False,
            }
        )
    )
    assert body == {
        "external_id": "u1",
        "email": "a@x.io",
        "phone": "+1",
        "name": "Ada",
        "avatar": "https://x.io/a.png",
        "role": "user",
        "owner_id": 13,
        "signed_up_at": S0,
        "last_seen_at": S0,
        "unsubscribed_from_emails": False,
    }


@pytest.mark.parametrize(
    ("where", "key"),
    [("traits", "userId"), ("traits", "id"), ("context.traits", "userId"), ("context.traits", "id")],
)
def test_external_id_falls_back_to_traits(where: str, key: str) -> None:
    raw: dict[str, Any] = {"type": "identify", "anonymousId": "a1", "traits": {}, "context": {"traits": {}}}
    if where == "traits":
        raw["traits"][key] = 42
    else:
        raw["context"]["traits"][key] = 42
    result = plan(raw)
    assert result.operations[0].body == {"external_id": "42", "role": "user"}
    assert result.operations[0].contact is not None and result.operations[0].contact.user_id == "42"


@pytest.mark.parametrize(
    ("traits", "name"),
    [
        ({"firstName": "Ada", "lastName": "L"}, "Ada L"),
        ({"firstname": "Ada", "lastname": "L"}, "Ada L"),
        ({"first_name": "Ada", "last_name": "L"}, "Ada L"),
        ({"first_name": "Ada"}, "Ada"),
        ({"lastName": "L"}, "L"),
        ({"name": "Full", "firstName": "Ada"}, "Full"),
    ],
)
def test_name_spellings(traits: dict[str, Any], name: str) -> None:
    body = contact(identify(traits))
    assert body["name"] == name
    assert "custom_attributes" not in body  # the spellings are reserved, never attributes


@pytest.mark.parametrize("key", ["avatar", "avatarURL", "avatar_URL", "avatarUrl"])
def test_avatar_spellings(key: str) -> None:
    assert contact(identify({key: "https://x.io/a.png"})) == {
        "external_id": "u1", "role": "user", "avatar": "https://x.io/a.png",
    }  # fmt: skip


def test_role_lead_without_user_id_and_explicit_role() -> None:
    result = plan({"type": "identify", "anonymousId": "a1", "traits": {"name": "Visitor"}})
    (op,) = result.operations
    assert op.body == {"role": "lead", "name": "Visitor"}
    assert op.contact is not None and op.contact.is_lead
    assert contact(identify({"role": "LEAD"}))["role"] == "lead"
    assert contact(identify({"role": "admin"}))["role"] == "user"  # not an Intercom role: default


def test_owner_id_is_an_int_under_2_10_and_a_string_under_2_16() -> None:
    assert contact(identify({"ownerId": "13"}))["owner_id"] == 13
    assert contact(identify({"ownerId": 13}), api_version="2.16")["owner_id"] == "13"


@pytest.mark.parametrize(
    "raw",
    [
        identify({"unsubscribedFromEmails": True}),
        identify({}, context={"Intercom": {"unsubscribedFromEmails": True}}),
        identify({}, integrations={"Intercom": {"unsubscribedFromEmails": True}}),
        identify({}, integrations={"intercom": {"unsubscribed": "true"}}),
    ],
)
def test_unsubscribed_from_every_source(raw: dict[str, Any]) -> None:
    assert contact(raw) == {"external_id": "u1", "role": "user", "unsubscribed_from_emails": True}


def test_last_seen_rules() -> None:
    seen = identify({"lastSeenAt": "2024-01-02T00:00:00Z"})
    assert contact(seen)["last_seen_at"] == S0 + 86400
    # context.active false never moves last seen, whatever the traits or options say
    inactive = {**seen, "context": {"active": False}}
    assert "last_seen_at" not in contact(inactive)
    assert "last_seen_at" not in contact(inactive, update_last_seen=True)
    # the option: the event time on every identify (an explicit lastSeenAt still wins)
    assert "last_seen_at" not in contact(identify({}))
    assert contact(identify({}), update_last_seen=True)["last_seen_at"] == S0
    assert contact(seen, update_last_seen=True)["last_seen_at"] == S0 + 86400


def test_reserved_traits_are_removed_even_when_falsy() -> None:
    body = contact(
        identify(
            {"unsubscribedFromEmails": None, "email": "", "name": None, "createdAt": 0, "anonymousId": "x",
             "role": "", "ownerId": None, "id": "u1", "age": 3}
        )
    )  # fmt: skip
    assert body["custom_attributes"] == {"age": 3}


def test_custom_attributes_root_traits_win_over_context_traits_and_nesting_is_flattened() -> None:
    body = contact(
        identify(
            {"plan": "pro", "address": {"city": "Paris", "geo": {"lat": 1.5}}},
            context={"traits": {"plan": "free", "age": 30}},
        )
    )
    assert body["custom_attributes"] == {
        "plan": "pro",
        "age": 30,
        "address_city": "Paris",
        "address_geo_lat": 1.5,
    }


def test_array_policy() -> None:
    raw = identify({"tags": ["a", 1], "ok": 1})
    assert contact(raw)["custom_attributes"] == {"tags": '["a",1]', "ok": 1}
    result = plan(raw, array_policy="drop")
    assert result.operations[0].body["custom_attributes"] == {"ok": 1}
    (report,) = result.reports
    assert report.reason == "values_dropped" and report.details["values"] == {"tags": ["a", 1]}


def test_long_strings_are_truncated_and_reported_by_default() -> None:
    long = "x" * 300
    result = plan(identify({"bio": long}))
    assert result.operations[0].body["custom_attributes"] == {"bio": "x" * 255}
    (report,) = result.reports
    assert report.reason == "values_truncated" and report.details == {
        "target": "contact",
        "values": {"bio": long},
    }
    dropped = plan(identify({"bio": long}), long_string_policy="drop")
    assert "custom_attributes" not in dropped.operations[0].body
    assert dropped.reports[0].reason == "values_dropped"


def test_collect_context_adds_device_os_and_app() -> None:
    context = {
        "device": {"type": "ios", "manufacturer": "Apple", "model": "iPhone15,2"},
        "os": {"name": "iOS", "version": "17.1"},
        "app": {"name": "Shop", "version": "2.3"},
    }
    raw = identify({}, context=context)
    assert "custom_attributes" not in contact(raw)
    assert contact(raw, collect_context=True)["custom_attributes"] == {
        "device_type": "ios",
        "device_manufacturer": "Apple",
        "device_model": "iPhone15,2",
        "os_name": "iOS",
        "os_version": "17.1",
        "app_name": "Shop",
        "app_version": "2.3",
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-01T00:00:00Z", S0),
        ("2024-01-01T01:00:00+01:00", S0),
        (S0, S0),
        (S0 * 1000 + 123, S0),
        (float(S0), S0),
        ("1704067200", S0),
        ("1704067200123", S0),
        ("yesterday", None),
        ("", None),
        (None, None),
        (True, None),
    ],
)
def test_timestamps(value: object, expected: int | None) -> None:
    assert to_unix_seconds(value) == expected


def test_lookup_override_searches_by_the_named_field() -> None:
    raw = identify({"phone": "+1 555"}, integrations={"Intercom": {"lookup": "phone"}})
    ref = plan(raw).operations[0].contact
    assert ref is not None and (ref.lookup, ref.lookup_value) == ("phone", "+1 555")
    ref = plan(identify({}, integrations={"INTERCOM": {"lookup": "userId"}})).operations[0].contact
    assert ref is not None and (ref.lookup, ref.lookup_value) == ("external_id", "u1")
    ref = plan(identify({})).operations[0].contact
    assert ref is not None and (ref.lookup, ref.lookup_value) == ("external_id_or_email", None)


# -- identify → companies ---------------------------------------------------------------------------


def test_identify_company_object_is_upserted_and_attached() -> None:
    result = plan(identify({"company": {"id": 7, "name": "Acme", "plan": "pro", "employees": 50, "tier": 2}}))
    upsert_contact, upsert, attach = result.operations
    assert "custom_attributes" not in upsert_contact.body  # company is never a contact attribute
    assert (upsert.action, upsert.company_id) == (Action.UPSERT_COMPANY, "7")
    assert upsert.body == {"company_id": "7", "name": "Acme", "plan": "pro", "size": 50,
                           "custom_attributes": {"tier": 2}}  # fmt: skip
    assert (attach.action, attach.company_id, attach.body) == (Action.ATTACH_COMPANY, "7", {})


def test_identify_string_company_gets_a_stable_id() -> None:
    result = plan(identify({"company": "Acme"}))
    company_id = stable_company_id("Acme")
    assert company_id == "79d894520f4f94c267986a819e110bec"  # md5(name), as Segment classic
    assert result.operations[1].body == {"company_id": company_id, "name": "Acme"}
    assert plan(identify({"company": "Acme"})).operations[1].company_id == company_id  # stable


def test_identify_companies_list_and_remove_detaches() -> None:
    result = plan(identify({"companies": [{"id": "a"}, {"id": "b", "remove": True}, {"plan": "x"}, 5]}))
    assert [(op.action, op.company_id) for op in result.operations] == [
        (Action.UPSERT_CONTACT, None),
        (Action.UPSERT_COMPANY, "a"),
        (Action.ATTACH_COMPANY, "a"),
        (Action.DETACH_COMPANY, "b"),
    ]


# -- track → event ----------------------------------------------------------------------------------


def track(properties: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"type": "track", "userId": "u1", "event": "Order Completed", "timestamp": T0,
            "properties": properties or {}, **extra}  # fmt: skip


def test_track_keeps_money_and_links_flattens_the_rest() -> None:
    (op,) = plan(
        track(
            {
                "revenue": {"amount": 4999, "currency": "usd"},
                "link": {"url": "https://x.io", "value": "X"},
                "shipping": {"city": "Paris"},
                "items": [1, 2],
            },
            timestamp=1_700_000_000_123,
        )
    ).operations
    assert op.action is Action.TRACK_EVENT
    assert op.body == {
        "event_name": "Order Completed",
        "created_at": 1_700_000_000,
        "user_id": "u1",
        "metadata": {
            "revenue": {"amount": 4999, "currency": "usd"},
            "link": {"url": "https://x.io", "value": "X"},
            "shipping_city": "Paris",
            "items": "[1,2]",
        },
    }


def test_track_plain_amounts_with_currency_become_cents() -> None:
    (op,) = plan(track({"revenue": 49.99, "total": 10, "currency": "EUR", "sku": "s1"})).operations
    assert op.body["metadata"] == {
        "price": {"amount": 4999, "currency": "eur"},  # Segment's key for revenue
        "total": {"amount": 1000, "currency": "eur"},
        "sku": "s1",
    }
    (op,) = plan(track({"price": 9.5})).operations  # no currency: a plain number stays one
    assert op.body["metadata"] == {"price": 9.5}


def test_track_date_keys_become_unix_seconds() -> None:
    (op,) = plan(
        track({"renewal_date": T0, "trial": {"end_date": S0 * 1000}, "note_date": "soon"})
    ).operations
    assert op.body["metadata"] == {"renewal_date": S0, "trial_end_date": S0, "note_date": "soon"}


def test_track_metadata_limit_keeps_priority_keys_and_reports_the_rest() -> None:
    properties = {f"k{i}": i for i in range(12)}
    result = plan(track(properties), metadata_priority=("k11", "missing", "k10"))
    metadata = result.operations[0].body["metadata"]
    assert list(metadata) == ["k11", "k10", "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"]
    (report,) = result.reports
    assert report.reason == "metadata_trimmed" and report.details["values"] == {"k8": 8, "k9": 9}


def test_track_long_strings_truncated_and_reported() -> None:
    result = plan(track({"note": "y" * 256}))
    assert result.operations[0].body["metadata"] == {"note": "y" * 255}
    assert [r.reason for r in result.reports] == ["values_truncated"]


def test_track_addressing() -> None:
    (op,) = plan(track({}, context={"traits": {"email": "a@x.io"}})).operations
    assert op.body["user_id"] == "u1" and "email" not in op.body
    (op,) = plan(
        {"type": "track", "event": "E", "timestamp": 1, "properties": {"email": "a@x.io"}}
    ).operations
    # The email addresses the event; like Segment, it is not repeated as metadata.
    assert op.body == {"event_name": "E", "created_at": 1, "email": "a@x.io"}
    assert op.contact is not None and op.contact.email == "a@x.io" and op.contact.user_id is None
    (lead, op) = plan({"type": "track", "anonymousId": "a1", "event": "E", "timestamp": 1}).operations
    assert lead.action is Action.ENSURE_LEAD  # anonymous_policy=lead: the visitor's lead on first use
    assert op.body == {"event_name": "E", "created_at": 1}  # the sink adds the lead's Intercom id
    assert op.contact is not None and op.contact.is_lead


def test_track_allow_and_deny_lists() -> None:
    assert plan(track(), event_denylist=("Order *",)).operations == ()
    assert plan(track(), event_allowlist=("Signed Up",)).operations == ()
    assert len(plan(track(), event_allowlist=("Order Completed",)).operations) == 1
    assert len(plan(track(), event_allowlist=("Order*",), event_denylist=("Other",)).operations) == 1
    assert plan(track(), event_allowlist=("Order*",), event_denylist=("Order Completed",)).operations == ()


def test_track_needs_a_name_and_a_time() -> None:
    with pytest.raises(InvalidEventError, match="no 'event' name"):
        plan({"type": "track", "userId": "u1", "timestamp": 1})
    with pytest.raises(InvalidEventError, match="timestamp"):
        plan({"type": "track", "userId": "u1", "event": "E"})


# -- group → company --------------------------------------------------------------------------------


def test_group_upserts_tags_then_attaches() -> None:
    result = plan(
        {
            "type": "group",
            "userId": "u1",
            "groupId": "acme",
            "traits": {
                "name": "Acme", "plan": "enterprise", "employees": "12", "website": "https://acme.io",
                "industry": "CDP", "monthlySpend": 99.9, "createdAt": T0, "tier": 2,
                "hq": {"city": "Oslo"}, "tags": ["vip", "beta", "vip"], "email": "ops@acme.io",
            },
        }
    )  # fmt: skip
    upsert, tag1, tag2, attach = result.operations
    assert upsert.action is Action.UPSERT_COMPANY
    assert upsert.body == {
        "company_id": "acme", "name": "Acme", "plan": "enterprise", "size": 12, "website": "https://acme.io",
        "industry": "CDP", "monthly_spend": 99, "remote_created_at": S0,
        "custom_attributes": {"tier": 2, "hq_city": "Oslo"},
    }  # fmt: skip
    assert [(t.action, t.body, t.company_id) for t in (tag1, tag2)] == [
        (Action.TAG_COMPANY, {"name": "vip"}, "acme"),
        (Action.TAG_COMPANY, {"name": "beta"}, "acme"),
    ]
    assert attach.action is Action.ATTACH_COMPANY and attach.company_id == "acme"
    assert attach.contact is not None and attach.contact.user_id == "u1"


def test_group_comma_separated_tags_and_long_values() -> None:
    result = plan({"type": "group", "userId": "u1", "groupId": 5, "traits": {"tags": "a, b", "d": "z" * 300}})
    assert [op.body for op in result.operations[1:3]] == [{"name": "a"}, {"name": "b"}]
    assert result.operations[0].body == {"company_id": "5", "custom_attributes": {"d": "z" * 255}}
    assert result.reports[0].details["target"] == "company"


def test_group_needs_group_id() -> None:
    with pytest.raises(InvalidEventError, match="groupId"):
        plan({"type": "group", "userId": "u1"})


def test_pages_and_screens_are_ignored_by_default_and_counted_as_filtered() -> None:
    result = plan({"type": "page", "userId": "u1", "name": "Home"})
    assert result.operations == () and result.filtered == "page_ignored"
    assert plan({"type": "screen", "userId": "u1", "name": "Home"}).filtered == "screen_ignored"


def test_plans_round_trip_through_records() -> None:
    from streams.mapping.plan import Operation, Report

    result = plan(
        identify({"company": "Acme", "bio": "x" * 300}, integrations={"Intercom": {"lookup": "email"}})
    )
    for op in result.operations:
        assert Operation.from_record(op.to_record()) == op
    for report in result.reports:
        assert Report.from_json(report.to_json()) == report


def test_split_list() -> None:
    assert split_list(" a, b ,,c ") == ("a", "b", "c") and split_list(None) == ()
