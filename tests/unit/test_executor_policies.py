"""The executor's fallbacks against a scripted Intercom: attributes Intercom will not create, a detach of
a company the table does not know, and Intercom's own 422 on the 121st event name."""

from __future__ import annotations

from typing import Any

import pytest

from streams.delivery import Executor
from streams.delivery.attributes import AttributeCache
from streams.delivery.executor import DeliveryOptions, fingerprint
from streams.errors import DeliveryError, RejectedError
from streams.mapping.plan import Plan, Report
from streams.settings import load_settings
from tests.unit.test_executor import CONTACT, EMPTY, FAST, ScriptedIntercom, error_list, plan


class Clock:
    def __init__(self, now: float = 10_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def listing(*names: str) -> tuple[int, Any]:
    data = [{"type": "data_attribute", "name": n, "custom": True, "archived": False} for n in names]
    return 200, {"type": "list", "data": data}


def created(name: str) -> tuple[int, Any]:
    return 200, {"type": "data_attribute", "name": name, "custom": True}


def refusal(message: str) -> tuple[int, Any]:
    return 400, error_list("parameter_invalid", message)


async def reports_of(run: Executor, work: Plan) -> list[Report]:
    """The reports of ``work``'s delivery."""
    return list((await run.execute(work)).reports)


def executor(intercom: ScriptedIntercom, clock: Clock, **kwargs: Any) -> Executor:
    workspace: dict[str, Any] = kwargs.pop("workspace", {})
    options = kwargs.pop("options", DeliveryOptions(attribute_policy="create"))
    return Executor(
        intercom,
        kwargs.pop("contacts", {}),
        kwargs.pop("companies", {}),
        FAST,
        workspace=workspace,
        options=options,
        attributes=AttributeCache(workspace, options.attribute_refresh_s, clock=clock),
        clock=clock,
    )


def identify(user: str, **traits: Any) -> Any:
    return plan({"type": "identify", "userId": user, "traits": {"email": f"{user}@x.io", **traits}})


def contact_writes(intercom: ScriptedIntercom) -> list[Any]:
    return [body for method, path, body in intercom.calls if method == "POST" and path == "/contacts"]


# -- the create policy's fallback ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        "Your name for this attribute must only contain alphanumeric characters, currency symbols, and "
        "hyphens",
        "You already have 'colour' in your company data. To save this as new people data, use a "
        "different name.",
        "Data Type isn't an option",
    ],
)
async def test_a_refused_create_drops_only_that_attribute_and_reports_it(message: str) -> None:
    intercom = ScriptedIntercom(
        {
            "GET /data_attributes?model=contact": [listing()],
            "POST /data_attributes": [refusal(message), created("score")],
            "POST /contacts/search": [(200, EMPTY)],
            "POST /contacts": [(200, CONTACT)],
        }
    )
    run = executor(intercom, Clock())
    reports = await reports_of(run, identify("u1", score=5, colour="green"))
    assert intercom.routes == [
        "GET /data_attributes?model=contact",
        "POST /data_attributes",  # colour (sorted first): refused
        "POST /data_attributes",  # score: created
        "GET /data_attributes?model=contact",  # one fresh list: did someone create colour meanwhile?
        "POST /contacts",  # a user with an external_id: created first, no search
    ]
    assert [body["name"] for _, path, body in intercom.calls if path == "/data_attributes"] == [
        "colour",
        "score",
    ]
    (written,) = contact_writes(intercom)
    assert written["custom_attributes"] == {"score": 5} and written["external_id"] == "u1"
    (report,) = reports
    assert report.reason == "attributes_dropped"
    assert report.details == {"target": "contact", "values": {"colour": "green"}}
    assert "colour" in report.message and message in report.message


@pytest.mark.parametrize("status", [401, 403])
async def test_a_token_that_may_not_create_attributes_drops_them_and_does_not_pause(status: int) -> None:
    intercom = ScriptedIntercom(
        {
            "GET /data_attributes?model=contact": [listing()],
            "POST /data_attributes": [(status, error_list("token_unauthorized", "Not authorized"))],
            "POST /contacts/search": [(200, EMPTY)],
            "POST /contacts": [(200, CONTACT)],
        }
    )
    run = executor(intercom, Clock())
    (report,) = await reports_of(run, identify("u1", colour="green"))
    (written,) = contact_writes(intercom)
    assert "custom_attributes" not in written and written["external_id"] == "u1"
    assert report.reason == "attributes_dropped" and "may not create data attributes" in report.message
    (second,) = await reports_of(run, identify("u2", colour="blue"))  # remembered: not asked again
    assert intercom.routes.count("POST /data_attributes") == 1 and second.reason == "attributes_dropped"


