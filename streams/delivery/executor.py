"""Performs a Plan's operations in order, resolving contact and company references.

The tables are plain mappings here (Faust tables in the worker, dicts in tests); values are JSON dicts:
  contacts:  user key   → {"id", "role", "fingerprint": {field: hash}, "companies": [company_id]}
  companies: company_id → {"id", "fingerprint": {field: hash}, "tags": [name]}
  workspace: "data_attributes:<model>" → cached data attributes;
             "tag:<lower-case name>" → {"id", "name"} of contact tags created or found
  event names: slots and Intercom's refusals live behind ``EventNames`` (streams/delivery/event_names.py:
             in the workspace table for one process, on the workspace topic for a deployment)
  suppressed: user key → {"since": unix seconds} for users deleted on request (events dead-lettered)
A contacts entry may also carry "tags" (names applied) and "merged_from" (the lead merged into it).
Every id learned goes into a table so that the next event for the same user costs no search, and a
fingerprint of what Intercom holds lets a write that changes nothing make no call at all.

``execute`` returns ``Report``s (the plan's own and the attribute policy's): things the event asked for
that Intercom did not get. The sink turns each into a dead-letter record; the event itself succeeded.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode

from streams.delivery.attributes import AttributeCache, infer_data_type
from streams.delivery.event_names import EventNames, LocalEventNames
from streams.delivery.retry import RetryPolicy, with_retries
from streams.errors import AuthError, ConflictError, DeliveryError, NotFoundError, RejectedError
from streams.mapping.plan import Action, ContactRef, Operation, Plan, Report
from streams.workspace.state import event_name_key

log = logging.getLogger(__name__)

# call(method, path, body) → parsed JSON, or raises a DeliveryError subclass.
Call = Callable[[str, str, Any], Awaitable[Any]]
Table = MutableMapping[str, Any]
AttributePolicy = Literal["create", "drop", "reject"]

_UNKNOWN_ATTRIBUTE = re.compile(r"Custom attribute '([^']+)' does not exist")
_EVENT_NAME_CAP = re.compile(r"active event names", re.I)
# One list per asyncio task: the sink runs several users' plans at once on one executor.
_CURRENT_REPORTS: ContextVar[list[Report] | None] = ContextVar("intercom_stream_reports", default=None)
# While an event's user is unknown to Intercom, ask again after 2, 4, 8, 15, 15... seconds.
HOLD_FIRST_RETRY_S = 2.0
HOLD_MAX_RETRY_S = 15.0
UnknownUserPolicy = Literal["dead_letter", "create"]


@dataclass(frozen=True)
class DeliveryOptions:
    """The sink's policies (built from Settings by the pipeline)."""

    attribute_policy: AttributePolicy = "drop"
    attribute_refresh_s: float = 600.0
    # Intercom allows 120 active event names; new names beyond this many are dead-lettered instead.
    event_name_cap: int = 110
    # After Intercom refuses a new event name (its own 120-name 422), that name's events are
    # dead-lettered without a call for this long, then one is sent again (names can be archived).
    event_name_recheck_s: float = 3600.0
    api_version: str = "2.10"
    # A track event Intercom answers 404 for (no such user): hold and retry this long (the identify may
    # still come), then dead-letter; or, with "create", create the contact and send the event.
    unknown_user_policy: UnknownUserPolicy = "dead_letter"
    unknown_user_hold_s: float = 5.0


def _hash(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:12]


def fingerprint(body: dict[str, Any]) -> dict[str, str]:
    """Field → short hash of the value, custom attributes one by one (``custom_attributes.<name>``)."""
    prints = {k: _hash(v) for k, v in body.items() if k != "custom_attributes"}
    for name, value in (body.get("custom_attributes") or {}).items():
        prints[f"custom_attributes.{name}"] = _hash(value)
    return prints


def changed_fields(body: dict[str, Any], known: dict[str, str]) -> dict[str, Any]:
    """The part of ``body`` whose values differ from what the fingerprint says Intercom holds."""
    delta = {k: v for k, v in body.items() if k != "custom_attributes" and known.get(k) != _hash(v)}
    attributes = {
        name: value
        for name, value in (body.get("custom_attributes") or {}).items()
        if known.get(f"custom_attributes.{name}") != _hash(value)
    }
    if attributes:
        delta["custom_attributes"] = attributes
    return delta


