"""Pure mapping: a validated event → the Intercom operations it needs. No I/O here."""

from __future__ import annotations

from collections.abc import Callable

from streams.errors import InvalidEventError
from streams.events import SegmentEvent
from streams.mapping.group import plan_group
from streams.mapping.identify import plan_identify
from streams.mapping.plan import Action, ContactRef, Operation, Plan
from streams.mapping.track import plan_track

_PLANNERS: dict[str, Callable[[SegmentEvent], list[Operation]]] = {
    "identify": plan_identify,
    "track": plan_track,
    "group": plan_group,
}


def plan_event(event: SegmentEvent) -> Plan:
    planner = _PLANNERS.get(event.type)
    if planner is None:
        raise InvalidEventError("unsupported_type", f"{event.type} events are not delivered to Intercom yet")
    return Plan(event.user_key, event.type, tuple(planner(event)))


__all__ = ["Action", "ContactRef", "Operation", "Plan", "plan_event"]
