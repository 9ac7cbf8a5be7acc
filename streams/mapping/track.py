"""track → one track_event operation (POST /events)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streams.errors import InvalidEventError
from streams.events import SegmentEvent
from streams.mapping.attributes import compact, flatten
from streams.mapping.identify import contact_ref
from streams.mapping.plan import Action, Operation
from streams.mapping.timestamps import to_unix_seconds


def _kept_as_object(value: Any) -> bool:
    """Intercom keeps two object shapes in metadata: monetary amounts and rich links."""
    return isinstance(value, Mapping) and (
        {"amount", "currency"} <= value.keys() or {"url", "value"} <= value.keys()
    )


def event_metadata(properties: Mapping[str, Any]) -> dict[str, Any]:
    kept = {k: dict(v) for k, v in properties.items() if _kept_as_object(v)}
    rest = flatten({k: v for k, v in properties.items() if k not in kept})
    return {**rest, **kept}


def event_created_at(event: SegmentEvent) -> int:
    for name in ("timestamp", "originalTimestamp", "sentAt", "receivedAt"):
        seconds = to_unix_seconds(event.get(name))
        if seconds is not None:
            return seconds
    raise InvalidEventError(
        "invalid_event", "track event has no usable timestamp: Intercom deduplicates events on created_at"
    )


def plan_track(event: SegmentEvent) -> list[Operation]:
    name = event.get("event")
    if not isinstance(name, str) or not name.strip():
        raise InvalidEventError("invalid_event", "track event has no 'event' name")
    ref = contact_ref(event)
    body = compact(
        {
            "event_name": name.strip(),
            "created_at": event_created_at(event),
            "user_id": ref.user_id,
            "email": ref.email if not ref.user_id else None,
            "metadata": event_metadata(event.properties),
        }
    )
    return [Operation(Action.TRACK_EVENT, body, ref)]
