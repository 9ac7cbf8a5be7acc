"""Anonymous visitors (leads and their merge), alias, deletion and suppression."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from streams.delivery.contacts import Contacts
from streams.delivery.core import (
    _forget,
)
from streams.errors import ContactPendingError, NotFoundError
from streams.mapping.plan import Action, ContactRef, Operation, Plan

log = logging.getLogger(__name__)


class Lifecycle(Contacts):
    async def _merge_into(self, user_key: str, lead_id: str, user_id: str) -> str | None:
        """Merge the lead known under ``user_key`` into the user; a lead Intercom already merged (or
        deleted) answers 404 under both versions: the merge is then already true."""
        ref = ContactRef(user_id=user_id)
        if self.suppressed.get(user_id):  # best effort: the user's entry may live on another worker
            log.info("not merging lead %s: user %s is suppressed", lead_id, user_id)
            return None
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
        return into

    async def _ensure_lead(self, user_key: str, operation: Operation) -> None:
        """An anonymous visitor's lead, created on first use; a known key (a lead, or the user it was
        merged into) costs nothing."""
        if self.contacts.get(user_key):
            return
        created = await self._request("POST", "/contacts", operation.body or {"role": "lead"})
        self._remember_contact(user_key, created, operation.body, fresh=True)

    async def _merge_lead(self, user_key: str, operation: Operation) -> None:
        entry = self.contacts.get(user_key)
        if operation.contact is None or operation.contact.user_id is None:
            return
        if not entry:
            # No lead yet (none, or its visits arrive after the sign-up): bind the anonymousId to the
            # user, so that late visits go to the user and no lead is left unmerged. No call now.
            self.contacts[user_key] = {
                "alias_of": operation.contact.user_id,
                "role": "user",
                "fingerprint": {},
            }
            return
        if entry.get("role") != "lead":
            return  # already merged or bound: nothing to do, no call
        await self._merge_into(user_key, str(entry["id"]), operation.contact.user_id)

    async def _alias(self, user_key: str, operation: Operation) -> None:
        """``user_key`` is the previousId; ``body.user_id`` the new userId."""
        new_id = str(operation.body["user_id"])
        entry = self.contacts.get(user_key) or {}
        if entry.get("role") == "lead":
            into = await self._merge_into(user_key, str(entry["id"]), new_id)
            if into is not None:
                self._learned(new_id, into)
            return
        if entry.get("merged_from") or entry.get("alias_of"):
            self._skip(f"alias of {user_key}: its lead is already merged into a user")
            return
        contact_id = await self.resolve_contact(user_key, ContactRef(user_id=user_key))
        if contact_id is not None:
            try:
                await self._request("PUT", f"/contacts/{contact_id}", {"external_id": new_id})
                _forget(self.contacts, user_key)  # the old id names nobody now
                self._learned(new_id, contact_id)
                return
            except NotFoundError:
                _forget(self.contacts, user_key)
        # previousId's identify may still be on its way: the sink parks the alias until it comes.
        raise ContactPendingError(
            "alias_unknown",
            f"alias {user_key!r} → {new_id!r}: no lead or user is known as {user_key!r}; nothing done",
        )

    def _learned(self, user_key: str, contact_id: str) -> None:
        """Tell ``user_key``'s partition that this contact is now its own: its parked work is released."""
        self.follow_ups.append(
            Plan(user_key, "alias", (Operation(Action.LEARN_CONTACT, {"id": contact_id}),))
        )

    async def _learn_contact(self, user_key: str, operation: Operation) -> None:
        """The contact became ``user_key``'s elsewhere (an alias on previousId's partition)."""
        if not (self.contacts.get(user_key) or {}).get("id"):
            self.contacts[user_key] = {"id": str(operation.body["id"]), "role": "user", "fingerprint": {}}

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
