"""Lead merges, alias, deletion with suppression, and contact tags against a scripted Intercom."""

from __future__ import annotations

from typing import Any

import pytest

from streams.delivery import Executor
from streams.delivery.executor import DeliveryOptions, fingerprint
from streams.errors import ContactPendingError, RejectedError
from streams.events import parse_event
from streams.mapping import Action, Operation, Plan, plan_event
from tests.unit.test_executor import EMPTY, FAST, ScriptedIntercom, error_list, plan

USER = {"type": "contact", "id": "U1", "role": "user", "external_id": "u1"}
FOUND = {"type": "list", "data": [USER], "total_count": 1}
NOT_FOUND = (404, error_list("not_found", "Contact Not Found"))


def merge_plan() -> Any:
    (related,) = plan({"type": "identify", "userId": "u1", "anonymousId": "a1"}).related
    return related


@pytest.mark.parametrize("version", ["2.10", "2.16"])
async def test_known_lead_is_merged_into_the_user_and_the_table_points_at_the_user(version: str) -> None:
    intercom = ScriptedIntercom(
        {"POST /contacts/search": [(200, FOUND)], "POST /contacts/merge": [(200, USER)]}
    )
    contacts: dict[str, Any] = {"a1": {"id": "L1", "role": "lead"}}
    await Executor(intercom, contacts, {}, FAST, options=DeliveryOptions(api_version=version)).execute(
        merge_plan()
    )
    body = intercom.calls[-1][2]
    assert body["from"] == "L1" and body["into"] == "U1"
    assert body.get("skip_duplicate_validation") is (True if version == "2.16" else None)
    assert contacts["a1"] == {"id": "U1", "role": "user", "merged_from": "L1", "fingerprint": {}}


async def test_merge_creates_the_user_first_and_tolerates_a_lead_already_merged() -> None:
    intercom = ScriptedIntercom(
        {
            "POST /contacts/search": [(200, EMPTY)],
            "POST /contacts": [(200, USER)],
            "POST /contacts/merge": [NOT_FOUND],  # Intercom merged it already
        }
    )
    contacts: dict[str, Any] = {"a1": {"id": "L1", "role": "lead"}}
    await Executor(intercom, contacts, {}, FAST).execute(merge_plan())
    assert intercom.routes == ["POST /contacts/search", "POST /contacts", "POST /contacts/merge"]
    assert contacts["a1"]["id"] == "U1"


async def test_merge_of_an_unknown_visitor_makes_no_call() -> None:
    intercom = ScriptedIntercom({})
    await Executor(intercom, {}, {}, FAST).execute(merge_plan())
    assert intercom.calls == []


async def test_alias_of_a_known_user_moves_the_external_id() -> None:
    intercom = ScriptedIntercom({"PUT /contacts/U1": [(200, {**USER, "external_id": "u2"})]})
    contacts: dict[str, Any] = {"u1": {"id": "U1", "role": "user"}}
    delivered = await Executor(intercom, contacts, {}, FAST).execute(
        plan({"type": "alias", "previousId": "u1", "userId": "u2"})
    )
    assert delivered.reports == () and intercom.calls == [("PUT", "/contacts/U1", {"external_id": "u2"})]
    assert "u1" not in contacts


async def test_alias_of_an_unknown_id_waits_for_it() -> None:
    intercom = ScriptedIntercom({"POST /contacts/search": [(200, EMPTY)]})
    with pytest.raises(ContactPendingError) as caught:
        await Executor(intercom, {}, {}, FAST).execute(
            plan({"type": "alias", "previousId": "nobody", "userId": "u2"})
        )
    assert caught.value.reason == "alias_unknown"


async def test_alias_teaches_the_new_id_its_contact() -> None:
    intercom = ScriptedIntercom({"PUT /contacts/C1": [(200, {"id": "C1", "role": "user"})]})
    contacts: dict[str, Any] = {"old": {"id": "C1", "role": "user"}}
    executor = Executor(intercom, contacts, {}, FAST)
    delivered = await executor.execute(plan({"type": "alias", "previousId": "old", "userId": "new"}))
    (follow,) = delivered.follow_ups
    assert follow.user_key == "new" and follow.operations[0].body == {"id": "C1"}
    await executor.execute(follow)  # on the new id's partition: no call, the contact is known
    assert contacts["new"]["id"] == "C1" and "old" not in contacts and intercom.routes == ["PUT /contacts/C1"]


