"""Pure mapping: a validated event (+ options) → the Intercom operations it needs. No I/O here."""

from __future__ import annotations

from collections.abc import Callable

from streams.errors import InvalidEventError
from streams.events import SegmentEvent
from streams.mapping.group import plan_group
from streams.mapping.identify import plan_identify
from streams.mapping.options import MappingOptions
from streams.mapping.plan import Action, ContactRef, Operation, Plan, Report
from streams.mapping.track import plan_track

Planner = Callable[[SegmentEvent, MappingOptions], tuple[list[Operation], list[Report]]]

_PLANNERS: dict[str, Planner] = {
    "identify": plan_identify,
    "track": plan_track,
    "group": plan_group,
}


def plan_event(event: SegmentEvent, options: MappingOptions | None = None) -> Plan:
    planner = _PLANNERS.get(event.type)
    if planner is None:
        raise InvalidEventError("unsupported_type", f"{event.type} events are not delivered to Intercom yet")
    operations, reports = planner(event, options or MappingOptions())
    return Plan(event.user_key, event.type, tuple(operations), tuple(reports))


__all__ = ["Action", "ContactRef", "MappingOptions", "Operation", "Plan", "Report", "plan_event"]