async def test_a_refused_name_is_not_asked_again_on_every_event() -> None:
    clock = Clock()
    intercom = ScriptedIntercom(
        {
            "GET /data_attributes?model=contact": [listing()],
            "POST /data_attributes": [refusal("Your name for this attribute must only contain …")],
            "POST /contacts/search": [(200, EMPTY)],
            "POST /contacts": [(200, CONTACT)],
        }
    )
    run = executor(intercom, clock)
    await run.execute(identify("u1", colour="green"))
    before = len(intercom.calls)
    clock.now += 61  # past the miss refresh: the list is read again, but no create is tried
    (report,) = await reports_of(run, identify("u2", colour="blue"))
    assert intercom.routes[before:] == ["GET /data_attributes?model=contact", "POST /contacts"]
    assert report.details == {"target": "contact", "values": {"colour": "blue"}}
    assert "refused" in report.message
    clock.now += 600  # remembered for attribute_refresh_s, then asked again
    await run.execute(identify("u3", colour="red"))
    assert intercom.routes.count("POST /data_attributes") == 2


async def test_a_name_created_meanwhile_elsewhere_is_kept_not_dropped() -> None:
    # Another worker created it after our list: Intercom says it exists, a fresh list confirms it.
    intercom = ScriptedIntercom(
        {
            "GET /data_attributes?model=contact": [listing(), listing("colour")],
            "POST /data_attributes": [
                refusal(
                    "You already have 'colour' in your people data. To save this as new people data, use "
                    "a different name."
                )
            ],
            "POST /contacts/search": [(200, EMPTY)],
            "POST /contacts": [(200, CONTACT)],
        }
    )
    reports = await reports_of(executor(intercom, Clock()), identify("u1", colour="green"))
    assert reports == []
    assert contact_writes(intercom)[0]["custom_attributes"] == {"colour": "green"}


async def test_the_company_model_falls_back_the_same_way() -> None:
    intercom = ScriptedIntercom(
        {
            "GET /data_attributes?model=company": [listing()],
            "POST /data_attributes": [
                refusal(
                    "You already have 'tier' in your people data. To save this as new company data, use "
                    "a different name."
                )
            ],
            "POST /companies": [(200, {"type": "company", "id": "k1", "company_id": "acme"})],
            "POST /contacts/c1/companies": [(200, {"type": "company", "id": "k1"})],
        }
    )
    run = executor(intercom, Clock(), contacts={"u1": {"id": "c1", "role": "user"}})
    (report,) = await reports_of(
        run,
        plan({"type": "group", "userId": "u1", "groupId": "acme", "traits": {"name": "A", "tier": "gold"}}),
    )
    upsert = next(body for method, path, body in intercom.calls if path == "/companies")
    assert upsert == {"name": "A", "company_id": "acme"}
    assert report.details == {"target": "company", "values": {"tier": "gold"}}
    assert intercom.calls[1][2]["model"] == "company"


async def test_a_create_that_keeps_failing_transiently_still_lets_the_write_go_out() -> None:
    intercom = ScriptedIntercom(
        {
            "GET /data_attributes?model=contact": [listing()],
            "POST /data_attributes": [(503, None)],
            "POST /contacts/search": [(200, EMPTY)],
            "POST /contacts": [(200, CONTACT)],
        }
    )
    run = executor(intercom, Clock())
    (report,) = await reports_of(run, identify("u1", plan="pro", colour="green"))
    assert intercom.routes.count("POST /data_attributes") == 2 * FAST.max_attempts
    assert "custom_attributes" not in contact_writes(intercom)[0]
    assert report.details == {"target": "contact", "values": {"colour": "green", "plan": "pro"}}
    assert not run.attributes.refused("contact", "plan")  # transient: the next event tries again


