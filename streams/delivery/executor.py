"""Performs a Plan's operations in order: each action goes to its resource's module.

The tables are plain mappings here (Faust tables in the worker, dicts in tests); values are JSON dicts:
  contacts:  user key   → {"id", "role", "fingerprint": {field: hash}, "companies": [company_id]}
  companies: company_id → {"id", "fingerprint": {field: hash}, "tags": [name]}
  workspace: "data_attributes:<model>" → cached data attributes; "event_names" → names sent;
             "event_name_refused:<name>" → {"at", "message"} when Intercom refused a new name (422);
             "tag:<lower-case name>" → {"id", "name"} of contact tags created or found
  suppressed: user key → {"since": unix seconds} for users deleted on request (events dead-lettered)
A contacts entry may also carry "tags" (names applied) and "merged_from" (the lead merged into it).
Every id learned goes into a table so that the next event for the same user costs no search, and a
fingerprint of what Intercom holds lets a write that changes nothing make no call at all.

``execute`` returns ``Report``s (the plan's own and the attribute policy's): things the event asked for
that Intercom did not get. The sink turns each into a dead-letter record; the event itself succeeded.

Layout: core.py (options, calls, retries, attribute policy, fingerprints), contacts.py, events.py,
companies.py, tags.py, lifecycle.py (leads, alias, deletion).
"""

from __future__ import annotations

from streams.delivery.companies import Companies
from streams.delivery.core import (
    _CURRENT_REPORTS,
    Call,
    DeliveryOptions,
    Table,
    _suppressed,
    changed_fields,
    fingerprint,
)
from streams.delivery.events import Events, event_name_key
from streams.delivery.lifecycle import Lifecycle
from streams.delivery.tags import Tags
from streams.mapping.plan import Action, Plan, Report


class Executor(Events, Companies, Tags, Lifecycle):
    async def execute(self, plan: Plan) -> list[Report]:
        _CURRENT_REPORTS.set(list(plan.reports))
        lifecycle = {Action.DELETE_CONTACT, Action.UNSUPPRESS}
        if self.suppressed.get(plan.user_key) and not any(op.action in lifecycle for op in plan.operations):
            raise _suppressed(plan.user_key)
        for operation in plan.operations:
            handler = getattr(self, self._handlers[operation.action])
            await handler(plan.user_key, operation)
        return self.reports

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
    }


__all__ = [
    "Call", "DeliveryOptions", "Executor", "Table", "changed_fields", "event_name_key", "fingerprint",
]  # fmt: skip
