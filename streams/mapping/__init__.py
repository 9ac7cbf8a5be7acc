"""Pure mapping: a validated event (+ options) → the Intercom operations it needs. No I/O here."""

from __future__ import annotations

from collections.abc import Callable

from streams.errors import InvalidEventError
from streams.events import SegmentEvent
from streams.mapping.group import plan_group
from streams.mapping.identify import contact_ref, plan_identify
from streams.mapping.integrations import integrations_problem
from streams.mapping.lifecycle import (
    alias_key,
    as_user,
    consent_problem,
    is_anonymous,
    plan_alias,
    plan_delete,
    plan_page,
)
from streams.mapping.options import MappingOptions
from streams.mapping.plan import Action, ContactRef, Filtered, Operation, Plan, Report
from streams.mapping.track import plan_track

Planner = Callable[[SegmentEvent, MappingOptions], tuple[list[Operation], list[Report]]]

_PLANNERS: dict[str, Planner] = {
    "identify": plan_identify,
    "track": plan_track,
    "group": plan_group,
    "page": plan_page,
    "screen": plan_page,
    "alias": plan_alias,
    "delete": plan_delete,
}
# Types whose empty plan means "filtered by the allow/deny lists".
_NAMED_EVENTS = frozenset({"track", "page", "screen"})


def plan_event(event: SegmentEvent, options: MappingOptions | None = None) -> Plan:
    """The plan for one event; a deliberately unsent event gives a plan with ``filtered`` set."""
    options = options or MappingOptions()
    planner = _PLANNERS.get(event.type)
    if planner is None:
        raise InvalidEventError("unsupported_type", f"{event.type} events are not delivered to Intercom")
    key = alias_key(event) or event.user_key
    left_out = _invalid_numbers(event)  # before a policy rewrites the event
    try:
        withheld = integrations_problem(event.integrations)
        if withheld is not None:
            raise Filtered("integration_disabled", withheld)
        problem = consent_problem(event, options)
        if problem is not None:
            raise Filtered("consent_denied", problem)
        anonymous = is_anonymous(event)
        if anonymous and options.anonymous_policy == "skip":
            raise Filtered("anonymous_skipped", "event has only an anonymousId (anonymous_policy=skip)")
        if anonymous and options.anonymous_policy == "external_id":
            event, anonymous = as_user(event), False
        operations, reports = planner(event, options)
        if not operations and event.type in _NAMED_EVENTS:
            raise Filtered("event_filtered", "event name filtered by event_allowlist / event_denylist")
    except Filtered as filtered:
        return Plan(key, event.type, (), (), filtered=filtered.reason)
    if anonymous and event.type != "identify":
        # The visitor's lead is created on first use (no call once the table knows it).
        operations.insert(0, Operation(Action.ENSURE_LEAD, {"role": "lead"}, contact_ref(event)))
    reports = [*left_out, *reports]
    return Plan(key, event.type, tuple(operations), tuple(reports), related=_related(event, options))


def _invalid_numbers(event: SegmentEvent) -> list[Report]:
    """Numbers decoding left out (NaN, Infinity, beyond a double): Intercom only takes strict JSON."""
    if not event.invalid_numbers:
        return []
    paths = ", ".join(event.invalid_numbers)
    return [
        Report(
            "invalid_numbers",
            f"event: dropped {paths} (NaN, Infinity and numbers beyond a double's range are not JSON)",
            {"target": "event", "values": dict(event.invalid_numbers)},
        )
    ]


def _related(event: SegmentEvent, options: MappingOptions) -> tuple[Plan, ...]:
    """identify with a userId and an anonymousId: merge the visitor's lead (if known) into the user,
    performed where the anonymousId's table entry lives."""
    if event.type != "identify" or options.anonymous_policy != "lead":
        return ()
    ref = contact_ref(event)
    if not ref.user_id or not event.anonymous_id or event.anonymous_id == ref.user_id:
        return ()
    merge = Operation(Action.MERGE_LEAD, {}, ContactRef(user_id=ref.user_id, email=ref.email))
    return (Plan(event.anonymous_id, event.type, (merge,)),)


__all__ = [
    "Action", "ContactRef", "Filtered", "MappingOptions", "Operation", "Plan", "Report", "plan_event",
]  # fmt: skip
