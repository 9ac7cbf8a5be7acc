"""Lead merges, alias, deletion with suppression, and contact tags against a scripted Intercom."""

from __future__ import annotations

from typing import Any

import pytest

from streams.delivery import Executor
from streams.delivery.executor import DeliveryOptions, fingerprint
from streams.errors import RejectedError
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
    reports = await Executor(intercom, contacts, {}, FAST).execute(
        plan({"type": "alias", "previousId": "u1", "userId": "u2"})
    )
    assert reports == [] and intercom.calls == [("PUT", "/contacts/U1", {"external_id": "u2"})]
    assert "u1" not in contacts


async def test_alias_of_an_unknown_id_is_reported() -> None:
    intercom = ScriptedIntercom({"POST /contacts/search": [(200, EMPTY)]})
    (report,) = await Executor(intercom, {}, {}, FAST).execute(
        plan({"type": "alias", "previousId": "nobody", "userId": "u2"})
    )
    assert report.reason == "alias_unknown"


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
