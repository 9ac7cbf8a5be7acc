"""Track events: POST /events, the event-name cap, users Intercom does not know."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from streams.delivery.calls import IntercomCalls
from streams.delivery.contacts import ContactService
from streams.delivery.core import DeliveryOptions, PlanContext, contact_not_found
from streams.delivery.event_names import EventNames
from streams.errors import ConflictError, ContactPendingError, NotFoundError, RejectedError
from streams.mapping.plan import Operation
from streams.workspace.state import event_name_key

log = logging.getLogger(__name__)

_EVENT_NAME_CAP = re.compile(r"active event names", re.I)


class EventService:
    """Track events; needs the contacts to address leads and email-only users by id."""

    def __init__(
        self,
        calls: IntercomCalls,
        contacts: ContactService,
        event_names: EventNames,
        options: DeliveryOptions,
        clock: Callable[[], float],
    ) -> None:
        self._calls = calls
        self._contacts = contacts
        self.event_names = event_names
        self._options = options
        self._clock = clock

    async def track(self, ctx: PlanContext, user_key: str, operation: Operation) -> None:
        body = dict(operation.body)
        ref = operation.contact
        if "user_id" not in body and ref is not None:
            # Leads (by id from the table) and email-only users (resolved once, then by id).
            contact_id = await self._contacts.resolve(user_key, ref)
            if contact_id is not None:
                body["id"] = contact_id  # Intercom addresses leads by their id only
                body.pop("email", None)
            elif ref.is_lead:
                raise contact_not_found(
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
            await self._send_event(ctx, user_key, body)
        except RejectedError as exc:
            if not _EVENT_NAME_CAP.search(exc.message):
                raise
            # Intercom is the authority on the 120 names (other workers count their own names):
            # remember its no so that this name's next events cost no call until the re-check.
            await self.event_names.refuse(name, exc.message)
            raise exc.completed(reason="event_name_cap") from exc
        await self.event_names.accept(name)

    def _check_refused_name(self, name: str, given: Any) -> None:
        """Dead-letter at once (no call) an event whose name Intercom refused less than
        ``event_name_recheck_s`` ago; after that, the next event is sent to ask again."""
        refused = self.event_names.refusal(name)
        if refused is None:
            return
        age = self._clock() - refused.at
        if age < self._options.event_name_recheck_s:
            raise _cap_error(
                f"event name {given!r} was refused by Intercom {int(age)}s ago (at most 120 active "
                f"event names); not sent, re-checked {self._options.event_name_recheck_s:g}s after the "
                "refusal"
            )

    async def _send_event(self, ctx: PlanContext, user_key: str, body: dict[str, Any]) -> None:
        """POST the event; a 404 means Intercom knows no such user (yet): see ``unknown_user_policy``."""
        try:
            await self._calls.request("POST", "/events", body)
            return
        except NotFoundError as exc:
            if "id" in body:
                raise  # addressed by a contact id (a lead): no identify can make it appear
            first = exc
        if self._options.unknown_user_policy == "create":
            await self._create_event_user(ctx, user_key, body)
            try:
                await self._calls.request("POST", "/events", body)
                return
            except NotFoundError as exc:  # Intercom may take a moment to know the new contact
                first = exc
        # Not known (yet): the sink parks this event until the user's identify creates the contact, and
        # remembers the user as unknown meanwhile, so the user's next events cost no call.
        raise ContactPendingError(
            "user_not_found",
            f"user not found: Intercom answered {first.status} to POST /events; send identify first",
        )

    async def _create_event_user(self, ctx: PlanContext, user_key: str, body: dict[str, Any]) -> None:
        """``unknown_user_policy=create``: the contact the event names (userId as external_id)."""
        contact: dict[str, Any] = {"role": "user"}
        if body.get("user_id"):
            contact["external_id"] = body["user_id"]
        if body.get("email"):
            contact["email"] = body["email"]
        try:
            created = await self._calls.request("POST", "/contacts", contact)
        except ConflictError as conflict:  # created meanwhile (search lag, or its identify)
            if not conflict.existing_id:
                raise
            if conflict.archived:
                await self._calls.request("POST", f"/contacts/{conflict.existing_id}/unarchive")
            created, contact = {"id": conflict.existing_id, "role": "user"}, {}
        log.info("created contact %s for an event of a user unknown to Intercom", created.get("id"))
        self._contacts.remember(ctx, user_key, created, contact or None, fresh=True)


def _cap_error(message: str) -> RejectedError:
    return RejectedError(message, reason="event_name_cap")
