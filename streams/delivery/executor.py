"""Performs a Plan's operations in order: each action goes to its resource's service.

The tables it reads and writes are described in core.py. Layout: core.py (options, fingerprints, the
per-plan context), calls.py (one call with its retries), writes.py (the attribute policy), one
service per Intercom resource: contacts.py, events.py, companies.py, tags.py, lifecycle.py (leads,
alias, deletion). The executor builds them, shares one ``IntercomCalls`` between them, and
dispatches each operation through a table.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from streams.delivery.attributes import AttributeCache
from streams.delivery.calls import IntercomCalls
from streams.delivery.companies import CompanyService
from streams.delivery.contacts import ContactService
from streams.delivery.core import (
    PLAN,
    Call,
    Delivered,
    DeliveryOptions,
    PlanContext,
    Table,
    changed_fields,
    fingerprint,
    suppressed_error,
)
from streams.delivery.event_names import EventNames, LocalEventNames
from streams.delivery.events import EventService
from streams.delivery.lifecycle import LifecycleService
from streams.delivery.outage import OutageDetector
from streams.delivery.retry import RetryPolicy
from streams.delivery.tags import TagService
from streams.delivery.writes import AttributeWriter
from streams.errors import ContactPendingError
from streams.mapping.plan import Action, Operation, Plan
from streams.observability.health import HealthState
from streams.workspace.state import event_name_key

# Operations that need the user's contact to exist: parked while it does not.
NEEDS_CONTACT = frozenset(
    {
        Action.TRACK_EVENT, Action.ATTACH_COMPANY, Action.DETACH_COMPANY, Action.TAG_CONTACT,
        Action.UNTAG_CONTACT, Action.ALIAS,
    }
)  # fmt: skip
# What an alias asks of the new id's partition (core.py, follow-ups): safe to perform again, and
# planned from another user's input record, so a request of only these is never skipped as done.
FOLLOW_UP_ACTIONS = frozenset({Action.LEARN_CONTACT.value, Action.FOLD_CONTACT.value})
# Operations a suppressed user's plan may still carry (they end or lift the suppression).
_LIFECYCLE = frozenset({Action.DELETE_CONTACT, Action.UNSUPPRESS})

Handler = Callable[[PlanContext, str, Operation], Awaitable[None]]


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
        outage: OutageDetector | None = None,
        health: HealthState | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,  # wall time: refusal times are kept in a table
    ) -> None:
        """``outage`` and ``health``: the worker's own (one each per worker, shared by its executors);
        without them this executor has its own."""
        self.options = options or DeliveryOptions()
        workspace = {} if workspace is None else workspace
        self.suppressed: Table = {} if suppressed is None else suppressed
        self.health = health if health is not None else HealthState()
        self.outage = outage if outage is not None else OutageDetector(health=self.health)
        self.calls = IntercomCalls(
            call, policy or RetryPolicy(), outage=self.outage, health=self.health, sleep=sleep
        )
        self.attributes = attributes or AttributeCache(
            workspace, self.options.attribute_refresh_s, clock=clock
        )
        # Event-name slots and Intercom's refusals (streams/delivery/event_names.py): in the workspace
        # table for one process, on the workspace topic for a deployment.
        names = event_names or LocalEventNames(workspace, self.options.event_name_cap, clock)
        writer = AttributeWriter(self.calls, self.attributes, self.options)
        self.contacts = ContactService(self.calls, writer, contacts)
        self.events = EventService(self.calls, self.contacts, names, self.options, clock)
        self.companies = CompanyService(self.calls, writer, self.contacts, companies)
        self.tags = TagService(self.calls, self.contacts, workspace)
        self.lifecycle = LifecycleService(self.calls, self.contacts, self.suppressed, self.options, clock)
        self._handlers: dict[Action, Handler] = {
            Action.UPSERT_CONTACT: self.contacts.upsert,
            Action.TRACK_EVENT: self.events.track,
            Action.UPSERT_COMPANY: self.companies.upsert,
            Action.ATTACH_COMPANY: self.companies.attach,
            Action.DETACH_COMPANY: self.companies.detach,
            Action.TAG_COMPANY: self.companies.tag,
            Action.ENSURE_LEAD: self.lifecycle.ensure_lead,
            Action.MERGE_LEAD: self.lifecycle.merge_lead,
            Action.ALIAS: self.lifecycle.alias,
            Action.DELETE_CONTACT: self.lifecycle.delete,
            Action.UNSUPPRESS: self.lifecycle.unsuppress,
            Action.TAG_CONTACT: self.tags.tag,
            Action.UNTAG_CONTACT: self.tags.untag,
            Action.LEARN_CONTACT: self.lifecycle.learn_contact,
            Action.FOLD_CONTACT: self.lifecycle.fold_contact,
        }

    async def execute(
        self, plan: Plan, *, event_time: int | None = None, unknown_user: bool = False
    ) -> Delivered:
        """Perform ``plan``; ``event_time`` (unix seconds) keeps newer values from being overwritten.
        ``unknown_user``: Intercom did not know the user a moment ago (the sink remembers it): work
        that needs the contact is parked at once, without a call, until the contact is known.

        Raises ``ContactPendingError`` (with ``operation_index``, and the reports and follow-ups so
        far) when the rest of the plan must wait for a contact, and other ``DeliveryError``s for work
        that failed for good."""
        ctx = PlanContext(event_time, list(plan.reports))
        if self.suppressed.get(plan.user_key) and not any(op.action in _LIFECYCLE for op in plan.operations):
            raise suppressed_error(plan.user_key)
        counting = PLAN.set(ctx)  # this task's calls count for this plan (Delivered.calls)
        try:
            await self._perform(ctx, plan, unknown_user)
        finally:
            PLAN.reset(counting)
        return ctx.delivered()

    async def _perform(self, ctx: PlanContext, plan: Plan, unknown_user: bool) -> None:
        for index, operation in enumerate(plan.operations):
            try:
                if unknown_user and operation.action in NEEDS_CONTACT and not self.is_known(plan.user_key):
                    raise ContactPendingError(
                        "user_not_found",
                        f"user {plan.user_key!r} is not known to Intercom yet (it answered 404 recently)",
                    )
                await self._handlers[operation.action](ctx, plan.user_key, operation)
            except ContactPendingError as pending:
                raise ctx.pending(pending, index) from pending

    def is_known(self, user_key: str) -> bool:
        return self.contacts.is_known(user_key)

    @property
    def skipped(self) -> int:
        """Writes not made because Intercom already holds the same values."""
        return self.calls.skipped


__all__ = [
    "FOLLOW_UP_ACTIONS", "NEEDS_CONTACT", "Call", "Delivered", "DeliveryOptions", "Executor", "Table",
    "changed_fields", "event_name_key", "fingerprint",
]  # fmt: skip