class Executor:
    def __init__(
        self,
        call: Call,
        contacts: Table,
        companies: Table,
        policy: RetryPolicy | None = None,
        *,
        workspace: Table | None = None,
        options: DeliveryOptions | None = None,
        attributes: AttributeCache | None = None,
        suppressed: Table | None = None,
        event_names: EventNames | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,  # wall time: refusal times are kept in a table
    ) -> None:
        self._call = call
        self._sleep = sleep  # injected by tests: retries and holds never sleep for real there
        self.contacts = contacts
        self.companies = companies
        self.policy = policy or RetryPolicy()
        self.options = options or DeliveryOptions()
        self.workspace: Table = {} if workspace is None else workspace
        self.suppressed: Table = {} if suppressed is None else suppressed
        self.clock = clock
        self.attributes = attributes or AttributeCache(
            self.workspace, self.options.attribute_refresh_s, clock=clock
        )
        self.event_names: EventNames = event_names or LocalEventNames(
            self.workspace, self.options.event_name_cap, clock
        )
        self.calls = 0
        self.skipped = 0  # writes not made because Intercom already holds the same values

    @property
    def reports(self) -> list[Report]:
        """The reports of the plan being executed in the current task (plans run concurrently)."""
        reports = _CURRENT_REPORTS.get(None)
        if reports is None:
            reports = []
            _CURRENT_REPORTS.set(reports)
        return reports

    async def execute(self, plan: Plan) -> list[Report]:
        _CURRENT_REPORTS.set(list(plan.reports))
        lifecycle = {Action.DELETE_CONTACT, Action.UNSUPPRESS}
        if self.suppressed.get(plan.user_key) and not any(op.action in lifecycle for op in plan.operations):
            raise _suppressed(plan.user_key)
        for operation in plan.operations:
            handler = self._handlers[operation.action]
            await handler(self, plan.user_key, operation)
        return self.reports

    # -- calls ------------------------------------------------------------------------------------

    async def _request(self, method: str, path: str, body: Any = None, *, pause_on_auth: bool = True) -> Any:
        attempted_at_ms: list[int] = []  # first and latest attempt, for the dead-letter record

        async def once() -> Any:
            self.calls += 1
            attempted_at_ms[1:] = [int(time.time() * 1000)]
            return await self._call(method, path, body)

        try:
            return await with_retries(once, self.policy, self._sleep, pause_on_auth=pause_on_auth)
        except DeliveryError as exc:
            exc.request = {"method": method, "path": path, "body": body}
            if attempted_at_ms:
                exc.first_attempt_at_ms, exc.last_attempt_at_ms = attempted_at_ms[0], attempted_at_ms[-1]
            raise

    def _skip(self, what: str) -> None:
        self.skipped += 1
        log.debug("skipped %s: Intercom already holds these values", what)

    # -- custom attributes ------------------------------------------------------------------------

    async def _known_attributes(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        """``body`` with the attribute policy applied to custom attributes Intercom does not know."""
        values: dict[str, Any] = body.get("custom_attributes") or {}
        missing = await self.attributes.unknown(self._request, model, values)
        return await self._apply_policy(model, body, missing)

    async def _apply_policy(self, model: str, body: dict[str, Any], missing: set[str]) -> dict[str, Any]:
        if not missing:
            return body
        values: dict[str, Any] = body["custom_attributes"]
        policy = self.options.attribute_policy
        if policy == "reject":
            error = RejectedError(
                f"custom attributes unknown to Intercom on the {model}: {', '.join(sorted(missing))}"
            )
            error.reason = "attributes_unknown"
            error.request = {"model": model, "attributes": {n: values[n] for n in sorted(missing)}}
            raise error
        dropped = {name: values[name] for name in sorted(missing)}
        failures: dict[str, str] = {}
        if policy == "create":
            created, failures = await self._create_attributes(model, dropped)
            dropped = {name: value for name, value in dropped.items() if name not in created}
        if not dropped:
            return body
        why = "; ".join(f"{name}: {failures[name]}" for name in dropped if name in failures)
        self.reports.append(
            Report(
                "attributes_dropped",
                f"{model}: custom attributes unknown to Intercom were not sent: {', '.join(dropped)}"
                + (f" (could not create them: {why})" if why else ""),
                {"target": model, "values": dropped},
            )
        )
        kept = {k: v for k, v in values.items() if k not in dropped}
        return {
            **{k: v for k, v in body.items() if k != "custom_attributes"},
            **({"custom_attributes": kept} if kept else {}),
        }

    async def _create_attributes(self, model: str, values: dict[str, Any]) -> tuple[set[str], dict[str, str]]:
        """Create each attribute with a type inferred from its value. Returns the names Intercom has
        now and, for each of the others, why not; the caller sends the write without those."""
        created: set[str] = set()
        failures: dict[str, str] = {}
        refused: list[str] = []
        for name, value in values.items():
            if value is None:
                failures[name] = "a null value gives no type to create the attribute with"
                continue
            if self.attributes.refused(model, name):  # remembered: do not ask on every event
                failures[name] = "Intercom refused to create it recently"
                continue
            if not await self.attributes.claim(model, name):  # another worker just created it
                created.add(name)
                continue
            body = {"name": name, "model": model, "data_type": infer_data_type(value)}
            try:
                # A token that works for contacts may still lack the right to create attributes: that
                # 401/403 must drop these attributes, not pause all delivery.
                await self._request("POST", "/data_attributes", body, pause_on_auth=False)
            except AuthError as exc:
                self.attributes.refuse(model, name)
                failures[name] = f"the token may not create data attributes ({exc.message})"
                log.warning("could not create %s attribute %r: %s", model, name, failures[name])
                continue
            except RejectedError as exc:  # a name or type Intercom refuses, or the other model's name
                refused.append(name)
                failures[name] = exc.message
                continue
            except DeliveryError as exc:  # transient and out of attempts: the write goes out anyway
                failures[name] = exc.message
                continue
            await self.attributes.created(model, name)
            created.add(name)
        if refused:
            # Another worker or an admin may have created it since we listed: one fresh list tells.
            try:
                listed = set((await self.attributes.refresh(self._request, model))["names"])
            except DeliveryError as exc:
                log.warning("could not list %s attributes after a refused create: %s", model, exc.message)
                listed = set()
            for name in refused:
                if name in listed:
                    created.add(name)
                    del failures[name]
                else:
                    self.attributes.refuse(model, name)
                    log.warning("could not create %s attribute %r: %s", model, name, failures[name])
        return created, failures

    async def _write(
        self, model: str, method: str, path: str, body: dict[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        """One write; if Intercom names an attribute our cache thought it knew, apply the policy to it
        and try once more. Returns the answer and the body that Intercom accepted."""
        try:
            return await self._request(method, path, body), body
        except RejectedError as exc:
            match = _UNKNOWN_ATTRIBUTE.search(exc.message)
            if match is None or match.group(1) not in (body.get("custom_attributes") or {}):
                raise
            self.attributes.forget(model, match.group(1))
            fixed = await self._apply_policy(model, body, {match.group(1)})
            return await self._request(method, path, fixed), fixed

    # -- contacts ---------------------------------------------------------------------------------

    def _remember_contact(
        self, user_key: str, contact: dict[str, Any], sent: dict[str, Any] | None = None, fresh: bool = False
    ) -> str:
        """Learn the contact's id; ``sent`` is what Intercom accepted (merged into the fingerprint),
        ``fresh`` starts the entry over (a new contact, or one found by search)."""
        contact_id = str(contact["id"])
        old = self.contacts.get(user_key) or {}
        base = old if old.get("id") == contact_id and not fresh else {}
        prints = dict(base.get("fingerprint") or {})
        if sent is not None:
            prints.update(fingerprint(sent))
        role = contact.get("role") or base.get("role") or "user"
        self.contacts[user_key] = {**base, "id": contact_id, "role": role, "fingerprint": prints}
        return contact_id

    def _filters(self, ref: ContactRef) -> list[dict[str, Any]]:
        if ref.lookup_value and ref.lookup != "external_id_or_email":
            value = ref.lookup_value.lower() if ref.lookup == "email" else ref.lookup_value
            return [{"field": ref.lookup, "operator": "=", "value": value}]
        filters = []
        if ref.user_id:
            filters.append({"field": "external_id", "operator": "=", "value": ref.user_id})
        if ref.email:
            # Intercom stores emails as given but matches case-sensitively: search the lower-cased form.
            filters.append({"field": "email", "operator": "=", "value": ref.email.lower()})
        return filters

    async def _search(self, ref: ContactRef) -> dict[str, Any] | None:
        filters = self._filters(ref)
        if not filters:
            return None
        query = filters[0] if len(filters) == 1 else {"operator": "OR", "value": filters}
        result = await self._request("POST", "/contacts/search", {"query": query})
        matches = [c for c in (result or {}).get("data", []) if isinstance(c, dict)]
        if not matches:
            return None
        if len(matches) > 1:
            log.warning(
                "contact search matched %d contacts; using the external_id match, else the oldest",
                len(matches),
            )
        by_external_id = [c for c in matches if ref.user_id and c.get("external_id") == ref.user_id]
        return (by_external_id or sorted(matches, key=lambda c: c.get("created_at") or 0))[0]

    async def resolve_contact(self, user_key: str, ref: ContactRef | None) -> str | None:
        known = self.contacts.get(user_key)
        if known:
            return str(known["id"])
        if ref is None or ref.is_lead:
            return None  # leads cannot be searched by anonymousId: only the table knows them
        found = await self._search(ref)
        return None if found is None else self._remember_contact(user_key, found, fresh=True)

    async def _update_contact(self, user_key: str, contact_id: str, body: dict[str, Any]) -> bool:
        """PUT what changed to a known contact; False when Intercom no longer has it (404)."""
        known = self.contacts.get(user_key) or {}
        send = changed_fields(body, known.get("fingerprint") or {})
        if not send:
            self._skip(f"identify of {user_key}")
            return True
        try:
            updated, sent = await self._write("contact", "PUT", f"/contacts/{contact_id}", send)
        except NotFoundError:
            return False
        self._remember_contact(user_key, updated, sent)
        return True

    async def _upsert_contact(self, user_key: str, operation: Operation) -> None:
        body = await self._known_attributes("contact", operation.body)
        from_table = bool(self.contacts.get(user_key))
        search = search_before_create(operation.contact)
        # A user with an external_id is created first: a new contact costs one call, and for one
        # Intercom already has, the 409 names it (an update: two calls, as search-then-update).
        contact_id = await self.resolve_contact(user_key, operation.contact) if from_table or search else None
        if contact_id is not None:
            if await self._update_contact(user_key, contact_id, body):
                return
            # Deleted in Intercom since we learned its id: forget it and resolve again (search, then
            # create), in this same execution. A contact the search just gave us is not searched twice.
            log.info(
                "known contact %s no longer exists in Intercom; resolving %s again", contact_id, user_key
            )
            _forget(self.contacts, user_key)
            again = from_table and search
            contact_id = await self.resolve_contact(user_key, operation.contact) if again else None
            if contact_id is not None:
                if await self._update_contact(user_key, contact_id, body):
                    return
                _forget(self.contacts, user_key)
        try:
            created, sent = await self._write("contact", "POST", "/contacts", body)
        except ConflictError as conflict:
            if not conflict.existing_id:
                raise
            # Known to Intercom (created first), search lag or a race: Intercom names the contact, so
            # update it (no search). The name may be for the external_id or for the email of a user
            # without one (then this sets its external_id): docs/mapping.md, "Create first".
            if conflict.archived:
                await self._request("POST", f"/contacts/{conflict.existing_id}/unarchive")
            created, sent = await self._write("contact", "PUT", f"/contacts/{conflict.existing_id}", body)
        self._remember_contact(user_key, created, sent, fresh=True)

    # -- events -----------------------------------------------------------------------------------

    async def _track_event(self, user_key: str, operation: Operation) -> None:
        body = dict(operation.body)
        ref = operation.contact
        if "user_id" not in body and ref is not None:
            # Leads (by id from the table) and email-only users (resolved once, then by id).
            contact_id = await self.resolve_contact(user_key, ref)
            if contact_id is not None:
                body["id"] = contact_id  # Intercom addresses leads by their id only
                body.pop("email", None)
            elif ref.is_lead:
                raise _not_found(
                    f"no Intercom lead is known for anonymousId {ref.anonymous_id!r}: "
                    "send an identify for this visitor first"
                )
        name = event_name_key(str(body.get("event_name", "")))
        self._check_refused_name(name, body.get("event_name"))
        # Reserved before the call: concurrent requests (and workers) cannot overshoot the cap.
        if not await self.event_names.reserve(name):
            raise _cap_error(
                f"event name {body.get('event_name')!r} would be a new name beyond the cap of "
                f"{self.event_names.cap} ({self.event_names.taken()} taken; Intercom keeps at most 120 "
                "active names)"
            )
        try:
            await self._send_event(user_key, body)
        except RejectedError as exc:
            if _EVENT_NAME_CAP.search(exc.message):
                exc.reason = "event_name_cap"
                # Intercom is the authority on the 120 names (other workers count their own names):
                # remember its no so that this name's next events cost no call until the re-check.
                await self.event_names.refuse(name, exc.message)
            raise
        await self.event_names.accept(name)

    def _check_refused_name(self, name: str, given: Any) -> None:
        """Dead-letter at once (no call) an event whose name Intercom refused less than
        ``event_name_recheck_s`` ago; after that, the next event is sent to ask again."""
        refused = self.event_names.refusal(name)
        if refused is None:
            return
        age = self.clock() - refused.at
        if age < self.options.event_name_recheck_s:
            raise _cap_error(
                f"event name {given!r} was refused by Intercom {int(age)}s ago (at most 120 active "
                f"event names); not sent, re-checked {self.options.event_name_recheck_s:g}s after the "
                "refusal"
            )

    async def _send_event(self, user_key: str, body: dict[str, Any]) -> None:
        """POST the event; a 404 means Intercom knows no such user (yet): see ``unknown_user_policy``."""
        try:
            await self._request("POST", "/events", body)
            return
        except NotFoundError as exc:
            if "id" in body:
                raise  # addressed by a contact id (a lead): no identify can make it appear
            first = exc
        if self.options.unknown_user_policy == "create":
            await self._create_event_user(user_key, body)
            try:
                await self._request("POST", "/events", body)
                return
            except NotFoundError as exc:  # Intercom may take a moment to know the new contact
                first = exc
        await self._hold_event(body, first)

    async def _hold_event(self, body: dict[str, Any], first: NotFoundError) -> None:
        """Retry an unknown user's event for ``unknown_user_hold_s`` (the user may be created meanwhile,
        e.g. by their identify), then dead-letter it. Each retry has its own attempt budget: a 404
        is not a transient failure, so holding never uses up the retries of 5xx or timeouts."""
        hold_s = self.options.unknown_user_hold_s
        deadline = self.clock() + hold_s
        history = list(first.history)
        last = first
        delay = HOLD_FIRST_RETRY_S
        while (left := deadline - self.clock()) > 0:
            await self._sleep(min(delay, left))
            delay = min(delay * 2, HOLD_MAX_RETRY_S)
            try:
                await self._request("POST", "/events", body)
                return
            except NotFoundError as exc:
                history.extend(exc.history)
                last = exc
        error = NotFoundError(
            f"user not found: send identify first (Intercom answered {last.status} to POST /events "
            f"{len(history)} times over {hold_s:g}s)",
            status=last.status,
            error_body=last.error_body,
            code=last.code,
        )
        error.reason = "user_not_found"
        error.attempts, error.history = len(history), history
        error.request = {"method": "POST", "path": "/events", "body": body}
        raise error

    async def _create_event_user(self, user_key: str, body: dict[str, Any]) -> None:
        """``unknown_user_policy=create``: the contact the event names (userId as external_id)."""
        contact: dict[str, Any] = {"role": "user"}
        if body.get("user_id"):
            contact["external_id"] = body["user_id"]
        if body.get("email"):
            contact["email"] = body["email"]
        try:
            created = await self._request("POST", "/contacts", contact)
        except ConflictError as conflict:  # created meanwhile (search lag, or its identify)
            if not conflict.existing_id:
                raise
            if conflict.archived:
                await self._request("POST", f"/contacts/{conflict.existing_id}/unarchive")
            created, contact = {"id": conflict.existing_id, "role": "user"}, {}
        log.info("created contact %s for an event of a user unknown to Intercom", created.get("id"))
        self._remember_contact(user_key, created, contact or None, fresh=True)

    # -- companies --------------------------------------------------------------------------------

    def _remember_company(
        self, company_id: str, company: dict[str, Any], sent: dict[str, Any] | None = None
    ) -> str:
        intercom_id = str(company["id"])
        old = self.companies.get(company_id) or {}
        same = old.get("id") == intercom_id
        prints = dict(old.get("fingerprint") or {}) if same else {}
        if sent is not None:
            prints.update(fingerprint(sent))
        self.companies[company_id] = {**(old if same else {}), "id": intercom_id, "fingerprint": prints}
        return intercom_id

    async def _upsert_company(self, user_key: str, operation: Operation) -> None:
        company_id = operation.company_id
        assert company_id is not None
        body = await self._known_attributes("company", operation.body)
        known = self.companies.get(company_id)
        if known and known.get("fingerprint"):
            delta = changed_fields(body, known["fingerprint"])
            if not delta:
                self._skip(f"company {company_id}")
                return
            body = {"company_id": company_id, **delta}
        company, sent = await self._write("company", "POST", "/companies", body)
        self._remember_company(company_id, company, sent)

    async def _company_intercom_id(self, company_id: str) -> str:
        known = self.companies.get(company_id)
        if known:
            return str(known["id"])
        company = await self._request("POST", "/companies", {"company_id": company_id})
        return self._remember_company(company_id, company)

    async def _find_company(self, company_id: str) -> str | None:
        known = self.companies.get(company_id)
        if known:
            return str(known["id"])
        try:
            # Encoded: a groupId may hold '&', '#' or spaces that would otherwise change the query.
            found = await self._request("GET", f"/companies?{urlencode({'company_id': company_id})}")
        except NotFoundError:
            return None
        # Intercom answers with the company itself or with a company_list: accept both shapes.
        items = found.get("data", []) if isinstance(found, dict) and "data" in found else [found]
        company = next(
            (
                c
                for c in items
                if isinstance(c, dict) and c.get("id") and c.get("company_id", company_id) == company_id
            ),
            None,
        )
        return None if company is None else self._remember_company(company_id, company)

    async def _attached_contact(self, user_key: str, operation: Operation) -> tuple[str, dict[str, Any]]:
        contact_id = await self.resolve_contact(user_key, operation.contact)
        if contact_id is None:
            raise _not_found(
                f"no Intercom contact found for user {user_key!r} to attach company "
                f"{operation.company_id!r}: send an identify for this user first"
            )
        return contact_id, dict(self.contacts.get(user_key) or {})

    async def _attach_company(self, user_key: str, operation: Operation) -> None:
        company_id = operation.company_id
        assert company_id is not None
        company_intercom_id = await self._company_intercom_id(company_id)
        contact_id, entry = await self._attached_contact(user_key, operation)
        attached = list(entry.get("companies") or [])
        if company_id in attached:
            self._skip(f"attach of {company_id} to {user_key}")
            return
        await self._request("POST", f"/contacts/{contact_id}/companies", {"id": company_intercom_id})
        self.contacts[user_key] = {**entry, "companies": [*attached, company_id]}

    async def _detach_company(self, user_key: str, operation: Operation) -> None:
        company_id = operation.company_id
        assert company_id is not None
        contact_id, entry = await self._attached_contact(user_key, operation)
        company_intercom_id = await self._find_company(company_id)
        if company_intercom_id is not None:
            # A 404 means not attached (any more): the detach is already true.
            with contextlib.suppress(NotFoundError):
                await self._request("DELETE", f"/contacts/{contact_id}/companies/{company_intercom_id}")
        else:
            # Neither the table nor Intercom knows it, so the user is not attached: already true.
            log.info(
                "detach of %s from %s: the company is unknown to Intercom, nothing to do",
                company_id,
                user_key,
            )
        attached = list(entry.get("companies") or [])
        if company_id in attached:
            self.contacts[user_key] = {**entry, "companies": [c for c in attached if c != company_id]}

    async def _tag_company(self, user_key: str, operation: Operation) -> None:
        company_id = operation.company_id
        assert company_id is not None
        name = str(operation.body["name"])
        company_intercom_id = await self._company_intercom_id(company_id)
        entry = dict(self.companies.get(company_id) or {})
        tags = list(entry.get("tags") or [])
        if name.lower() in (t.lower() for t in tags):
            self._skip(f"tag {name!r} on {company_id}")
            return
        await self._request("POST", "/tags", {"name": name, "companies": [{"id": company_intercom_id}]})
        self.companies[company_id] = {**entry, "tags": [*tags, name]}

    # -- anonymous visitors, alias, deletion ------------------------------------------------------

    async def _user_contact(self, ref: ContactRef) -> str:
        """The Intercom id of the user ``ref.user_id``: found by external_id, else created (bare: the
        merge and the user's own identify fill it in)."""
        found = await self._search(ContactRef(user_id=ref.user_id))
        if found is not None and found.get("role", "user") == "user":
            return str(found["id"])
        try:
            created = await self._request("POST", "/contacts", {"external_id": ref.user_id, "role": "user"})
        except ConflictError as conflict:  # created meanwhile by the user's own identify
            if not conflict.existing_id:
                raise
            return str(conflict.existing_id)
        return str(created["id"])

    async def _merge_into(self, user_key: str, lead_id: str, user_id: str) -> None:
        """Merge the lead known under ``user_key`` into the user; a lead Intercom already merged (or
        deleted) answers 404 under both versions: the merge is then already true."""
        ref = ContactRef(user_id=user_id)
        if self.suppressed.get(user_id):  # best effort: the user's entry may live on another worker
            log.info("not merging lead %s: user %s is suppressed", lead_id, user_id)
            return
        into = await self._user_contact(ref)
        body: dict[str, Any] = {"from": lead_id, "into": into}
        if self.options.api_version != "2.10":
            body["skip_duplicate_validation"] = True  # 2.16 refuses non-duplicates otherwise
        try:
            await self._request("POST", "/contacts/merge", body)
        except NotFoundError:
            log.info("lead %s was already merged or deleted in Intercom", lead_id)
        # From now on this anonymousId addresses the user, never the merged-away lead.
        self.contacts[user_key] = {"id": into, "role": "user", "merged_from": lead_id, "fingerprint": {}}

    async def _ensure_lead(self, user_key: str, operation: Operation) -> None:
        """An anonymous visitor's lead, created on first use; a known key (a lead, or the user it was
        merged into) costs nothing."""
        if self.contacts.get(user_key):
            return
        created = await self._request("POST", "/contacts", operation.body or {"role": "lead"})
        self._remember_contact(user_key, created, operation.body, fresh=True)

    async def _merge_lead(self, user_key: str, operation: Operation) -> None:
        entry = self.contacts.get(user_key)
        if not entry or entry.get("role") != "lead" or operation.contact is None:
            return  # not a lead we created (or already merged): nothing to do, no call
        assert operation.contact.user_id is not None
        await self._merge_into(user_key, str(entry["id"]), operation.contact.user_id)

    async def _alias(self, user_key: str, operation: Operation) -> None:
        """``user_key`` is the previousId; ``body.user_id`` the new userId."""
        new_id = str(operation.body["user_id"])
        entry = self.contacts.get(user_key) or {}
        if entry.get("role") == "lead":
            await self._merge_into(user_key, str(entry["id"]), new_id)
            return
        if entry.get("merged_from"):
            self._skip(f"alias of {user_key}: its lead is already merged into a user")
            return
        contact_id = await self.resolve_contact(user_key, ContactRef(user_id=user_key))
        if contact_id is not None:
            try:
                await self._request("PUT", f"/contacts/{contact_id}", {"external_id": new_id})
                _forget(self.contacts, user_key)  # the old id names nobody now
                return
            except NotFoundError:
                _forget(self.contacts, user_key)
        self.reports.append(
            Report(
                "alias_unknown",
                f"alias {user_key!r} → {new_id!r}: no lead or user is known as {user_key!r}; nothing done",
                {"previous_id": user_key, "user_id": new_id},
            )
        )

    async def _delete_contact(self, user_key: str, operation: Operation) -> None:
        contact_id = await self.resolve_contact(user_key, operation.contact)
        if contact_id is None:
            log.info("deletion of %s: no Intercom contact found (counted as done)", user_key)
        else:
            with contextlib.suppress(NotFoundError):  # already gone: the deletion is true
                await self._request("DELETE", f"/contacts/{contact_id}")
        _forget(self.contacts, user_key)
        self.suppressed[user_key] = {"since": int(self.clock())}

    async def _unsuppress(self, user_key: str, operation: Operation) -> None:
        _forget(self.suppressed, user_key)
        log.info("suppression of %s lifted", user_key)

    # -- contact tags -----------------------------------------------------------------------------

    async def _tag_id(self, name: str, *, fresh: bool = False) -> str:
        key = f"tag:{name.lower()}"
        known = self.workspace.get(key)
        if known and not fresh:
            return str(known["id"])
        tag = await self._request("POST", "/tags", {"name": name})  # creates it, or returns it
        self.workspace[key] = {"id": str(tag["id"]), "name": tag.get("name", name)}
        return str(tag["id"])

    async def _tagged_contact(self, user_key: str, operation: Operation) -> tuple[str, bool]:
        """The contact to tag, and whether it is the table's entry for ``user_key``."""
        given = operation.body.get("contact_id")
        if given:
            return str(given), False
        contact_id = await self.resolve_contact(user_key, operation.contact)
        if contact_id is None:
            raise _not_found(f"no Intercom contact found for user {user_key!r} to tag")
        return contact_id, True

    async def _tag_contact(self, user_key: str, operation: Operation) -> None:
        name = str(operation.body["name"])
        contact_id, own = await self._tagged_contact(user_key, operation)
        entry = dict(self.contacts.get(user_key) or {}) if own else {}
        tags = list(entry.get("tags") or [])
        if own and name.lower() in (t.lower() for t in tags):
            self._skip(f"tag {name!r} on {user_key}")
            return
        tag_id = await self._tag_id(name)
        try:
            await self._request("POST", f"/contacts/{contact_id}/tags", {"id": tag_id})
        except NotFoundError:  # the cached tag was deleted in Intercom: look it up again, once
            await self._request(
                "POST", f"/contacts/{contact_id}/tags", {"id": await self._tag_id(name, fresh=True)}
            )
        if own:
            self.contacts[user_key] = {**entry, "tags": [*tags, name]}

    async def _untag_contact(self, user_key: str, operation: Operation) -> None:
        name = str(operation.body["name"])
        contact_id, own = await self._tagged_contact(user_key, operation)
        tag_id = await self._tag_id(name)
        with contextlib.suppress(NotFoundError):  # not applied (any more): the untag is true
            await self._request("DELETE", f"/contacts/{contact_id}/tags/{tag_id}")
        if own:
            entry = dict(self.contacts.get(user_key) or {})
            entry["tags"] = [t for t in entry.get("tags") or [] if t.lower() != name.lower()]
            self.contacts[user_key] = entry

    _handlers: dict[Action, Callable[[Executor, str, Operation], Awaitable[None]]] = {
        Action.UPSERT_CONTACT: _upsert_contact,
        Action.TRACK_EVENT: _track_event,
        Action.UPSERT_COMPANY: _upsert_company,
        Action.ATTACH_COMPANY: _attach_company,
        Action.DETACH_COMPANY: _detach_company,
        Action.TAG_COMPANY: _tag_company,
        Action.ENSURE_LEAD: _ensure_lead,
        Action.MERGE_LEAD: _merge_lead,
        Action.ALIAS: _alias,
        Action.DELETE_CONTACT: _delete_contact,
        Action.UNSUPPRESS: _unsuppress,
        Action.TAG_CONTACT: _tag_contact,
        Action.UNTAG_CONTACT: _untag_contact,
    }


def search_before_create(ref: ContactRef | None) -> bool:
    """Search only where a create cannot name the contact: email-only users (Intercom lets several
    contacts share an email, so the 409 is no lookup), a lookup override, leads (never searched: the
    table knows them, so this costs no call)."""
    if ref is None:
        return False
    override = ref.lookup_value is not None and ref.lookup != "external_id_or_email"
    return override or not ref.user_id


def _forget(table: Table, key: str) -> None:
    """Remove ``key`` (a tombstone in a Faust table's changelog); absent keys are fine."""
    if table.get(key) is not None:
        del table[key]


def _suppressed(user_key: str) -> RejectedError:
    error = RejectedError(
        f"user {user_key!r} was deleted on request and is suppressed: the event is not sent, so the "
        "person is not re-created"
    )
    error.reason = "suppressed"
    return error


def _not_found(message: str) -> NotFoundError:
    error = NotFoundError(message, status=None)
    error.reason = "contact_not_found"
    return error


def _cap_error(message: str) -> RejectedError:
    error = RejectedError(message)
    error.reason = "event_name_cap"
    return error
