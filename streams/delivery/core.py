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

``execute`` returns ``Report``s (the plan's own and the attribute policy's): things the event asked for
that Intercom did not get. The sink turns each into a dead-letter record; the event itself succeeded.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal

from streams.delivery.attributes import AttributeCache, infer_data_type
from streams.delivery.event_names import EventNames, LocalEventNames
from streams.delivery.retry import RetryPolicy, with_retries
from streams.errors import AuthError, ContactPendingError, DeliveryError, RejectedError
from streams.mapping.plan import Plan, Report

log = logging.getLogger(__name__)

# call(method, path, body) → parsed JSON, or raises a DeliveryError subclass.
Call = Callable[[str, str, Any], Awaitable[Any]]
Table = MutableMapping[str, Any]
AttributePolicy = Literal["create", "drop", "reject"]

_UNKNOWN_ATTRIBUTE = re.compile(r"Custom attribute '([^']+)' does not exist")
# One list per asyncio task: the sink runs several users' plans at once on one executor.
_CURRENT_REPORTS: ContextVar[list[Report] | None] = ContextVar("intercom_stream_reports", default=None)
# When the event being delivered happened (unix seconds), and the plans it asks for under other keys.
_EVENT_TIME: ContextVar[int | None] = ContextVar("intercom_stream_event_time", default=None)
_FOLLOW_UPS: ContextVar[list[Plan] | None] = ContextVar("intercom_stream_follow_ups", default=None)
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