async def test_merge_before_the_lead_exists_binds_the_visitor_to_the_user() -> None:
    intercom = ScriptedIntercom(
        {
            "POST /contacts/search": [(200, {"type": "list", "data": [{"id": "U1", "external_id": "u1"}]})],
            "POST /events": [(202, None)],
        }
    )
    contacts: dict[str, Any] = {}
    executor = Executor(intercom, contacts, {}, FAST)
    (merge,) = plan_event(parse_event({"type": "identify", "userId": "u1", "anonymousId": "a1"})).related
    await executor.execute(merge)
    assert intercom.calls == [] and contacts["a1"]["alias_of"] == "u1"
    # A visit that arrives after the sign-up goes to the user: no lead is ever left unmerged.
    late = {"type": "track", "anonymousId": "a1", "event": "Late", "timestamp": 1}
    await executor.execute(plan(late))
    assert intercom.routes == ["POST /contacts/search", "POST /events"]
    assert intercom.calls[-1][2]["id"] == "U1"


async def test_delete_forgets_suppresses_and_later_events_are_refused() -> None:
    intercom = ScriptedIntercom({"DELETE /contacts/U1": [(200, {"id": "U1", "deleted": True})]})
    contacts: dict[str, Any] = {"u1": {"id": "U1", "role": "user"}}
    suppressed: dict[str, Any] = {}
    executor = Executor(intercom, contacts, {}, FAST, suppressed=suppressed)
    await executor.execute(plan({"type": "delete", "userId": "u1"}))
    assert intercom.routes == ["DELETE /contacts/U1"] and "u1" not in contacts and "u1" in suppressed
    with pytest.raises(RejectedError) as caught:
        await executor.execute(plan({"type": "identify", "userId": "u1"}))
    assert caught.value.reason == "suppressed" and len(intercom.calls) == 1
    await executor.execute(
        plan({"type": "delete", "userId": "u1", "context": {"intercom_stream": {"unsuppress": True}}})
    )
    assert suppressed == {}


async def test_delete_of_an_unknown_or_vanished_user_counts_as_done() -> None:
    intercom = ScriptedIntercom({"POST /contacts/search": [(200, EMPTY)], "DELETE /contacts/U9": [NOT_FOUND]})
    suppressed: dict[str, Any] = {}
    await Executor(intercom, {}, {}, FAST, suppressed=suppressed).execute(
        plan({"type": "delete", "userId": "x"})
    )
    contacts: dict[str, Any] = {"y": {"id": "U9", "role": "user"}}
    await Executor(intercom, contacts, {}, FAST, suppressed=suppressed).execute(
        plan({"type": "delete", "userId": "y"})
    )
    assert set(suppressed) == {"x", "y"} and contacts == {}


async def test_tags_are_created_once_applied_once_and_removed() -> None:
    intercom = ScriptedIntercom(
        {
            "POST /tags": [(200, {"type": "tag", "id": "T1", "name": "vip"})],
            "POST /contacts/U1/tags": [(200, {"type": "tag", "id": "T1"})],
            "DELETE /contacts/U1/tags/T1": [(200, {"type": "tag", "id": "T1"})],
        }
    )
    contacts: dict[str, Any] = {
        "u1": {"id": "U1", "role": "user", "fingerprint": fingerprint({"external_id": "u1", "role": "user"})}
    }
    executor = Executor(intercom, contacts, {}, FAST)
    tag = {"type": "identify", "userId": "u1", "integrations": {"Intercom": {"tags": ["vip"]}}}
    await executor.execute(plan(tag))
    await executor.execute(plan(tag))  # applied already: no call
    untag = {"type": "identify", "userId": "u1", "integrations": {"Intercom": {"untags": ["vip"]}}}
    await executor.execute(plan(untag))
    tag_routes = [r for r in intercom.routes if "tags" in r]
    assert tag_routes == ["POST /tags", "POST /contacts/U1/tags", "DELETE /contacts/U1/tags/T1"]
    assert contacts["u1"]["tags"] == []


