"""Performs a Plan's operations in order, resolving contact and company references.

The tables are plain mappings here (Faust tables in the worker, dicts in tests):
  contacts:  user key   → {"id": <Intercom contact id>, "role": "user"|"lead"}
  companies: company_id → {"id": <Intercom company id>}
Every id learned goes into a table so that the next event for the same user costs no search.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from streams.delivery.retry import RetryPolicy, with_retries
from streams.errors import ConflictError, DeliveryError, NotFoundError
from streams.mapping.plan import Action, ContactRef, Operation, Plan

log = logging.getLogger(__name__)

# call(method, path, body) → parsed JSON, or raises a DeliveryError subclass.
Call = Callable[[str, str, Any], Awaitable[Any]]
Table = MutableMapping[str, Any]


class Executor:
    def __init__(
        self, call: Call, contacts: Table, companies: Table, policy: RetryPolicy | None = None
    ) -> None:
        self._call = call
        self.contacts = contacts
        self.companies = companies
        self.policy = policy or RetryPolicy()

    async def execute(self, plan: Plan) -> None:
        for operation in plan.operations:
            handler = self._handlers[operation.action]
            await handler(self, plan.user_key, operation)

    # -- calls ------------------------------------------------------------------------------------

    async def _request(self, method: str, path: str, body: Any = None) -> Any:
        try:
            return await with_retries(lambda: self._call(method, path, body), self.policy)
        except DeliveryError as exc:
            exc.request = {"method": method, "path": path, "body": body}
            raise

    # -- contacts ---------------------------------------------------------------------------------

    def _remember_contact(self, user_key: str, contact: dict[str, Any]) -> str:
        contact_id = str(contact["id"])
        self.contacts[user_key] = {"id": contact_id, "role": contact.get("role", "user")}
        return contact_id

    async def _search(self, ref: ContactRef) -> dict[str, Any] | None:
        filters = []
        if ref.user_id:
            filters.append({"field": "external_id", "operator": "=", "value": ref.user_id})
        if ref.email:
            # Intercom stores emails as given but matches case-sensitively: search the lower-cased form.
            filters.append({"field": "email", "operator": "=", "value": ref.email.lower()})
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
        return None if found is None else self._remember_contact(user_key, found)

    async def _upsert_contact(self, user_key: str, operation: Operation) -> None:
        body = operation.body
        contact_id = await self.resolve_contact(user_key, operation.contact)
        if contact_id is not None:
            try:
                updated = await self._request("PUT", f"/contacts/{contact_id}", body)
                self._remember_contact(user_key, updated)
                return
            except NotFoundError:
                # Deleted in Intercom since we learned its id: forget it and create it again.
                log.info("known contact %s no longer exists in Intercom; re-creating", contact_id)
                self.contacts.pop(user_key, None)
        try:
            created = await self._request("POST", "/contacts", body)
        except ConflictError as conflict:
            if not conflict.existing_id:
                raise
            # Search lag or a race: Intercom names the contact, so update it instead (no second search).
            if conflict.archived:
                await self._request("POST", f"/contacts/{conflict.existing_id}/unarchive")
            created = await self._request("PUT", f"/contacts/{conflict.existing_id}", body)
        self._remember_contact(user_key, created)

    # -- events -----------------------------------------------------------------------------------

    async def _track_event(self, user_key: str, operation: Operation) -> None:
        body = dict(operation.body)
        ref = operation.contact
        if ref is not None and ref.is_lead:
            lead_id = await self.resolve_contact(user_key, ref)
            if lead_id is None:
                raise _not_found(
                    f"no Intercom lead is known for anonymousId {ref.anonymous_id!r}: "
                    "send an identify for this visitor first"
                )
            body["id"] = lead_id  # Intercom addresses leads by their id only
        await self._request("POST", "/events", body)

    # -- companies --------------------------------------------------------------------------------

    def _remember_company(self, company_id: str, company: dict[str, Any]) -> str:
        intercom_id = str(company["id"])
        self.companies[company_id] = {"id": intercom_id}
        return intercom_id

    async def _upsert_company(self, user_key: str, operation: Operation) -> None:
        assert operation.company_id is not None
        company = await self._request("POST", "/companies", operation.body)
        self._remember_company(operation.company_id, company)

    async def _attach_company(self, user_key: str, operation: Operation) -> None:
        assert operation.company_id is not None
        known = self.companies.get(operation.company_id)
        company_intercom_id = known["id"] if known else None
        if company_intercom_id is None:
            company = await self._request("POST", "/companies", {"company_id": operation.company_id})
            company_intercom_id = self._remember_company(operation.company_id, company)
        contact_id = await self.resolve_contact(user_key, operation.contact)
        if contact_id is None:
            raise _not_found(
                f"no Intercom contact found for user {user_key!r} to attach company "
                f"{operation.company_id!r}: send an identify for this user first"
            )
        await self._request("POST", f"/contacts/{contact_id}/companies", {"id": company_intercom_id})

    _handlers: dict[Action, Callable[[Executor, str, Operation], Awaitable[None]]] = {
        Action.UPSERT_CONTACT: _upsert_contact,
        Action.TRACK_EVENT: _track_event,
        Action.UPSERT_COMPANY: _upsert_company,
        Action.ATTACH_COMPANY: _attach_company,
    }


def _not_found(message: str) -> NotFoundError:
    error = NotFoundError(message, status=None)
    error.reason = "contact_not_found"
    return error