async def test_an_attribute_the_cache_believed_in_and_intercom_refuses_to_create_is_dropped() -> None:
    # The cache lists "plan", Intercom then says it does not exist (archived meanwhile) and refuses to
    # create it again: the contact is still written, without it.
    intercom = ScriptedIntercom(
        {
            "GET /data_attributes?model=contact": [listing("plan"), listing()],
            "POST /contacts/search": [(200, EMPTY)],
            "POST /contacts": [
                refusal("Custom attribute 'plan' does not exist"),
                (200, CONTACT),
            ],
            "POST /data_attributes": [
                refusal(
                    "You already have 'plan' in your people data. To save this as new people data, use "
                    "a different name."
                )
            ],
        }
    )
    (report,) = await reports_of(executor(intercom, Clock()), identify("u1", plan="pro"))
    first, second = contact_writes(intercom)
    assert first["custom_attributes"] == {"plan": "pro"} and "custom_attributes" not in second
    assert report.details == {"target": "contact", "values": {"plan": "pro"}}


# -- remove: true for a company the table does not know -------------------------------------------------

KNOWN_USER = {"id": "c1", "role": "user", "fingerprint": fingerprint({"external_id": "u1", "role": "user"})}
DETACH = {"type": "identify", "userId": "u1", "traits": {"company": {"id": "acme & co", "remove": True}}}
LOOKUP = "GET /companies?company_id=acme+%26+co"
ACME = {"type": "company", "id": "k1", "company_id": "acme & co"}


@pytest.mark.parametrize("shape", ["single", "list"])
async def test_detach_of_an_unknown_company_finds_it_with_one_lookup(shape: str) -> None:
    answer = ACME if shape == "single" else {"type": "list", "data": [ACME], "total_count": 1}
    intercom = ScriptedIntercom({LOOKUP: [(200, answer)], "DELETE /contacts/c1/companies/k1": [(200, ACME)]})
    contacts: dict[str, Any] = {"u1": {**KNOWN_USER, "companies": ["acme & co", "other"]}}
    companies: dict[str, Any] = {}
    run = executor(intercom, Clock(), contacts=contacts, companies=companies)
    assert await reports_of(run, plan(DETACH)) == []
    assert intercom.routes == [LOOKUP, "DELETE /contacts/c1/companies/k1"]
    assert companies["acme & co"]["id"] == "k1"  # learned: the next detach needs no lookup
    assert contacts["u1"]["companies"] == ["other"]
    await run.execute(plan(DETACH))
    assert intercom.routes[2:] == ["DELETE /contacts/c1/companies/k1"]


@pytest.mark.parametrize(
    "answer",
    [
        (404, error_list("company_not_found", "Company Not Found")),
        (200, {"type": "list", "data": [], "total_count": 0}),
    ],
)
async def test_detach_of_a_company_intercom_does_not_know_is_a_no_op(answer: tuple[int, Any]) -> None:
    intercom = ScriptedIntercom({LOOKUP: [answer]})
    contacts: dict[str, Any] = {"u1": dict(KNOWN_USER)}
    companies: dict[str, Any] = {}
    run = executor(intercom, Clock(), contacts=contacts, companies=companies)
    assert await reports_of(run, plan(DETACH)) == []
    assert intercom.routes == [LOOKUP]  # one lookup, no DELETE
    assert companies == {} and contacts["u1"] == KNOWN_USER


async def test_detach_ignores_a_listed_company_with_another_company_id() -> None:
    other = {"type": "company", "id": "k9", "company_id": "someone else"}
    intercom = ScriptedIntercom({LOOKUP: [(200, {"type": "list", "data": [other]})]})
    await executor(intercom, Clock(), contacts={"u1": dict(KNOWN_USER)}).execute(plan(DETACH))
    assert intercom.routes == [LOOKUP]


async def test_detach_of_a_company_not_attached_any_more_is_done() -> None:
    intercom = ScriptedIntercom(
        {
            LOOKUP: [(200, ACME)],
            "DELETE /contacts/c1/companies/k1": [(404, error_list("company_not_found", "Company Not Found"))],
        }
    )
    assert (
        await reports_of(executor(intercom, Clock(), contacts={"u1": dict(KNOWN_USER)}), plan(DETACH)) == []
    )