# An identify for the new id before its alias (#24): the new id already has a contact of its own.
CONFLICT_C2 = (409, error_list("conflict", "A contact matching those details already exists with id=C2"))
NOW = 1_800_000_000  # the alias's event time, unix seconds
YOUNG = {
    "type": "contact", "id": "C2", "role": "user", "external_id": "new", "email": "p@x.io", "name": "New",
    "created_at": NOW + 5, "custom_attributes": {"plan": "pro"},
    "companies": {"type": "list", "data": [{"type": "company", "id": "CO1"}]},
    "tags": {"type": "list", "data": [{"type": "tag", "id": "T1"}]},
}  # fmt: skip
EVENTS_OF_C2 = "GET /events?type=user&intercom_user_id=C2"
SIGNED_UP = {"event_name": "signed-up", "created_at": NOW + 6, "metadata": {"via": "web"}}


def alias_plan() -> Any:
    return plan({"type": "alias", "previousId": "old", "userId": "new", "timestamp": NOW})


async def test_alias_after_the_new_ids_identify_folds_that_contact_into_the_old_one() -> None:
    intercom = ScriptedIntercom(
        {
            "PUT /contacts/C1": [CONFLICT_C2, (200, {"id": "C1", "role": "user", "external_id": "new"})],
            "GET /contacts/C2": [(200, YOUNG)],
            EVENTS_OF_C2: [(200, {"type": "event.list", "events": [SIGNED_UP], "pages": {"next": None}})],
            "POST /events": [(202, None)],
            "POST /contacts/C1/companies": [(200, {"id": "CO1"})],
            "POST /contacts/C1/tags": [(200, {"id": "T1"})],
            "DELETE /contacts/C2": [(200, {"id": "C2", "deleted": True})],
        }
    )
    # The new id's early identify made C2 (its own partition's table says so).
    contacts: dict[str, Any] = {"old": {"id": "C1", "role": "user"}, "new": {"id": "C2", "role": "user"}}
    executor = Executor(intercom, contacts, {}, FAST)
    delivered = await executor.execute(alias_plan(), event_time=NOW)
    assert intercom.routes == ["PUT /contacts/C1"] and delivered.reports == () and "old" not in contacts
    # The fold goes to the new id's partition, in line with that id's other records.
    (follow,) = delivered.follow_ups
    assert follow.user_key == "new"
    assert [(op.action, op.body) for op in follow.operations] == [
        (Action.FOLD_CONTACT, {"young": "C2", "into": "C1"}),
        (Action.LEARN_CONTACT, {"id": "C1", "replaces": "C2"}),
    ]
    await executor.execute(follow, event_time=NOW)
    assert intercom.routes[1:] == [
        "GET /contacts/C2", EVENTS_OF_C2, "POST /events", "POST /contacts/C1/companies",
        "POST /contacts/C1/tags", "DELETE /contacts/C2", "PUT /contacts/C1",
    ]  # fmt: skip
    # The event moves by Intercom id (same name and created_at: a redo is ignored by Intercom).
    assert intercom.calls[3][2] == {"id": "C1", **SIGNED_UP}
    # The move carries the young contact's profile (it came from the new id's identify).
    assert intercom.calls[-1][2] == {
        "external_id": "new", "email": "p@x.io", "name": "New", "custom_attributes": {"plan": "pro"},
    }  # fmt: skip
    # The new id's entry now names the survivor (fresh: its next identify sends everything).
    assert contacts["new"] == {"id": "C1", "role": "user", "fingerprint": {}}


def fold_plan() -> Plan:
    return Plan(
        "new",
        "alias",
        (
            Operation(Action.FOLD_CONTACT, {"young": "C2", "into": "C1"}),
            Operation(Action.LEARN_CONTACT, {"id": "C1", "replaces": "C2"}),
        ),
    )


