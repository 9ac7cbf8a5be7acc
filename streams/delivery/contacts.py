"""Contacts: find (table, then search), create first, update what changed."""

from __future__ import annotations

import logging
from typing import Any

from streams.delivery.calls import IntercomCalls
from streams.delivery.core import PlanContext, Table, changed_fields, fingerprint, forget
from streams.delivery.writes import AttributeWriter
from streams.errors import ConflictError, NotFoundError
from streams.mapping.plan import ContactRef, Operation

log = logging.getLogger(__name__)


# Never held back by the event-time check: they say who the contact is.
IDENTITY_FIELDS = frozenset({"external_id", "role"})


class ContactService:
    """The contacts table and the calls that find, create and update contacts."""

    def __init__(self, calls: IntercomCalls, writer: AttributeWriter, contacts: Table) -> None:
        self._calls = calls
        self._writer = writer
        self.table = contacts

    def remember(
        self,
        ctx: PlanContext | None,
        user_key: str,
        contact: dict[str, Any],
        sent: dict[str, Any] | None = None,
        fresh: bool = False,
    ) -> str:
        """Learn the contact's id; ``sent`` is what Intercom accepted (merged into the fingerprint),
        ``fresh`` starts the entry over (a new contact, or one found by search)."""
        contact_id = str(contact["id"])
        old = self.table.get(user_key) or {}
        base = old if old.get("id") == contact_id and not fresh else {}
        prints = dict(base.get("fingerprint") or {})
        if sent is not None:
            prints.update(fingerprint(sent))
        role = contact.get("role") or base.get("role") or "user"
        times = dict(base.get("times") or {})
        if ctx is not None:
            times = ctx.applied_times(times, sent)
        entry = {**base, "id": contact_id, "role": role, "fingerprint": prints}
        if times:
            entry["times"] = times  # field → event time of the value applied
        self.table[user_key] = entry
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
        result = await self._calls.request("POST", "/contacts/search", {"query": query})
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

    def is_known(self, user_key: str) -> bool:
        return bool((self.table.get(user_key) or {}).get("id"))

    async def resolve(self, user_key: str, ref: ContactRef | None) -> str | None:
        known = self.table.get(user_key)
        if known and known.get("id"):
            return str(known["id"])
        if known and known.get("alias_of"):
            # An anonymousId whose user signed up before any of its visits arrived: its late events
            # go to that user, found (or created bare) on first use.
            contact_id = await self.user_contact(ContactRef(user_id=str(known["alias_of"])))
            self.table[user_key] = {**known, "id": contact_id}
            return contact_id
        if ref is None or ref.is_lead:
            return None  # leads cannot be searched by anonymousId: only the table knows them
        found = await self._search(ref)
        return None if found is None else self.remember(None, user_key, found, fresh=True)

    async def _update(self, ctx: PlanContext, user_key: str, contact_id: str, body: dict[str, Any]) -> bool:
        """PUT what changed to a known contact; False when Intercom no longer has it (404)."""
        known = self.table.get(user_key) or {}
        # An identify older than the values already applied (it arrived late) changes only the rest.
        body = ctx.newer_only(body, known.get("times") or {}, IDENTITY_FIELDS)
        send = changed_fields(body, known.get("fingerprint") or {})
        if not send:
            self._calls.skip(f"identify of {user_key}")
            return True
        try:
            updated, sent = await self._writer.write(ctx, "contact", "PUT", f"/contacts/{contact_id}", send)
        except NotFoundError:
            return False
        self.remember(ctx, user_key, updated, sent)
        return True

    async def upsert(self, ctx: PlanContext, user_key: str, operation: Operation) -> None:
        body = await self._writer.known_attributes(ctx, "contact", operation.body)
        from_table = bool(self.table.get(user_key))
        search = search_before_create(operation.contact)
        # A user with an external_id is created first: a new contact costs one call, and for one
        # Intercom already has, the 409 names it (an update: two calls, as search-then-update).
        contact_id = await self.resolve(user_key, operation.contact) if from_table or search else None
        if contact_id is not None:
            if await self._update(ctx, user_key, contact_id, body):
                return
            # Deleted in Intercom since we learned its id: forget it and resolve again (search, then
            # create), in this same execution. A contact the search just gave us is not searched twice.
            log.info(
                "known contact %s no longer exists in Intercom; resolving %s again", contact_id, user_key
            )
            forget(self.table, user_key)
            again = from_table and search
            contact_id = await self.resolve(user_key, operation.contact) if again else None
            if contact_id is not None:
                if await self._update(ctx, user_key, contact_id, body):
                    return
                forget(self.table, user_key)
        try:
            created, sent = await self._writer.write(ctx, "contact", "POST", "/contacts", body)
        except ConflictError as conflict:
            if not conflict.existing_id:
                raise
            # Known to Intercom (created first), search lag or a race: Intercom names the contact, so
            # update it (no search). The name may be for the external_id or for the email of a user
            # without one (then this sets its external_id): docs/mapping.md, "Create first".
            if conflict.archived:
                await self._calls.request("POST", f"/contacts/{conflict.existing_id}/unarchive")
            created, sent = await self._writer.write(
                ctx, "contact", "PUT", f"/contacts/{conflict.existing_id}", body
            )
        self.remember(ctx, user_key, created, sent, fresh=True)

    async def user_contact(self, ref: ContactRef) -> str:
        """The Intercom id of the user ``ref.user_id``: found by external_id, else created (bare: the
        merge and the user's own identify fill it in)."""
        found = await self._search(ContactRef(user_id=ref.user_id))
        if found is not None and found.get("role", "user") == "user":
            return str(found["id"])
        try:
            created = await self._calls.request(
                "POST", "/contacts", {"external_id": ref.user_id, "role": "user"}
            )
        except ConflictError as conflict:  # created meanwhile by the user's own identify
            if not conflict.existing_id:
                raise
            return str(conflict.existing_id)
        return str(created["id"])


def search_before_create(ref: ContactRef | None) -> bool:
    """Search only where a create cannot name the contact: email-only users (Intercom lets several
    contacts share an email, so the 409 is no lookup), a lookup override, leads (never searched: the
    table knows them, so this costs no call)."""
    if ref is None:
        return False
    override = ref.lookup_value is not None and ref.lookup != "external_id_or_email"
    return override or not ref.user_id
