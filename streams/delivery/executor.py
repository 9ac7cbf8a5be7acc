"""Performs a Plan's operations in order: each action goes to its resource's module.

The tables it reads and writes, and what ``execute`` returns, are described in core.py.

Layout: core.py (options, calls, retries, attribute policy, fingerprints), contacts.py, events.py,
companies.py, tags.py, lifecycle.py (leads, alias, deletion).
"""

from __future__ import annotations

from streams.delivery.companies import Companies
from streams.delivery.core import (
    _CURRENT_REPORTS,
    _EVENT_TIME,
    Call,
    DeliveryOptions,
    Table,
    _suppressed,
    changed_fields,
    fingerprint,
)
from streams.delivery.events import Events
from streams.delivery.lifecycle import Lifecycle
from streams.delivery.tags import Tags
from streams.errors import ContactPendingError
from streams.mapping.plan import Action, Plan, Report
from streams.workspace.state import event_name_key

# Operations that need the user's contact to exist: parked while it does not.
NEEDS_CONTACT = frozenset(
    {
        Action.TRACK_EVENT, Action.ATTACH_COMPANY, Action.DETACH_COMPANY, Action.TAG_CONTACT,
        Action.UNTAG_CONTACT, Action.ALIAS,
    }
)  # fmt: skip


class Executor(Events, Companies, Tags, Lifecycle):
    async def execute(
        self, plan: Plan, *, event_time: int | None = None, unknown_user: bool = False
    ) -> list[Report]:
        """Perform ``plan``; ``event_time`` (unix seconds) keeps newer values from being overwritten.
        ``unknown_user``: Intercom did not know the user a moment ago (the sink remembers it): work
        that needs the contact is parked at once, without a call, until the contact is known.

        Raises ``ContactPendingError`` (with ``operation_index``) when the rest of the plan must wait
        for a contact, and other ``DeliveryError``s for work that failed for good."""
        _CURRENT_REPORTS.set(list(plan.reports))
        _EVENT_TIME.set(event_time)
        lifecycle = {Action.DELETE_CONTACT, Action.UNSUPPRESS}
        if self.suppressed.get(plan.user_key) and not any(op.action in lifecycle for op in plan.operations):
            raise _suppressed(plan.user_key)
        for index, operation in enumerate(plan.operations):
            handler = getattr(self, self._handlers[operation.action])
            try:
                if unknown_user and operation.action in NEEDS_CONTACT and not self.is_known(plan.user_key):
                    raise ContactPendingError(
                        "user_not_found",
                        f"user {plan.user_key!r} is not known to Intercom yet (it answered 404 recently)",
                    )
                await handler(plan.user_key, operation)
            except ContactPendingError as pending:
                pending.operation_index = index
                raise
        return self.reports

    def is_known(self, user_key: str) -> bool:
        return bool((self.contacts.get(user_key) or {}).get("id"))

    # Each action's method, found by name on the resource mixins.
    _handlers: dict[Action, str] = {
        Action.UPSERT_CONTACT: "_upsert_contact",
        Action.TRACK_EVENT: "_track_event",
        Action.UPSERT_COMPANY: "_upsert_company",
        Action.ATTACH_COMPANY: "_attach_company",
        Action.DETACH_COMPANY: "_detach_company",
        Action.TAG_COMPANY: "_tag_company",
        Action.ENSURE_LEAD: "_ensure_lead",
        Action.MERGE_LEAD: "_merge_lead",
        Action.ALIAS: "_alias",
        Action.DELETE_CONTACT: "_delete_contact",
        Action.UNSUPPRESS: "_unsuppress",
        Action.TAG_CONTACT: "_tag_contact",
        Action.UNTAG_CONTACT: "_untag_contact",
        Action.LEARN_CONTACT: "_learn_contact",
    }


__all__ = [
    "Call", "DeliveryOptions", "Executor", "Table", "changed_fields", "event_name_key", "fingerprint",
]  # fmt: skip