async def test_a_redelivered_fold_finds_the_young_contact_gone_and_only_moves() -> None:
    intercom = ScriptedIntercom(
        {"GET /contacts/C2": [NOT_FOUND], "PUT /contacts/C1": [(200, {"id": "C1", "role": "user"})]}
    )
    contacts: dict[str, Any] = {"new": {"id": "C1", "role": "user", "fingerprint": {"name": "n"}}}
    await Executor(intercom, contacts, {}, FAST).execute(fold_plan(), event_time=NOW)
    assert intercom.routes == ["GET /contacts/C2", "PUT /contacts/C1"]
    assert intercom.calls[-1][2] == {"external_id": "new"}
    assert contacts["new"]["fingerprint"] == {"name": "n"}  # learned already: kept as it is


async def test_an_established_contact_for_the_new_id_is_never_deleted() -> None:
    established = {**YOUNG, "created_at": NOW - 30 * 86400}
    intercom = ScriptedIntercom({"GET /contacts/C2": [(200, established)]})
    contacts: dict[str, Any] = {"new": {"id": "C2", "role": "user"}}
    with pytest.raises(RejectedError) as caught:
        await Executor(intercom, contacts, {}, FAST).execute(fold_plan(), event_time=NOW)
    assert caught.value.reason == "alias_conflict"
    assert intercom.routes == ["GET /contacts/C2"]  # nothing moved or deleted
    assert contacts["new"]["id"] == "C2"


async def test_learning_keeps_an_entry_that_names_another_contact() -> None:
    contacts: dict[str, Any] = {"new": {"id": "C7", "role": "user", "fingerprint": {"name": "x"}}}
    executor = Executor(ScriptedIntercom({}), contacts, {}, FAST)
    learn = Plan("new", "alias", (Operation(Action.LEARN_CONTACT, {"id": "C1", "replaces": "C2"}),))
    await executor.execute(learn)
    assert contacts["new"]["id"] == "C7"


async def test_alias_of_a_lead_after_the_new_ids_identify_merges_into_that_contact() -> None:
    new_user = {"type": "contact", "id": "C2", "role": "user", "external_id": "new"}
    intercom = ScriptedIntercom(
        {
            "POST /contacts/search": [(200, {"type": "list", "data": [new_user], "total_count": 1})],
            "POST /contacts/merge": [(200, new_user)],
        }
    )
    contacts: dict[str, Any] = {"old": {"id": "L1", "role": "lead"}, "new": {"id": "C2", "role": "user"}}
    executor = Executor(intercom, contacts, {}, FAST)
    delivered = await executor.execute(alias_plan(), event_time=NOW)
    assert intercom.calls[-1][2] == {"from": "L1", "into": "C2"}
    (follow,) = delivered.follow_ups
    await executor.execute(follow)
    assert contacts["new"]["id"] == "C2" and contacts["old"]["id"] == "C2"


async def test_the_fold_follows_the_event_pages() -> None:
    page_2 = "/events?type=user&intercom_user_id=C2&before=1"
    later = {"event_name": "paid", "created_at": NOW + 9}
    bare = {**YOUNG, "companies": {"data": []}, "tags": {"data": []}}
    intercom = ScriptedIntercom(
        {
            "GET /contacts/C2": [(200, bare)],
            EVENTS_OF_C2: [
                (200, {"events": [SIGNED_UP], "pages": {"next": f"https://api.intercom.io{page_2}"}})
            ],
            f"GET {page_2}": [(200, {"events": [later], "pages": {}})],
            "POST /events": [(202, None)],
            "DELETE /contacts/C2": [NOT_FOUND],  # gone meanwhile: the deletion is true
            "PUT /contacts/C1": [(200, {"id": "C1", "role": "user"})],
        }
    )
    await Executor(intercom, {}, {}, FAST).execute(fold_plan(), event_time=NOW)
    posted = [body["event_name"] for method, path, body in intercom.calls if path == "/events"]
    assert posted == ["signed-up", "paid"] and intercom.routes[-1] == "PUT /contacts/C1"
