"""track → one track_event operation (POST /events), or none when the allow/deny lists filter it.

metadata rules (Intercom's): no nesting (objects are flattened with ``_``) except monetary amounts
``{amount, currency}`` and rich links ``{url, value}`` (``money.py``: revenue, extra keys cut);
``*_date`` keys are Unix seconds; strings up to 255 characters; at most 10 keys (``metadata_priority``
decides which, the rest are reported). ``properties.email`` names the user: not metadata by default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streams.errors import InvalidEventError
from streams.events import SegmentEvent
from streams.mapping.attributes import clean, compact
from streams.mapping.identify import contact_ref
from streams.mapping.money import convert_revenue, object_shape, reduce_objects
from streams.mapping.options import MappingOptions
from streams.mapping.plan import Action, Operation, Report
from streams.mapping.timestamps import event_seconds, to_unix_seconds


def _dates(metadata: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in metadata.items():
        if key.endswith("_date"):
            seconds = to_unix_seconds(value)
            value = seconds if seconds is not None else value
        out[key] = value
    return out


def _limit(metadata: dict[str, Any], options: MappingOptions) -> tuple[dict[str, Any], list[Report]]:
    if len(metadata) <= options.metadata_max_keys:
        return metadata, []
    order = [k for k in options.metadata_priority if k in metadata]
    order += [k for k in metadata if k not in order]
    kept = order[: options.metadata_max_keys]
    left_out = {k: metadata[k] for k in order[options.metadata_max_keys :]}
    report = Report(
        "metadata_trimmed",
        f"event metadata over {options.metadata_max_keys} keys: not sent {', '.join(left_out)} "
        "(set metadata_priority to choose which keys Intercom gets)",
        {"target": "event", "values": left_out},
    )
    return {k: metadata[k] for k in kept}, [report]


def event_metadata(
    properties: Mapping[str, Any], options: MappingOptions | None = None
) -> tuple[dict[str, Any], list[Report]]:
    options = options or MappingOptions()
    values = dict(properties)
    if not options.track_email_metadata:
        values.pop("email", None)  # it says who the user is (the event's email), not what happened
    values, reports = convert_revenue(values, options.revenue_key)
    values, cut = reduce_objects(values)
    kept = [k for k, v in values.items() if object_shape(v) is not None]
    metadata, cleaned = clean(values, options, where="event", keep=kept)
    metadata = {k: metadata[k] for k in [*values, *metadata] if k in metadata}  # sent order first
    metadata, trimmed = _limit(_dates(metadata), options)
    return metadata, reports + cut + cleaned + trimmed


def event_created_at(event: SegmentEvent) -> int:
    seconds = event_seconds(event.raw)
    if seconds is None:
        raise InvalidEventError(
            "invalid_event", "track event has no usable timestamp: Intercom deduplicates events on created_at"
        )
    return seconds


def plan_track(
    event: SegmentEvent, options: MappingOptions | None = None
) -> tuple[list[Operation], list[Report]]:
    options = options or MappingOptions()
    name = event.get("event")
    if not isinstance(name, str) or not name.strip():
        raise InvalidEventError("invalid_event", "track event has no 'event' name")
    name = name.strip()
    if not options.event_allowed(name):
        return [], []  # filtered by the allow/deny lists: nothing to send
    ref = contact_ref(event)
    metadata, reports = event_metadata(event.properties, options)
    body = compact(
        {
            "event_name": name,  # as sent: Intercom lower-cases names itself
            "created_at": event_created_at(event),
            "user_id": ref.user_id,
            # Email-only: the sink resolves the contact and addresses it by id when it can.
            "email": ref.email if not ref.user_id else None,
            "metadata": metadata,
        }
    )
    return [Operation(Action.TRACK_EVENT, body, ref)], reports
