"""Contact tags: the workspace's tag ids, tag and untag."""

from __future__ import annotations

import contextlib
import logging

from streams.delivery.calls import IntercomCalls
from streams.delivery.contacts import ContactService
from streams.delivery.core import PlanContext, Table, contact_not_found
from streams.errors import NotFoundError
from streams.mapping.plan import Operation

log = logging.getLogger(__name__)


class TagService:
    """Contact tags; the workspace table keeps the tag ids (``tag:<lower-case name>``)."""

    def __init__(self, calls: IntercomCalls, contacts: ContactService, workspace: Table) -> None:
        self._calls = calls
        self._contacts = contacts
        self._workspace = workspace

    async def _tag_id(self, name: str, *, fresh: bool = False) -> str:
        key = f"tag:{name.lower()}"
        known = self._workspace.get(key)
        if known and not fresh:
            return str(known["id"])
        tag = await self._calls.request("POST", "/tags", {"name": name})  # creates it, or returns it
        self._workspace[key] = {"id": str(tag["id"]), "name": tag.get("name", name)}
        return str(tag["id"])

    async def _tagged_contact(self, user_key: str, operation: Operation) -> tuple[str, bool]:
        """The contact to tag, and whether it is the table's entry for ``user_key``."""
        given = operation.body.get("contact_id")
        if given:
            return str(given), False
        contact_id = await self._contacts.resolve(user_key, operation.contact)
        if contact_id is None:
            raise contact_not_found(f"no Intercom contact found for user {user_key!r} to tag")
        return contact_id, True

    async def tag(self, ctx: PlanContext, user_key: str, operation: Operation) -> None:
        name = str(operation.body["name"])
        contact_id, own = await self._tagged_contact(user_key, operation)
        entry = dict(self._contacts.table.get(user_key) or {}) if own else {}
        tags = list(entry.get("tags") or [])
        if own and name.lower() in (t.lower() for t in tags):
            self._calls.skip(f"tag {name!r} on {user_key}")
            return
        tag_id = await self._tag_id(name)
        try:
            await self._calls.request("POST", f"/contacts/{contact_id}/tags", {"id": tag_id})
        except NotFoundError:  # the cached tag was deleted in Intercom: look it up again, once
            await self._calls.request(
                "POST", f"/contacts/{contact_id}/tags", {"id": await self._tag_id(name, fresh=True)}
            )
        if own:
            self._contacts.table[user_key] = {**entry, "tags": [*tags, name]}

    async def untag(self, ctx: PlanContext, user_key: str, operation: Operation) -> None:
        name = str(operation.body["name"])
        contact_id, own = await self._tagged_contact(user_key, operation)
        tag_id = await self._tag_id(name)
        with contextlib.suppress(NotFoundError):  # not applied (any more): the untag is true
            await self._calls.request("DELETE", f"/contacts/{contact_id}/tags/{tag_id}")
        if own:
            entry = dict(self._contacts.table.get(user_key) or {})
            entry["tags"] = [t for t in entry.get("tags") or [] if t.lower() != name.lower()]
            self._contacts.table[user_key] = entry
