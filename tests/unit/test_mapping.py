import pytest

from streams.errors import InvalidEventError
from streams.events import parse_event
from streams.mapping import Action, plan_event
from streams.mapping.timestamps import to_unix_seconds


def plan(raw: dict):  # type: ignore[no-untyped-def]
    return plan_event(parse_event(raw))


def test_identify_maps_standard_fields_and_custom_attributes() -> None:
    result = plan(
        {
            "type": "identify",
            "userId": "u1",
            "traits": {
                "email": "Ada@Example.com",
                "firstName": "Ada",
                "lastName": "Lovelace",
                "createdAt": "2024-01-01T00:00:00Z",
                "plan": "pro",
                "address": {"city": "London"},
                "tags": ["a", "b"],
                "company": {"id": "c1"},
            },
            "context": {"traits": {"phone": "+44 1"}},
        }
    )
    (op,) = result.operations
    assert op.action is Action.UPSERT_CONTACT
    assert op.body == {
        "external_id": "u1",
        "role": "user",
        "email": "Ada@Example.com",
        "phone": "+44 1",
        "name": "Ada Lovelace",
        "signed_up_at": 1704067200,
        "custom_attributes": {"plan": "pro", "address_city": "London", "tags": '["a","b"]'},
    }
    assert op.contact is not None and op.contact.user_id == "u1" and op.contact.email == "Ada@Example.com"


def test_identify_without_user_id_is_a_lead() -> None:
    (op,) = plan({"type": "identify", "anonymousId": "a1", "traits": {"name": "Visitor"}}).operations
    assert op.body == {"role": "lead", "name": "Visitor"}
    assert op.contact is not None and op.contact.is_lead


def test_track_keeps_money_and_links_flattens_the_rest() -> None:
    (op,) = plan(
        {
            "type": "track",
            "userId": "u1",
            "event": "Order Completed",
            "timestamp": 1_700_000_000_123,
            "properties": {
                "revenue": {"amount": 4999, "currency": "usd"},
                "link": {"url": "https://x.io", "value": "X"},
                "shipping": {"city": "Paris"},
                "items": [1, 2],
            },
        }
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


def test_track_needs_a_name() -> None:
    with pytest.raises(InvalidEventError, match="no 'event' name"):
        plan({"type": "track", "userId": "u1", "timestamp": 1})


def test_group_upserts_then_attaches() -> None:
    result = plan(
        {
            "type": "group",
            "userId": "u1",
            "groupId": "acme",
            "traits": {"name": "Acme", "employees": "12", "tier": 2},
        }
    )
    upsert, attach = result.operations
    assert upsert.action is Action.UPSERT_COMPANY
    assert upsert.body == {"company_id": "acme", "name": "Acme", "size": 12, "custom_attributes": {"tier": 2}}
    assert attach.action is Action.ATTACH_COMPANY and attach.company_id == "acme"


def test_group_needs_group_id() -> None:
    with pytest.raises(InvalidEventError, match="groupId"):
        plan({"type": "group", "userId": "u1"})


def test_types_without_a_mapping_are_reported_not_dropped() -> None:
    with pytest.raises(InvalidEventError) as caught:
        plan({"type": "page", "userId": "u1", "name": "Home"})
    assert caught.value.reason == "unsupported_type"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-01T00:00:00Z", 1704067200),
        ("2024-01-01T01:00:00+01:00", 1704067200),
        (1704067200, 1704067200),
        (1704067200123, 1704067200),
        ("1704067200", 1704067200),
        ("yesterday", None),
        (None, None),
        (True, None),
    ],
)
def test_timestamps(value: object, expected: int | None) -> None:
    assert to_unix_seconds(value) == expected