# -- Intercom's own 422 on a new event name -------------------------------------------------------------

CAP_422 = (422, error_list("422", "Cannot have more than 120 active event names"))


def track(name: str, n: int = 1) -> Any:
    return plan({"type": "track", "userId": "u1", "event": name, "timestamp": n})


def event_executor(intercom: ScriptedIntercom, clock: Clock, workspace: dict[str, Any]) -> Executor:
    options = DeliveryOptions(event_name_cap=110, event_name_recheck_s=600)
    return executor(intercom, clock, workspace=workspace, options=options)


async def test_a_name_intercom_refused_is_dead_lettered_without_a_call_until_the_recheck() -> None:
    clock, workspace = Clock(), {"event_names": {"names": ["signed-up"]}}
    intercom = ScriptedIntercom({"POST /events": [CAP_422]})
    run = event_executor(intercom, clock, workspace)
    with pytest.raises(RejectedError) as first:
        await run.execute(track("Order.Placed"))
    assert first.value.reason == "event_name_cap" and first.value.status == 422
    assert len(intercom.calls) == 1
    clock.now += 599
    for spelling in ("Order.Placed", "order-placed", "ORDER$PLACED"):  # one name to Intercom
        with pytest.raises(RejectedError) as later:
            await run.execute(track(spelling))
        assert later.value.reason == "event_name_cap" and "refused by Intercom" in later.value.message
    assert len(intercom.calls) == 1  # no API call for any of them
    assert workspace["event_names"] == {"names": ["signed-up"]}


async def test_other_names_are_still_sent_while_one_is_refused() -> None:
    clock, workspace = Clock(), {"event_names": {"names": ["signed-up"]}}
    intercom = ScriptedIntercom({"POST /events": [CAP_422, (202, None)]})
    run = event_executor(intercom, clock, workspace)
    with pytest.raises(DeliveryError):
        await run.execute(track("Order Placed"))
    await run.execute(track("Signed Up"))
    assert [body["event_name"] for _, _, body in intercom.calls] == ["Order Placed", "Signed Up"]


async def test_after_the_interval_one_event_asks_again_and_a_freed_slot_is_used() -> None:
    clock, workspace = Clock(), {}
    intercom = ScriptedIntercom({"POST /events": [CAP_422, (202, None)]})
    run = event_executor(intercom, clock, workspace)
    with pytest.raises(DeliveryError):
        await run.execute(track("Order Placed"))
    clock.now += 600  # an admin archived old names meanwhile
    await run.execute(track("Order Placed", 2))
    await run.execute(track("Order Placed", 3))
    assert len(intercom.calls) == 3
    assert workspace["event_names"] == {"names": ["order placed"]}
    assert not any(key.startswith("event_name_refused:") for key in workspace)


async def test_a_name_refused_again_at_the_recheck_waits_a_full_interval_more() -> None:
    clock, workspace = Clock(), {}
    intercom = ScriptedIntercom({"POST /events": [CAP_422]})
    run = event_executor(intercom, clock, workspace)
    for _ in range(2):
        with pytest.raises(DeliveryError):
            await run.execute(track("Order Placed"))
        clock.now += 600
    assert len(intercom.calls) == 2
    clock.now -= 1  # 599 s after the second refusal: still no call
    with pytest.raises(RejectedError) as caught:
        await run.execute(track("Order Placed"))
    assert caught.value.reason == "event_name_cap" and len(intercom.calls) == 2


async def test_other_422s_are_not_remembered_as_a_refused_name() -> None:
    clock, workspace = Clock(), {}
    bad = (422, error_list("parameter_invalid", "created_at is invalid"))
    intercom = ScriptedIntercom({"POST /events": [bad, (202, None)]})
    run = event_executor(intercom, clock, workspace)
    with pytest.raises(RejectedError) as caught:
        await run.execute(track("Order Placed"))
    assert caught.value.reason != "event_name_cap"
    await run.execute(track("Order Placed", 2))
    assert len(intercom.calls) == 2


def test_the_recheck_interval_is_a_setting() -> None:
    assert load_settings().delivery_options().event_name_recheck_s == 3600.0
    assert load_settings(event_name_recheck_s=120).delivery_options().event_name_recheck_s == 120
