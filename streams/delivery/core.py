"""The shared core of delivery: options, one Intercom call with its retries, the custom-attribute
policy, and the fingerprints that let a write that changes nothing make no call.

The tables are plain mappings here (Faust tables in the worker, dicts in tests); values are JSON dicts:
  contacts:  user key   → {"id", "role", "fingerprint": {field: hash}, "companies": [company_id]}
  companies: company_id → {"id", "fingerprint": {field: hash}, "tags": [name]}
  workspace: "data_attributes:<model>" → cached data attributes;
             "tag:<lower-case name>" → {"id", "name"} of contact tags created or found
  event names: slots and Intercom's refusals live behind ``EventNames`` (streams/delivery/event_names.py:
             in the workspace table for one process, on the workspace topic for a deployment)
  suppressed: user key → {"since": unix seconds} for users deleted on request (events dead-lettered)
A contacts entry may also carry "tags" (names applied) and "merged_from" (the lead merged into it).
Every id learned goes into a table so that the next event for the same user costs no search, and a
fingerprint of what Intercom holds lets a write that changes nothing make no call at all.

``Executor.execute`` returns a ``Delivered``: its ``Report``s (the plan's own and the attribute
policy's) are things the event asked for that Intercom did not get (the sink turns each into a
dead-letter record; the event itself succeeded), its ``follow_ups`` the plans for other keys.

This module holds what every service shares: options, fingerprints, the per-plan ``PlanContext``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Literal

from streams.errors import ContactPendingError, RejectedError
from streams.mapping.plan import Plan, Report

log = logging.getLogger(__name__)

# call(method, path, body) → parsed JSON, or raises a DeliveryError subclass.
Call = Callable[[str, str, Any], Awaitable[Any]]
Table = MutableMapping[str, Any]
AttributePolicy = Literal["create", "drop", "reject"]
UnknownUserPolicy = Literal["dead_letter", "create"]


@dataclass(frozen=True)
class DeliveryOptions:
    """The sink's policies (built from Settings by the pipeline)."""

    attribute_policy: AttributePolicy = "drop"
    attribute_refresh_s: float = 600.0
    # Intercom allows 120 active event names; new names beyond this many are dead-lettered instead.
    event_name_cap: int = 110
    # After Intercom refuses a new event name (its own 120-name 422), that name's events are
    # dead-lettered without a call for this long, then one is sent again (names can be archived).
    event_name_recheck_s: float = 3600.0
    api_version: str = "2.10"
    # A track event Intercom answers 404 for (no such user): park it until the user's identify
    # (streams/pipeline/parking.py), or, with "create", create the contact and send the event.
    unknown_user_policy: UnknownUserPolicy = "dead_letter"


@dataclass(frozen=True)
class Delivered:
    """What a plan's execution left to the sink: reports to dead-letter, plans for other keys, and how
    many Intercom calls it made (retries included)."""

    reports: tuple[Report, ...] = ()
    follow_ups: tuple[Plan, ...] = ()
    calls: int = 0

    @property
    def left_no_trace(self) -> bool:
        """No call, nothing to dead-letter, nothing for other keys: doing it again does the same."""
        return not (self.calls or self.reports or self.follow_ups)


@dataclass
class PlanContext:
    """The state of one plan's execution, handed to every handler (plans run concurrently)."""

    # When the event being delivered happened (unix seconds): a write never replaces a newer value.
    event_time: int | None = None
    reports: list[Report] = field(default_factory=list)
    # Plans for other keys this delivery asked for (e.g. teach the new id of an alias to its own
    # partition); the sink publishes them.
    follow_ups: list[Plan] = field(default_factory=list)
    calls: int = 0  # counted by IntercomCalls through PLAN (plans share an executor's calls)

    def delivered(self) -> Delivered:
        return Delivered(tuple(self.reports), tuple(self.follow_ups), self.calls)

    def pending(self, error: ContactPendingError, operation_index: int) -> ContactPendingError:
        """``error`` completed with where the plan stopped and what it produced so far."""
        return error.completed(
            operation_index=operation_index, reports=tuple(self.reports), follow_ups=tuple(self.follow_ups)
        )

    def newer_only(self, body: dict[str, Any], times: dict[str, int], keep: frozenset[str]) -> dict[str, Any]:
        """``body`` without the fields that already hold a value from a later event (``times``: field →
        event time of the value applied; ``keep``: identity fields, always sent)."""
        at = self.event_time
        if at is None or not times:
            return body
        newer = {k for k, t in times.items() if t > at}
        if not newer:
            return body
        out = {k: v for k, v in body.items() if k == "custom_attributes" or k in keep or k not in newer}
        attributes = {
            name: value
            for name, value in (body.get("custom_attributes") or {}).items()
            if f"custom_attributes.{name}" not in newer
        }
        out.pop("custom_attributes", None)
        if attributes:
            out["custom_attributes"] = attributes
        log.debug("kept newer values of %s", sorted(newer & set(fingerprint(body))))
        return out

    def applied_times(self, times: dict[str, int], sent: dict[str, Any] | None) -> dict[str, int]:
        """``times`` with the fields of ``sent`` stamped with this event's time."""
        at = self.event_time
        if at is None or not sent:
            return times
        stamped = dict(times)
        for name in fingerprint(sent):
            stamped[name] = max(at, stamped.get(name, at))
        return stamped


# The plan being executed in this task (set by Executor.execute): IntercomCalls counts its calls there.
PLAN: ContextVar[PlanContext | None] = ContextVar("intercom_stream_plan", default=None)


def _hash(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:12]


def fingerprint(body: dict[str, Any]) -> dict[str, str]:
    """Field → short hash of the value, custom attributes one by one (``custom_attributes.<name>``)."""
    prints = {k: _hash(v) for k, v in body.items() if k != "custom_attributes"}
    for name, value in (body.get("custom_attributes") or {}).items():
        prints[f"custom_attributes.{name}"] = _hash(value)
    return prints


def changed_fields(body: dict[str, Any], known: dict[str, str]) -> dict[str, Any]:
    """The part of ``body`` whose values differ from what the fingerprint says Intercom holds."""
    delta = {k: v for k, v in body.items() if k != "custom_attributes" and known.get(k) != _hash(v)}
    attributes = {
        name: value
        for name, value in (body.get("custom_attributes") or {}).items()
        if known.get(f"custom_attributes.{name}") != _hash(value)
    }
    if attributes:
        delta["custom_attributes"] = attributes
    return delta


def forget(table: Table, key: str) -> None:
    """Remove ``key`` (a tombstone in a Faust table's changelog); absent keys are fine."""
    if table.get(key) is not None:
        del table[key]


def suppressed_error(user_key: str) -> RejectedError:
    return RejectedError(
        f"user {user_key!r} was deleted on request and is suppressed: the event is not sent, so the "
        "person is not re-created",
        reason="suppressed",
    )


def contact_not_found(message: str) -> ContactPendingError:
    """No contact for the user yet: the sink parks the work until its identify creates one."""
    return ContactPendingError("contact_not_found", message)