class DeliveryCore:
    """State and helpers every resource module uses (contacts.py, events.py, companies.py, tags.py,
    lifecycle.py); ``Executor`` (executor.py) puts them together."""

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
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,  # wall time: refusal times are kept in a table
    ) -> None:
        self._call = call
        self._sleep = sleep  # injected by tests: retries and holds never sleep for real there
        self.contacts = contacts
        self.companies = companies
        self.policy = policy or RetryPolicy()
        self.options = options or DeliveryOptions()
        self.workspace: Table = {} if workspace is None else workspace
        self.suppressed: Table = {} if suppressed is None else suppressed
        self.clock = clock
        self.attributes = attributes or AttributeCache(
            self.workspace, self.options.attribute_refresh_s, clock=clock
        )
        # Event-name slots and Intercom's refusals (streams/delivery/event_names.py): in the workspace
        # table for one process, on the workspace topic for a deployment.
        self.event_names: EventNames = event_names or LocalEventNames(
            self.workspace, self.options.event_name_cap, clock
        )
        self.calls = 0
        self.skipped = 0  # writes not made because Intercom already holds the same values

    @property
    def reports(self) -> list[Report]:
        """The reports of the plan being executed in the current task (plans run concurrently)."""
        reports = _CURRENT_REPORTS.get(None)
        if reports is None:
            reports = []
            _CURRENT_REPORTS.set(reports)
        return reports

    # -- calls ------------------------------------------------------------------------------------

    @property
    def event_time(self) -> int | None:
        """When the event being delivered happened: a write never replaces a newer value with it."""
        return _EVENT_TIME.get()

    @property
    def follow_ups(self) -> list[Plan]:
        """Plans for other keys that this task's deliveries asked for (e.g. teach the new id of an
        alias to its own partition); the sink publishes them."""
        plans = _FOLLOW_UPS.get()
        if plans is None:
            plans = []
            _FOLLOW_UPS.set(plans)
        return plans

    def take_follow_ups(self) -> list[Plan]:
        plans = list(self.follow_ups)
        _FOLLOW_UPS.set([])
        return plans

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

    async def _request(self, method: str, path: str, body: Any = None, *, pause_on_auth: bool = True) -> Any:
        attempted_at_ms: list[int] = []  # first and latest attempt, for the dead-letter record

        async def once() -> Any:
            self.calls += 1
            attempted_at_ms[1:] = [int(time.time() * 1000)]
            return await self._call(method, path, body)

        try:
            return await with_retries(once, self.policy, self._sleep, pause_on_auth=pause_on_auth)
        except DeliveryError as exc:
            exc.request = {"method": method, "path": path, "body": body}
            if attempted_at_ms:
                exc.first_attempt_at_ms, exc.last_attempt_at_ms = attempted_at_ms[0], attempted_at_ms[-1]
            raise

    def _skip(self, what: str) -> None:
        self.skipped += 1
        log.debug("skipped %s: Intercom already holds these values", what)

    # -- custom attributes ------------------------------------------------------------------------

    async def _known_attributes(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        """``body`` with the attribute policy applied to custom attributes Intercom does not know."""
        values: dict[str, Any] = body.get("custom_attributes") or {}
        missing = await self.attributes.unknown(self._request, model, values)
        return await self._apply_policy(model, body, missing)

    async def _apply_policy(self, model: str, body: dict[str, Any], missing: set[str]) -> dict[str, Any]:
        if not missing:
            return body
        values: dict[str, Any] = body["custom_attributes"]
        policy = self.options.attribute_policy
        if policy == "reject":
            error = RejectedError(
                f"custom attributes unknown to Intercom on the {model}: {', '.join(sorted(missing))}"
            )
            error.reason = "attributes_unknown"
            error.request = {"model": model, "attributes": {n: values[n] for n in sorted(missing)}}
            raise error
        dropped = {name: values[name] for name in sorted(missing)}
        failures: dict[str, str] = {}
        if policy == "create":
            created, failures = await self._create_attributes(model, dropped)
            dropped = {name: value for name, value in dropped.items() if name not in created}
        if not dropped:
            return body
        why = "; ".join(f"{name}: {failures[name]}" for name in dropped if name in failures)
        self.reports.append(
            Report(
                "attributes_dropped",
                f"{model}: custom attributes unknown to Intercom were not sent: {', '.join(dropped)}"
                + (f" (could not create them: {why})" if why else ""),
                {"target": model, "values": dropped},
            )
        )
        kept = {k: v for k, v in values.items() if k not in dropped}
        return {
            **{k: v for k, v in body.items() if k != "custom_attributes"},
            **({"custom_attributes": kept} if kept else {}),
        }

    async def _create_attributes(self, model: str, values: dict[str, Any]) -> tuple[set[str], dict[str, str]]:
        """Create each attribute with a type inferred from its value. Returns the names Intercom has
        now and, for each of the others, why not; the caller sends the write without those."""
        created: set[str] = set()
        failures: dict[str, str] = {}
        refused: list[str] = []
        for name, value in values.items():
            if value is None:
                failures[name] = "a null value gives no type to create the attribute with"
                continue
            if self.attributes.refused(model, name):  # remembered: do not ask on every event
                failures[name] = "Intercom refused to create it recently"
                continue
            if not await self.attributes.claim(model, name):  # another worker just created it
                created.add(name)
                continue
            body = {"name": name, "model": model, "data_type": infer_data_type(value)}
            try:
                # A token that works for contacts may still lack the right to create attributes: that
                # 401/403 must drop these attributes, not pause all delivery.
                await self._request("POST", "/data_attributes", body, pause_on_auth=False)
            except AuthError as exc:
                self.attributes.refuse(model, name)
                failures[name] = f"the token may not create data attributes ({exc.message})"
                log.warning("could not create %s attribute %r: %s", model, name, failures[name])
                continue
            except RejectedError as exc:  # a name or type Intercom refuses, or the other model's name
                refused.append(name)
                failures[name] = exc.message
                continue
            except DeliveryError as exc:  # transient and out of attempts: the write goes out anyway
                failures[name] = exc.message
                continue
            await self.attributes.created(model, name)
            created.add(name)
        if refused:
            # Another worker or an admin may have created it since we listed: one fresh list tells.
            try:
                listed = set((await self.attributes.refresh(self._request, model))["names"])
            except DeliveryError as exc:
                log.warning("could not list %s attributes after a refused create: %s", model, exc.message)
                listed = set()
            for name in refused:
                if name in listed:
                    created.add(name)
                    del failures[name]
                else:
                    self.attributes.refuse(model, name)
                    log.warning("could not create %s attribute %r: %s", model, name, failures[name])
        return created, failures

    async def _write(
        self, model: str, method: str, path: str, body: dict[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        """One write; if Intercom names an attribute our cache thought it knew, apply the policy to it
        and try once more. Returns the answer and the body that Intercom accepted."""
        try:
            return await self._request(method, path, body), body
        except RejectedError as exc:
            match = _UNKNOWN_ATTRIBUTE.search(exc.message)
            if match is None or match.group(1) not in (body.get("custom_attributes") or {}):
                raise
            self.attributes.forget(model, match.group(1))
            fixed = await self._apply_policy(model, body, {match.group(1)})
            return await self._request(method, path, fixed), fixed


def _forget(table: Table, key: str) -> None:
    """Remove ``key`` (a tombstone in a Faust table's changelog); absent keys are fine."""
    if table.get(key) is not None:
        del table[key]


def _suppressed(user_key: str) -> RejectedError:
    error = RejectedError(
        f"user {user_key!r} was deleted on request and is suppressed: the event is not sent, so the "
        "person is not re-created"
    )
    error.reason = "suppressed"
    return error


def _not_found(message: str) -> ContactPendingError:
    """No contact for the user yet: the sink parks the work until its identify creates one."""
    return ContactPendingError("contact_not_found", message)
