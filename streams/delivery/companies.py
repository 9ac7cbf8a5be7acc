"""Companies: upsert, attach to and detach from contacts, company tags."""

from __future__ import annotations

import contextlib
import logging
from typing import Any
from urllib.parse import urlencode

from streams.delivery.calls import IntercomCalls
from streams.delivery.contacts import ContactService
from streams.delivery.core import PlanContext, Table, changed_fields, contact_not_found, fingerprint
from streams.delivery.writes import AttributeWriter
from streams.errors import NotFoundError
from streams.mapping.plan import Operation

log = logging.getLogger(__name__)


class CompanyService:
    """The companies table, company upserts and tags, and attaching users to companies."""

    def __init__(
        self, calls: IntercomCalls, writer: AttributeWriter, contacts: ContactService, companies: Table
    ) -> None:
        self._calls = calls
        self._writer = writer
        self._contacts = contacts
        self.table = companies

    def _remember(
        self,
        ctx: PlanContext | None,
        company_id: str,
        company: dict[str, Any],
        sent: dict[str, Any] | None = None,
    ) -> str:
        intercom_id = str(company["id"])
        old = self.table.get(company_id) or {}
        same = old.get("id") == intercom_id
        prints = dict(old.get("fingerprint") or {}) if same else {}
        if sent is not None:
            prints.update(fingerprint(sent))
        times = dict(old.get("times") or {}) if same else {}
        if ctx is not None:
            times = ctx.applied_times(times, sent)
        entry = {**(old if same else {}), "id": intercom_id, "fingerprint": prints}
        if times:
            entry["times"] = times  # field → event time of the value applied
        self.table[company_id] = entry
        return intercom_id

    async def upsert(self, ctx: PlanContext, user_key: str, operation: Operation) -> None:
        company_id = operation.company_id
        assert company_id is not None
        body = await self._writer.known_attributes(ctx, "company", operation.body)
        known = self.table.get(company_id)
        if known and known.get("fingerprint"):
            # A group older than the values already applied (it arrived late) changes only the rest.
            body = ctx.newer_only(body, known.get("times") or {}, frozenset({"company_id"}))
            delta = changed_fields(body, known["fingerprint"])
            if not delta:
                self._calls.skip(f"company {company_id}")
                return
            body = {"company_id": company_id, **delta}
        company, sent = await self._writer.write(ctx, "company", "POST", "/companies", body)
        self._remember(ctx, company_id, company, sent)

    async def _company_intercom_id(self, company_id: str) -> str:
        known = self.table.get(company_id)
        if known:
            return str(known["id"])
        company = await self._calls.request("POST", "/companies", {"company_id": company_id})
        return self._remember(None, company_id, company)

    async def _find_company(self, company_id: str) -> str | None:
        known = self.table.get(company_id)
        if known:
            return str(known["id"])
        try:
            # Encoded: a groupId may hold '&', '#' or spaces that would otherwise change the query.
            found = await self._calls.request("GET", f"/companies?{urlencode({'company_id': company_id})}")
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
        return None if company is None else self._remember(None, company_id, company)

    async def _attached_contact(self, user_key: str, operation: Operation) -> tuple[str, dict[str, Any]]:
        contact_id = await self._contacts.resolve(user_key, operation.contact)
        if contact_id is None:
            raise contact_not_found(
                f"no Intercom contact found for user {user_key!r} to attach company "
                f"{operation.company_id!r}: send an identify for this user first"
            )
        return contact_id, dict(self._contacts.table.get(user_key) or {})

    async def attach(self, ctx: PlanContext, user_key: str, operation: Operation) -> None:
        company_id = operation.company_id
        assert company_id is not None
        company_intercom_id = await self._company_intercom_id(company_id)
        contact_id, entry = await self._attached_contact(user_key, operation)
        attached = list(entry.get("companies") or [])
        if company_id in attached:
            self._calls.skip(f"attach of {company_id} to {user_key}")
            return
        await self._calls.request("POST", f"/contacts/{contact_id}/companies", {"id": company_intercom_id})
        self._contacts.table[user_key] = {**entry, "companies": [*attached, company_id]}

    async def detach(self, ctx: PlanContext, user_key: str, operation: Operation) -> None:
        company_id = operation.company_id
        assert company_id is not None
        contact_id, entry = await self._attached_contact(user_key, operation)
        company_intercom_id = await self._find_company(company_id)
        if company_intercom_id is not None:
            # A 404 means not attached (any more): the detach is already true.
            with contextlib.suppress(NotFoundError):
                await self._calls.request("DELETE", f"/contacts/{contact_id}/companies/{company_intercom_id}")
        else:
            # Neither the table nor Intercom knows it, so the user is not attached: already true.
            log.info(
                "detach of %s from %s: the company is unknown to Intercom, nothing to do",
                company_id,
                user_key,
            )
        attached = list(entry.get("companies") or [])
        if company_id in attached:
            self._contacts.table[user_key] = {**entry, "companies": [c for c in attached if c != company_id]}

    async def tag(self, ctx: PlanContext, user_key: str, operation: Operation) -> None:
        company_id = operation.company_id
        assert company_id is not None
        name = str(operation.body["name"])
        company_intercom_id = await self._company_intercom_id(company_id)
        entry = dict(self.table.get(company_id) or {})
        tags = list(entry.get("tags") or [])
        if name.lower() in (t.lower() for t in tags):
            self._calls.skip(f"tag {name!r} on {company_id}")
            return
        await self._calls.request("POST", "/tags", {"name": name, "companies": [{"id": company_intercom_id}]})
        self.table[company_id] = {**entry, "tags": [*tags, name]}
