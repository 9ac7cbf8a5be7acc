"""page/screen, alias, delete, anonymous visitors, consent and contact tags: what the mapping plans."""

from __future__ import annotations

from typing import Any

import pytest

from streams.errors import InvalidEventError
from streams.events import parse_event
from streams.mapping import Action, MappingOptions, Plan, plan_event

T0 = "2026-11-20T10:00:00Z"


def plan(raw: dict[str, Any], **options: Any) -> Plan:
    return plan_event(parse_event({"timestamp": T0, **raw}), MappingOptions(**options))


def test_page_and_screen_tracked_with_templates_and_filters() -> None:
    page = plan(
        {"type": "page", "userId": "u1", "name": "Pricing", "properties": {"url": "/p"}}, page_policy="track"
    )
    (op,) = page.operations
    assert op.action is Action.TRACK_EVENT
    assert op.body["event_name"] == "Viewed Pricing Page" and op.body["metadata"] == {"url": "/p"}
    screen = plan({"type": "screen", "userId": "u1", "name": "Home"}, page_policy="track",
                  screen_event_template="App {name}")  # fmt: skip
    assert screen.operations[0].body["event_name"] == "App Home"
    unnamed = plan({"type": "page", "userId": "u1"}, page_policy="track")
    assert unnamed.operations[0].body["event_name"] == "Viewed Page"
    denied = plan(
        {"type": "page", "userId": "u1", "name": "X"}, page_policy="track", event_denylist=("Viewed *",)
    )
    assert denied.filtered == "event_filtered"


def test_anonymous_policies() -> None:
    track = {"type": "track", "anonymousId": "a1", "event": "Clicked"}
    lead = plan(track)
    assert [op.action for op in lead.operations] == [Action.ENSURE_LEAD, Action.TRACK_EVENT]
    assert lead.user_key == "a1"
    as_user = plan(track, anonymous_policy="external_id")
    assert [op.action for op in as_user.operations] == [Action.TRACK_EVENT]
    assert as_user.operations[0].body["user_id"] == "a1"
    assert plan(track, anonymous_policy="skip").filtered == "anonymous_skipped"
    identify = plan({"type": "identify", "anonymousId": "a1"}, anonymous_policy="external_id")
    assert identify.operations[0].body == {"external_id": "a1", "role": "user"}


def test_identify_with_both_ids_plans_the_lead_merge_under_the_anonymous_id() -> None:
    result = plan({"type": "identify", "userId": "u1", "anonymousId": "a1", "traits": {"email": "e@x.io"}})
    (related,) = result.related
    assert related.user_key == "a1" and related.operations[0].action is Action.MERGE_LEAD
    assert related.operations[0].contact is not None and related.operations[0].contact.user_id == "u1"
    assert (
        plan({"type": "identify", "userId": "u1", "anonymousId": "a1"}, anonymous_policy="skip").related == ()
    )


def test_alias_is_keyed_by_the_previous_id() -> None:
    result = plan({"type": "alias", "userId": "u2", "previousId": "u1"})
    assert result.user_key == "u1"
    assert result.operations[0].action is Action.ALIAS and result.operations[0].body == {"user_id": "u2"}
    assert plan({"type": "alias", "userId": "u1", "previousId": "u1"}).filtered == "alias_noop"
    with pytest.raises(InvalidEventError):
        plan({"type": "alias", "userId": "u1"})


def test_delete_and_unsuppress() -> None:
    assert plan({"type": "delete", "userId": "u1"}).operations[0].action is Action.DELETE_CONTACT
    lift = plan({"type": "delete", "userId": "u1", "context": {"intercom_stream": {"unsuppress": True}}})
    assert lift.operations[0].action is Action.UNSUPPRESS


def test_consent_categories() -> None:
    need = {"consent_categories": ("analytics",)}
    track = {"type": "track", "userId": "u1", "event": "E"}
    allowed = {"consentManagement": {"allowedConsentIds": ["Analytics"], "deniedConsentIds": []}}
    assert plan({**track, "context": allowed}, **need).filtered is None
    denied = {"consentManagement": {"allowedConsentIds": ["ads"], "deniedConsentIds": ["analytics"]}}
    assert plan({**track, "context": denied}, **need).filtered == "consent_denied"
    assert plan(track, **need).filtered == "consent_denied"  # not granted
    segment = {"consent": {"categoryPreferences": {"analytics": True}}}
    assert plan({**track, "context": segment}, **need).filtered is None
    assert plan({"type": "delete", "userId": "u1"}, **need).filtered is None  # deletion is never held back
    assert plan(track).filtered is None  # no categories configured: no check


def test_contact_tags_from_integrations() -> None:
    tags = {"Intercom": {"tags": ["vip", {"name": "trial", "untag": True}, "vip"], "untags": "old, older"}}
    result = plan({"type": "identify", "userId": "u1", "integrations": tags})
    ops = [(op.action, op.body["name"]) for op in result.operations[1:]]
    assert ops == [
        (Action.TAG_CONTACT, "vip"), (Action.UNTAG_CONTACT, "trial"),
        (Action.UNTAG_CONTACT, "old"), (Action.UNTAG_CONTACT, "older"),
    ]  # fmt: skip
    by_id = plan(
        {"type": "identify", "userId": "u1", "integrations": {"Intercom": {"tags": "x", "contactId": "c9"}}}
    )
    assert by_id.operations[1].body == {"name": "x", "contact_id": "c9"}
