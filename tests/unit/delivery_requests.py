"""Delivery requests for unit tests, as the transform builds them."""

from __future__ import annotations

from streams.mapping import Action, Operation
from streams.pipeline.requests import DeliveryRequest


def delivery_request(
    offset: int = 0,
    *,
    user: str = "u1",
    topic: str = "raw-events",
    partition: int = 2,
    operations: tuple[Operation, ...] = (),
    event_type: str = "track",
    event_json: str = "{}",
) -> DeliveryRequest:
    return DeliveryRequest(
        request_id=f"m-{offset}",
        user_key=user,
        event_type=event_type,
        operations=operations,
        event_json=event_json,
        reports=(),
        source_topic=topic,
        source_partition=partition,
        source_offset=offset,
        received_at_ms=0,
    )


def track(name: str = "Signed Up") -> Operation:
    return Operation(Action.TRACK_EVENT, {"event_name": name})
