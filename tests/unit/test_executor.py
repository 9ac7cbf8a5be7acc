"""The executor against a scripted Intercom: which calls it makes, and what the tables learn."""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from typing import Any

import pytest

from streams.deadletter.records import SourceRecord, dead_letter_for_delivery
from streams.delivery import Executor
from streams.delivery.executor import DeliveryOptions
from streams.delivery.retry import RetryPolicy
from streams.errors import ContactPendingError, DeliveryError, NotFoundError, RejectedError
from streams.events import parse_event
from streams.intercom.responses import classify
from streams.mapping import ContactRef, plan_event

FAST = RetryPolicy(max_attempts=3, base_delay_s=0.001, max_delay_s=0.002)
SOURCE = SourceRecord("intercom-requests", 0, 7, b"u1", b"{}", 1)


class FakeTime:
    """A monotonic clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class ScriptedIntercom:
    """Answers calls from a script of (status, body) per 'METHOD /path'; records every call."""

    def __init__(self, script: dict[str, list[tuple[int, Any]]], reset_in_s: int = 0) -> None:
        self.script = {key: deque(answers) for key, answers in script.items()}
        self.calls: list[tuple[str, str, Any]] = []
        self.reset_in_s = reset_in_s  # X-RateLimit-Reset, seconds from now

    async def __call__(self, method: str, path: str, body: Any) -> Any:
        self.calls.append((method, path, body))
        answers = self.script.get(f"{method} {path}")
        if not answers:
            raise AssertionError(f"unexpected call {method} {path}")
        status, payload = answers.popleft() if len(answers) > 1 else answers[0]
        headers = {"x-ratelimit-reset": str(int(time.time()) + self.reset_in_s)}
        error = classify(status, payload, headers, f"{method} {path}")
        if error is not None:
            raise error
        return payload

    @property
    def routes(self) -> list[str]:
        return [f"{method} {path}" for method, path, _ in self.calls]


def plan(raw: dict[str, Any]):  # type: ignore[no-untyped-def]
    return plan_event(parse_event(raw))


IDENTIFY = {"type": "identify", "userId": "u1", "traits": {"email": "A@x.io"}}
EMAIL_ONLY = {"type": "identify", "traits": {"email": "A@x.io"}}
CONTACT = {"type": "contact", "id": "c1", "role": "user", "external_id": "u1"}
EMPTY = {"type": "list", "data": [], "total_count": 0}


def error_list(code: str, message: str) -> dict[str, Any]:
    return {"type": "error.list", "errors": [{"code": code, "message": message}]}


async def test_unknown_user_is_created_first_and_remembered() -> None:
    intercom = ScriptedIntercom({"POST /contacts": [(200, CONTACT)], "PUT /contacts/c1": [(200, CONTACT)]})
    contacts: dict[str, Any] = {}
    executor = Executor(intercom, contacts, {}, FAST)
    await executor.execute(plan(IDENTIFY))
    # A new user costs one call: no search first (a 409 would name an existing contact).
    assert intercom.calls == [("POST", "/contacts", {"external_id": "u1", "email": "A@x.io", "role": "user"})]
    assert contacts["u1"]["id"] == "c1" and contacts["u1"]["role"] == "user"
    await executor.execute(plan(IDENTIFY))  # known and unchanged: no call at all
    assert intercom.routes[1:] == [] and executor.skipped == 1
    changed = {**IDENTIFY, "traits": {"email": "A@x.io", "name": "Ada"}}
    await executor.execute(plan(changed))  # known: one PUT of what changed, no search
    assert intercom.calls[1:] == [("PUT", "/contacts/c1", {"name": "Ada"})]


async def test_each_plan_counts_its_own_calls_when_plans_run_at_once() -> None:
    # Plans of one partition run concurrently on one executor: each Delivered counts only its calls.
    # Each plan's first call fails (503) and is retried after a backoff, during which the other
    # plan's calls go: a count shared between plans would be off.
    other = {"type": "contact", "id": "c2", "role": "user", "external_id": "u2"}
    down = (503, error_list("service_unavailable", "try again"))
    intercom = ScriptedIntercom({"POST /contacts": [down, down, (200, CONTACT), (200, other)]})
    executor = Executor(intercom, {}, {}, FAST)
    second = {**IDENTIFY, "userId": "u2"}
    first_done, second_done = await asyncio.gather(
        executor.execute(plan(IDENTIFY)), executor.execute(plan(second))
    )
    assert (first_done.calls, second_done.calls) == (2, 2) and len(intercom.calls) == 4
    unchanged = await executor.execute(plan(IDENTIFY))
    assert unchanged.calls == 0 and unchanged.left_no_trace


async def test_email_only_user_is_searched_then_created() -> None:
    # Without an external_id a 409 is no lookup (leads may share the email): search first.
    intercom = ScriptedIntercom({"POST /contacts/search": [(200, EMPTY)], "POST /contacts": [(200, CONTACT)]})
    contacts: dict[str, Any] = {}
    await Executor(intercom, contacts, {}, FAST).execute(plan(EMAIL_ONLY))
    assert intercom.routes == ["POST /contacts/search", "POST /contacts"]
    assert intercom.calls[0][2] == {"query": {"field": "email", "operator": "=", "value": "a@x.io"}}
    assert contacts["A@x.io"]["id"] == "c1"


async def test_lookup_override_is_searched_before_create() -> None:
    raw = {
        **IDENTIFY,
        "traits": {"email": "A@x.io", "phone": "+1"},
        "integrations": {"Intercom": {"lookup": "phone"}},
    }
    found = {**CONTACT, "id": "c7"}
    intercom = ScriptedIntercom(
        {
            "POST /contacts/search": [(200, {"type": "list", "data": [found]})],
            "PUT /contacts/c7": [(200, found)],
        }
    )
    await Executor(intercom, {}, {}, FAST).execute(plan(raw))
    assert intercom.routes == ["POST /contacts/search", "PUT /contacts/c7"]
    assert intercom.calls[0][2] == {"query": {"field": "phone", "operator": "=", "value": "+1"}}


async def test_search_prefers_the_external_id_match() -> None:
    matches = {
        "type": "list",
        "data": [
            {"id": "old", "role": "user", "external_id": None, "email": "a@x.io", "created_at": 1},
            {"id": "c1", "role": "user", "external_id": "u1", "email": "a@x.io", "created_at": 5},
        ],
    }
    intercom = ScriptedIntercom({"POST /contacts/search": [(200, matches)]})
    contacts: dict[str, Any] = {}
    found = await Executor(intercom, contacts, {}, FAST).contacts.resolve(
        "u1", ContactRef(user_id="u1", email="A@x.io")
    )
    assert found == "c1" and contacts["u1"]["id"] == "c1"
    assert intercom.calls[0][2] == {
        "query": {
            "operator": "OR",
            "value": [
                {"field": "external_id", "operator": "=", "value": "u1"},
                {"field": "email", "operator": "=", "value": "a@x.io"},
            ],
        }
    }


async def test_conflict_on_create_updates_the_named_contact_without_searching() -> None:
    intercom = ScriptedIntercom(
        {
            "POST /contacts": [
                (409, error_list("conflict", "A contact matching those details already exists with id=c9"))
            ],
            "PUT /contacts/c9": [(200, {**CONTACT, "id": "c9"})],
        }
    )
    contacts: dict[str, Any] = {}
    await Executor(intercom, contacts, {}, FAST).execute(plan(IDENTIFY))
    # An existing contact unknown to the tables: two calls, as search-then-update.
    assert intercom.routes == ["POST /contacts", "PUT /contacts/c9"]
    assert intercom.calls[1][2] == {"external_id": "u1", "email": "A@x.io", "role": "user"}
    assert contacts["u1"]["id"] == "c9"


async def test_archived_conflict_is_unarchived_first() -> None:
    message = "An archived contact matching those details already exists with id=c9"
    intercom = ScriptedIntercom(
        {
            "POST /contacts/search": [(200, EMPTY)],
            "POST /contacts": [(409, error_list("conflict", message))],
            "POST /contacts/c9/unarchive": [(200, {"type": "contact", "id": "c9", "archived": False})],
            "PUT /contacts/c9": [(200, {**CONTACT, "id": "c9"})],
        }
    )
    await Executor(intercom, {}, {}, FAST).execute(plan(IDENTIFY))
    assert intercom.routes[-2:] == ["POST /contacts/c9/unarchive", "PUT /contacts/c9"]


async def test_known_contact_deleted_in_intercom_is_created_again() -> None:
    intercom = ScriptedIntercom(
        {
            "PUT /contacts/gone": [(404, error_list("not_found", "Contact Not Found"))],
            "POST /contacts": [(200, CONTACT)],
        }
    )
    contacts: dict[str, Any] = {"u1": {"id": "gone", "role": "user"}}
    await Executor(intercom, contacts, {}, FAST).execute(plan(IDENTIFY))
    assert intercom.routes == ["PUT /contacts/gone", "POST /contacts"]
    assert intercom.calls[1][2] == {"external_id": "u1", "email": "A@x.io", "role": "user"}
    assert contacts["u1"]["id"] == "c1" and contacts["u1"]["fingerprint"]


async def test_known_email_only_contact_deleted_in_intercom_is_searched_again_then_recreated() -> None:
    intercom = ScriptedIntercom(
        {
            "PUT /contacts/gone": [(404, error_list("not_found", "Contact Not Found"))],
            "POST /contacts/search": [(200, EMPTY)],
            "POST /contacts": [(200, CONTACT)],
        }
    )
    contacts: dict[str, Any] = {"A@x.io": {"id": "gone", "role": "user"}}
    await Executor(intercom, contacts, {}, FAST).execute(plan(EMAIL_ONLY))
    assert intercom.routes == ["PUT /contacts/gone", "POST /contacts/search", "POST /contacts"]
    assert contacts["A@x.io"]["id"] == "c1"


async def test_known_contact_deleted_in_intercom_is_replaced_by_the_one_intercom_names() -> None:
    # E.g. deleted and created again by another integration: update that one, create nothing.
    other = {**CONTACT, "id": "c2"}
    conflict = error_list("conflict", "A contact matching those details already exists with id=c2")
    intercom = ScriptedIntercom(
        {
            "PUT /contacts/gone": [(404, error_list("not_found", "Contact Not Found"))],
            "POST /contacts": [(409, conflict)],
            "PUT /contacts/c2": [(200, other)],
        }
    )
    contacts: dict[str, Any] = {"u1": {"id": "gone", "role": "user", "fingerprint": {"role": "x"}}}
    await Executor(intercom, contacts, {}, FAST).execute(plan(IDENTIFY))
    assert intercom.routes == ["PUT /contacts/gone", "POST /contacts", "PUT /contacts/c2"]
    # The new contact's entry starts over: the whole body is sent, not a delta against the old one.
    assert intercom.calls[2][2] == {"external_id": "u1", "email": "A@x.io", "role": "user"}
    assert contacts["u1"]["id"] == "c2"


async def test_contact_found_by_search_but_gone_is_created_without_a_second_search() -> None:
    stale = {**CONTACT, "id": "stale"}
    intercom = ScriptedIntercom(
        {
            "POST /contacts/search": [(200, {"type": "list", "data": [stale]})],
            "PUT /contacts/stale": [(404, error_list("not_found", "Contact Not Found"))],
            "POST /contacts": [(200, CONTACT)],
        }
    )
    contacts: dict[str, Any] = {}
    await Executor(intercom, contacts, {}, FAST).execute(plan(EMAIL_ONLY))
    assert intercom.routes == ["POST /contacts/search", "PUT /contacts/stale", "POST /contacts"]
    assert contacts["A@x.io"]["id"] == "c1"


async def test_transient_errors_are_retried_then_succeed() -> None:
    intercom = ScriptedIntercom({"POST /events": [(503, None), (502, None), (202, None)]})
    await Executor(intercom, {}, {}, FAST).execute(
        plan({"type": "track", "userId": "u1", "event": "E", "timestamp": 1})
    )
    assert intercom.routes == ["POST /events"] * 3


async def test_transient_errors_give_up_after_max_attempts_with_history() -> None:
    intercom = ScriptedIntercom({"POST /events": [(500, None)]})
    with pytest.raises(DeliveryError) as caught:
        await Executor(intercom, {}, {}, FAST).execute(
            plan({"type": "track", "userId": "u1", "event": "E", "timestamp": 1})
        )
    assert caught.value.attempts == 3 and len(intercom.calls) == 3
    assert caught.value.request is not None and caught.value.request["path"] == "/events"
    assert [a.outcome for a in caught.value.history] == ["500", "500", "500"]
    record = dead_letter_for_delivery(SOURCE, caught.value, "u1", "track")
    assert record["reason"] == "retries_exhausted" and record["attempts"] == 3
    assert "3 attempts: 500 at " in record["message"] and record["message"].count("500 at ") == 3
    assert [a["outcome"] for a in json.loads(record["details"])["attempts"]] == ["500", "500", "500"]


async def test_bad_request_is_not_retried() -> None:
    intercom = ScriptedIntercom(
        {
            "POST /contacts/search": [(200, EMPTY)],
            "POST /contacts": [(400, error_list("parameter_invalid", "Custom attribute 'x' does not exist"))],
        }
    )
    with pytest.raises(RejectedError) as caught:
        await Executor(intercom, {}, {}, FAST).execute(plan(IDENTIFY))
    assert caught.value.attempts == 1 and caught.value.status == 400
    assert intercom.routes.count("POST /contacts") == 1


async def test_rate_limited_call_waits_for_the_reset_without_spending_attempts() -> None:
    intercom = ScriptedIntercom(
        {
            "POST /events": [
                (429, error_list("rate_limit_exceeded", "Exceeded")),
                (429, None),
                (429, None),
                (202, None),
            ]
        },
        reset_in_s=5,
    )
    fake = FakeTime()
    await Executor(intercom, {}, {}, RetryPolicy(max_attempts=1), sleep=fake.sleep).execute(
        plan({"type": "track", "userId": "u1", "event": "E", "timestamp": 1})
    )
    assert len(intercom.calls) == 4
    # Until X-RateLimit-Reset (whole seconds, 4-5 s away) plus at most 0.5 s of jitter, each time.
    assert len(fake.slept) == 3 and all(3.9 <= s <= 5.6 for s in fake.slept)


async def test_group_upserts_company_and_attaches_known_contact() -> None:
    intercom = ScriptedIntercom(
        {
            "POST /companies": [(200, {"type": "company", "id": "k1", "company_id": "acme"})],
            "POST /contacts/c1/companies": [(200, {"type": "company", "id": "k1"})],
        }
    )
    companies: dict[str, Any] = {}
    executor = Executor(intercom, {"u1": {"id": "c1", "role": "user"}}, companies, FAST)
    await executor.execute(
        plan({"type": "group", "userId": "u1", "groupId": "acme", "traits": {"name": "A"}})
    )
    assert intercom.routes == ["POST /companies", "POST /contacts/c1/companies"]
    assert intercom.calls[1][2] == {"id": "k1"}
    assert companies["acme"]["id"] == "k1"


async def test_group_for_unknown_user_fails_with_advice() -> None:
    intercom = ScriptedIntercom(
        {"POST /companies": [(200, {"type": "company", "id": "k1"})], "POST /contacts/search": [(200, EMPTY)]}
    )
    with pytest.raises(ContactPendingError, match="send an identify") as caught:
        await Executor(intercom, {}, {}, FAST).execute(
            plan({"type": "group", "userId": "u1", "groupId": "acme"})
        )
    # The company is written; the attach (operation 1) waits for the user's contact.
    assert caught.value.reason == "contact_not_found" and caught.value.operation_index == 1


async def test_event_of_unknown_visitor_creates_its_lead_once() -> None:
    lead = {"type": "contact", "id": "L1", "role": "lead"}
    intercom = ScriptedIntercom({"POST /contacts": [(200, lead)], "POST /events": [(202, None)]})
    contacts: dict[str, Any] = {}
    for n in (1, 2):
        await Executor(intercom, contacts, {}, FAST).execute(
            plan({"type": "track", "anonymousId": "a1", "event": "E", "timestamp": n})
        )
    assert intercom.routes == ["POST /contacts", "POST /events", "POST /events"]
    assert intercom.calls[0][2] == {"role": "lead"} and intercom.calls[2][2]["id"] == "L1"
    assert contacts["a1"]["id"] == "L1" and contacts["a1"]["role"] == "lead"


async def test_event_of_known_lead_is_addressed_by_id() -> None:
    intercom = ScriptedIntercom({"POST /events": [(202, None)]})
    await Executor(intercom, {"a1": {"id": "L1", "role": "lead"}}, {}, FAST).execute(
        plan({"type": "track", "anonymousId": "a1", "event": "E", "timestamp": 1})
    )
    assert intercom.calls[0][2]["id"] == "L1"


# -- 404 on an event: the user is unknown to Intercom ------------------------------------------------

TRACK = {"type": "track", "userId": "u1", "event": "E", "timestamp": 1}
USER_NOT_FOUND = (404, error_list("not_found", "User Not Found"))


def held(intercom: ScriptedIntercom, policy: RetryPolicy = FAST, **options: Any) -> tuple[Executor, FakeTime]:
    fake = FakeTime()
    executor = Executor(
        intercom, {}, {}, policy, options=DeliveryOptions(**options), sleep=fake.sleep, clock=fake
    )
    return executor, fake


async def test_unknown_user_event_asks_to_be_parked_after_one_call() -> None:
    intercom = ScriptedIntercom({"POST /events": [USER_NOT_FOUND]})
    executor, fake = held(intercom)
    with pytest.raises(ContactPendingError) as caught:
        await executor.execute(plan(TRACK))
    assert intercom.routes == ["POST /events"] and fake.slept == []  # no holding in the user's lane
    assert caught.value.reason == "user_not_found" and caught.value.operation_index == 0
    record = dead_letter_for_delivery(SOURCE, caught.value, "u1", "track")
    assert record["reason"] == "user_not_found" and "send identify first" in record["message"]


async def test_a_user_known_to_be_unknown_costs_no_call() -> None:
    intercom = ScriptedIntercom({})
    executor, _ = held(intercom)
    with pytest.raises(ContactPendingError, match="not known to Intercom yet"):
        await executor.execute(plan(TRACK), unknown_user=True)
    assert intercom.calls == []


async def test_an_identify_of_a_user_known_to_be_unknown_is_still_sent() -> None:
    intercom = ScriptedIntercom({"POST /contacts": [(200, CONTACT)]})
    executor, _ = held(intercom)
    await executor.execute(plan({"type": "identify", "userId": "u1", "timestamp": 1}), unknown_user=True)
    assert intercom.routes == ["POST /contacts"] and executor.is_known("u1")


async def test_unknown_user_is_created_when_the_policy_says_create() -> None:
    intercom = ScriptedIntercom(
        {"POST /events": [USER_NOT_FOUND, (202, None)], "POST /contacts": [(200, CONTACT)]}
    )
    executor, fake = held(intercom, unknown_user_policy="create")
    await executor.execute(plan(TRACK))
    assert intercom.routes == ["POST /events", "POST /contacts", "POST /events"]
    assert intercom.calls[1][2] == {"role": "user", "external_id": "u1"}
    assert intercom.calls[2][2] == intercom.calls[0][2]
    assert executor.contacts.table["u1"]["id"] == "c1" and fake.slept == []


async def test_create_policy_parks_while_intercom_does_not_know_the_new_contact_yet() -> None:
    intercom = ScriptedIntercom(
        {"POST /events": [USER_NOT_FOUND, USER_NOT_FOUND], "POST /contacts": [(200, CONTACT)]}
    )
    executor, fake = held(intercom, unknown_user_policy="create")
    with pytest.raises(ContactPendingError):
        await executor.execute(plan(TRACK))
    assert intercom.routes == ["POST /events", "POST /contacts", "POST /events"]
    assert executor.is_known("u1") and fake.slept == []


async def test_create_policy_uses_the_contact_intercom_names_on_conflict() -> None:
    conflict = error_list("conflict", "A contact matching those details already exists with id=c9")
    intercom = ScriptedIntercom(
        {"POST /events": [USER_NOT_FOUND, (202, None)], "POST /contacts": [(409, conflict)]}
    )
    executor, _ = held(intercom, unknown_user_policy="create")
    await executor.execute(plan(TRACK))
    assert intercom.routes == ["POST /events", "POST /contacts", "POST /events"]
    assert executor.contacts.table["u1"]["id"] == "c9"


async def test_event_of_a_lead_gone_from_intercom_is_not_held() -> None:
    intercom = ScriptedIntercom({"POST /events": [USER_NOT_FOUND]})
    fake = FakeTime()
    executor = Executor(
        intercom, {"a1": {"id": "L1", "role": "lead"}}, {}, FAST, sleep=fake.sleep, clock=fake
    )
    with pytest.raises(NotFoundError):
        await executor.execute(plan({"type": "track", "anonymousId": "a1", "event": "E", "timestamp": 1}))
    assert len(intercom.calls) == 1 and fake.slept == []


async def test_concurrent_plans_on_one_executor_keep_their_own_reports() -> None:
    """The sink runs several users' plans at once on one executor: reports must not mix."""
    import asyncio

    release = asyncio.Event()

    async def slow_intercom(method: str, path: str, body: Any) -> Any:
        if method == "POST" and path == "/events":
            await release.wait()  # both plans are in flight together
            return {}
        raise AssertionError(f"unexpected call {method} {path}")

    executor = Executor(slow_intercom, {}, {}, FAST)
    many_keys = {f"k{n}": n for n in range(12)}  # over 10 metadata keys: a metadata_trimmed report
    noisy = plan(
        {"type": "track", "userId": "u1", "event": "Big", "timestamp": 1_760_000_000, "properties": many_keys}
    )
    quiet = plan(
        {
            "type": "track",
            "userId": "u2",
            "event": "Small",
            "timestamp": 1_760_000_000,
            "properties": {"a": 1},
        }
    )
    assert noisy.reports and not quiet.reports
    first = asyncio.create_task(executor.execute(noisy))
    second = asyncio.create_task(executor.execute(quiet))
    await asyncio.sleep(0.01)
    release.set()
    assert [r.reason for r in (await first).reports] == ["metadata_trimmed"]
    assert (await second).reports == ()


async def test_a_late_identify_never_overwrites_a_newer_value() -> None:
    intercom = ScriptedIntercom({"POST /contacts": [(200, CONTACT)], "PUT /contacts/c1": [(200, CONTACT)]})
    contacts: dict[str, Any] = {}
    executor = Executor(intercom, contacts, {}, FAST)
    newer = {"type": "identify", "userId": "u1", "traits": {"name": "New", "avatar": "n.png"}}
    older = {"type": "identify", "userId": "u1", "traits": {"name": "Old", "avatar": "o.png", "phone": "1"}}
    await executor.execute(plan(newer), event_time=200)
    await executor.execute(plan(older), event_time=100)
    # Only the field the newer identify did not set goes out.
    assert intercom.calls[-1][2] == {"phone": "1"}
    assert contacts["u1"]["times"]["name"] == 200 and contacts["u1"]["times"]["phone"] == 100
