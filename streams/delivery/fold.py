"""Folding one Intercom user into another: an alias whose new userId already has its own contact.

Intercom merges only a lead into a user (``POST /contacts/merge``); two users cannot be merged, and a
user cannot become a lead again. When ``identify(userId=new)`` reaches its partition before
``alias(previousId=old, userId=new)`` is applied, it creates a second user for ``new``, and the alias's
move (``PUT {external_id: new}`` on old's contact) answers 409 naming it. That young contact is then
folded into old's, which survives: old's contact carries the person's history, including what no API
call can move (conversations, notes); the young one holds only what this stream sent since (profile,
events, companies, tags), which can all be sent again.

The fold runs on the new id's partition (a follow-up of the alias), in line with the new id's other
records, so no event of ``new`` lands on the young contact while it is emptied. In order, each step
safe to redo after a crash: its events are posted to the survivor (by Intercom id: Intercom ignores a
repeat of the same name and created_at), its companies and tags attached, then it is deleted (404
counts as done); the caller's move then gives the survivor the new external_id and the young
contact's profile on top (it came from ``new``'s identify, the later one).

A contact for ``new`` created more than ``RACE_WINDOW_S`` before the alias happened is not young: it
is an established person, and deleting it could lose conversations. That alias is refused
(``alias_conflict``, replayable once the two are merged in Intercom), nothing deleted.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any
from urllib.parse import urlsplit

from streams.delivery.calls import IntercomCalls
from streams.errors import NotFoundError, RejectedError

log = logging.getLogger(__name__)

# Profile fields carried from the folded contact (owner_id is left: its type differs by version).
CARRIED_FIELDS = (
    "email", "phone", "name", "avatar", "signed_up_at", "last_seen_at", "unsubscribed_from_emails",
)  # fmt: skip
# The early identify ran at most this long before the alias (the client sends identify(new) and the
# alias moments apart; the window also covers clock skew and delivery delay).
RACE_WINDOW_S = 3600
MAX_EVENT_PAGES = 20  # a young contact holds few events; a bound keeps a bad answer from looping


class UserFold:
    """Moves a young user contact's data into another user, then deletes it."""

    def __init__(self, calls: IntercomCalls) -> None:
        self._calls = calls

    async def fold(
        self, young_id: str, into: str, external_id: str, *, alias_time: int | None
    ) -> dict[str, Any]:
        """Fold ``young_id`` into ``into`` (which is to hold ``external_id``); returns the young
        contact's profile, for the caller's move to send. ``alias_time``: when the alias happened
        (unix seconds); a contact created well before it is refused, not folded."""
        try:
            young = await self._calls.request("GET", f"/contacts/{young_id}")
        except NotFoundError:  # folded already (a redelivery): only the move is left
            return {}
        self._check_young(young, external_id, alias_time)
        await self._carry_events(young_id, into)
        await self._carry_links(young, into)
        with contextlib.suppress(NotFoundError):
            await self._calls.request("DELETE", f"/contacts/{young_id}")
        log.info("alias to %s: folded contact %s into %s", external_id, young_id, into)
        return _profile(young)

    @staticmethod
    def _check_young(young: dict[str, Any], external_id: str, alias_time: int | None) -> None:
        created = young.get("created_at")
        if young.get("role") == "user" and (
            alias_time is None or not isinstance(created, int) or created >= alias_time - RACE_WINDOW_S
        ):
            return
        raise RejectedError(
            f"alias to {external_id!r}: Intercom already has another user for it (contact "
            f"{young.get('id')}, created at {created}, well before the alias at {alias_time}); Intercom "
            "cannot merge two users and deleting an established one could lose its conversations, "
            "so nothing was changed: merge them in Intercom, then replay this alias",
            reason="alias_conflict",
        )

    async def _carry_events(self, young_id: str, into: str) -> None:
        path: str | None = f"/events?type=user&intercom_user_id={young_id}"
        for _ in range(MAX_EVENT_PAGES):
            if path is None:
                return
            page = await self._calls.request("GET", path) or {}
            for event in page.get("events") or []:
                body = {"id": into, "event_name": event["event_name"], "created_at": event["created_at"]}
                if event.get("metadata"):
                    body["metadata"] = event["metadata"]
                await self._calls.request("POST", "/events", body)
            path = _next_path((page.get("pages") or {}).get("next"))

    async def _carry_links(self, young: dict[str, Any], into: str) -> None:
        for kind in ("companies", "tags"):
            for ref in (young.get(kind) or {}).get("data") or []:
                with contextlib.suppress(NotFoundError):  # removed meanwhile: nothing to carry
                    await self._calls.request("POST", f"/contacts/{into}/{kind}", {"id": ref["id"]})


def _profile(contact: dict[str, Any]) -> dict[str, Any]:
    body = {k: contact[k] for k in CARRIED_FIELDS if contact.get(k) is not None}
    if contact.get("custom_attributes"):
        body["custom_attributes"] = dict(contact["custom_attributes"])
    return body


def _next_path(link: Any) -> str | None:
    """Intercom's ``pages.next`` is a full URL (or a path); the client takes paths."""
    if not isinstance(link, str) or not link:
        return None
    parts = urlsplit(link)
    return parts.path + (f"?{parts.query}" if parts.query else "")
