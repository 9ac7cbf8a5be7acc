"""Anonymous visitors (leads and their merge), alias, deletion and suppression."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

from streams.delivery.calls import IntercomCalls
from streams.delivery.contacts import ContactService
from streams.delivery.core import DeliveryOptions, PlanContext, Table, forget
from streams.delivery.fold import UserFold
from streams.errors import ConflictError, ContactPendingError, NotFoundError
from streams.mapping.plan import Action, ContactRef, Operation, Plan

log = logging.getLogger(__name__)


class LifecycleService:
    """Leads and their merge, alias, deletion and suppression."""

    def __init__(
        self,
        calls: IntercomCalls,
        contacts: ContactService,
        suppressed: Table,
        options: DeliveryOptions,
        clock: Callable[[], float],
    ) -> None:
        self._calls = calls
        self._contacts = contacts
        self._suppressed = suppressed
        self._options = options
        self._clock = clock
        self._fold = UserFold(calls)

    async def _merge_into(self, user_key: str, lead_id: str, user_id: str) -> str | None:
        """Merge the lead known under ``user_key`` into the user; a lead Intercom already merged (or
        deleted) answers 404 under both versions: the merge is then already true."""
        ref = ContactRef(user_id=user_id)
        if self._suppressed.get(user_id):  # best effort: the user's entry may live on another worker
            log.info("not merging lead %s: user %s is suppressed", lead_id, user_id)
            return None
        into = await self._contacts.user_contact(ref)
        body: dict[str, Any] = {"from": lead_id, "into": into}
        if self._options.api_version != "2.10":
            body["skip_duplicate_validation"] = True  # 2.16 refuses non-duplicates otherwise
        try:
            await self._calls.request("POST", "/contacts/merge", body)
        except NotFoundError:
            log.info("lead %s was already merged or deleted in Intercom", lead_id)
        # From now on this anonymousId addresses the user, never the merged-away lead.
        self._contacts.table[user_key] = {
            "id": into,
            "role": "user",
            "merged_from": lead_id,
            "fingerprint": {},
        }
        return into

    async def ensure_lead(self, ctx: PlanContext, user_key: str, operation: Operation) -> None:
        """An anonymous visitor's lead, created on first use; a known key (a lead, or the user it was
        merged into) costs nothing."""
        if self._contacts.table.get(user_key):
            return
        created = await self._calls.request("POST", "/contacts", operation.body or {"role": "lead"})
        self._contacts.remember(ctx, user_key, created, operation.body, fresh=True)

    async def merge_lead(self, ctx: PlanContext, user_key: str, operation: Operation) -> None:
        entry = self._contacts.table.get(user_key)
        if operation.contact is None or operation.contact.user_id is None:
            return
        if not entry:
            # No lead yet (none, or its visits arrive after the sign-up): bind the anonymousId to the
            # user, so that late visits go to the user and no lead is left unmerged. No call now.
            self._contacts.table[user_key] = {
                "alias_of": operation.contact.user_id,
                "role": "user",
                "fingerprint": {},
            }
            return
        if entry.get("role") != "lead":
            return  # already merged or bound: nothing to do, no call
        await self._merge_into(user_key, str(entry["id"]), operation.contact.user_id)

    async def alias(self, ctx: PlanContext, user_key: str, operation: Operation) -> None:
        """``user_key`` is the previousId; ``body.user_id`` the new userId."""
        new_id = str(operation.body["user_id"])
        entry = self._contacts.table.get(user_key) or {}
        if entry.get("role") == "lead":
            into = await self._merge_into(user_key, str(entry["id"]), new_id)
            if into is not None:
                self._learned(ctx, new_id, into)
            return
        if entry.get("merged_from") or entry.get("alias_of"):
            self._calls.skip(f"alias of {user_key}: its lead is already merged into a user")
            return
        contact_id = await self._contacts.resolve(user_key, ContactRef(user_id=user_key))
        if contact_id is not None:
            try:
                young = await self._move(contact_id, new_id)
                forget(self._contacts.table, user_key)  # the old id names nobody now
                self._learned(ctx, new_id, contact_id, young)
                return
            except NotFoundError:
                forget(self._contacts.table, user_key)
        # previousId's identify may still be on its way: the sink parks the alias until it comes.
        raise ContactPendingError(
            "alias_unknown",
            f"alias {user_key!r} → {new_id!r}: no lead or user is known as {user_key!r}; nothing done",
        )

    async def _move(self, contact_id: str, new_id: str) -> str | None:
        """Give old's contact the new external_id. When the new id already has a contact of its own
        (its identify came first), Intercom answers 409 naming it: that young contact is returned, to
        be folded in on the new id's partition, in line with the new id's other work."""
        try:
            await self._calls.request("PUT", f"/contacts/{contact_id}", {"external_id": new_id})
        except ConflictError as conflict:
            if not conflict.existing_id or conflict.existing_id == contact_id:
                raise
            return conflict.existing_id
        return None

    async def fold_contact(self, ctx: PlanContext, user_key: str, operation: Operation) -> None:
        """On ``user_key``'s (the new id's) partition: its young contact goes into old's, which then
        takes ``user_key`` as external_id, with the young contact's profile (streams/delivery/fold.py)."""
        young, into = str(operation.body["young"]), str(operation.body["into"])
        profile = await self._fold.fold(young, into, user_key, alias_time=ctx.event_time)
        await self._calls.request("PUT", f"/contacts/{into}", {**profile, "external_id": user_key})

    def _learned(self, ctx: PlanContext, user_key: str, contact_id: str, young: str | None = None) -> None:
        """Tell ``user_key``'s partition that this contact is now its own: its parked work is released.
        ``young``: that key's own contact, to fold into this one there first (the fold runs in line
        with the key's other records, so none of its events lands on the young contact meanwhile)."""
        operations: tuple[Operation, ...]
        if young is None:
            operations = (Operation(Action.LEARN_CONTACT, {"id": contact_id}),)
        else:
            operations = (
                Operation(Action.FOLD_CONTACT, {"young": young, "into": contact_id}),
                Operation(Action.LEARN_CONTACT, {"id": contact_id, "replaces": young}),
            )
        ctx.follow_ups.append(Plan(user_key, "alias", operations))

    async def learn_contact(self, ctx: PlanContext, user_key: str, operation: Operation) -> None:
        """The contact became ``user_key``'s elsewhere (an alias on previousId's partition); an entry
        naming the contact folded into it is replaced (fresh: the next identify sends everything)."""
        known = (self._contacts.table.get(user_key) or {}).get("id")
        if not known or known == operation.body.get("replaces"):
            self._contacts.table[user_key] = {
                "id": str(operation.body["id"]),
                "role": "user",
                "fingerprint": {},
            }

    async def delete(self, ctx: PlanContext, user_key: str, operation: Operation) -> None:
        contact_id = await self._contacts.resolve(user_key, operation.contact)
        if contact_id is None:
            log.info("deletion of %s: no Intercom contact found (counted as done)", user_key)
        else:
            with contextlib.suppress(NotFoundError):  # already gone: the deletion is true
                await self._calls.request("DELETE", f"/contacts/{contact_id}")
        forget(self._contacts.table, user_key)
        self._suppressed[user_key] = {"since": int(self._clock())}

    async def unsuppress(self, ctx: PlanContext, user_key: str, operation: Operation) -> None:
        forget(self._suppressed, user_key)
        log.info("suppression of %s lifted", user_key)
