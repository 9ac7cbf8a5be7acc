"""A validated Segment-spec event with typed access to the fields the mapping reads."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from streams.errors import InvalidEventError
from streams.events.decode import DecodedEvent

EVENT_TYPES = frozenset({"identify", "track", "group", "page", "screen", "alias", "delete"})
# Where a trait may sit, in precedence order: Segment's SDKs send ``traits``, RudderStack's identify
# sends only ``context.traits``. Every trait read (fields, lookups, custom attributes) uses this order.
TRAIT_SOURCES = ("traits", "context.traits")


def is_present(value: Any) -> bool:
    """An explicit null or a blank string says nothing: the next source is read."""
    return value is not None and not (isinstance(value, str) and not value.strip())


def pick_trait(sources: tuple[dict[str, Any], ...], name: str) -> Any:
    """The first present value of ``name`` in ``sources`` (given in ``TRAIT_SOURCES`` order)."""
    for source in sources:
        value = source.get(name)
        if is_present(value):
            return value
    return None


def _obj(raw: dict[str, Any], name: str) -> dict[str, Any]:
    value = raw.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidEventError("invalid_event", f"'{name}' must be an object, got {type(value).__name__}")
    return value


def _text(value: Any) -> str | None:
    """Ids arrive as strings or numbers; blank means absent."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        value = str(value)
    elif isinstance(value, float):
        value = str(int(value)) if value.is_integer() else str(value)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


@dataclass(frozen=True)
class SegmentEvent:
    type: str
    message_id: str
    user_id: str | None
    anonymous_id: str | None
    email: str | None
    raw: dict[str, Any] = field(repr=False)
    traits: dict[str, Any] = field(repr=False)
    context: dict[str, Any] = field(repr=False)
    properties: dict[str, Any] = field(repr=False)
    integrations: dict[str, Any] = field(repr=False)
    # Numbers decoding left out because JSON cannot carry them (path → literal): reported, not sent.
    invalid_numbers: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def user_key(self) -> str:
        """The partitioning key: userId, else anonymousId, else email."""
        key = self.user_id or self.anonymous_id or self.email
        assert key is not None  # parse_event guarantees one
        return key

    @property
    def context_traits(self) -> dict[str, Any]:
        value = self.context.get("traits")
        return value if isinstance(value, dict) else {}

    def trait(self, *names: str) -> Any:
        """The first present value of any of ``names`` (in that order), each read in ``TRAIT_SOURCES``
        order; None when no source has one."""
        for name in names:
            value = pick_trait((self.traits, self.context_traits), name)
            if value is not None:
                return value
        return None

    def merged_traits(self) -> dict[str, Any]:
        """Every trait once, by the same precedence as ``trait``; a name whose value is null or blank
        everywhere keeps it (an explicit null clears an attribute)."""
        merged = {**self.context_traits, **self.traits}
        for name in merged:
            value = pick_trait((self.traits, self.context_traits), name)
            if value is not None:
                merged[name] = value
        return merged

    def get(self, name: str) -> Any:
        return self.raw.get(name)


def _message_id(raw: dict[str, Any]) -> str:
    given = _text(raw.get("messageId"))
    if given:
        return given
    # No messageId: derive a stable one so replays of the same record get the same id.
    digest = hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()
    return f"sha256:{digest[:32]}"


def parse_event(raw: dict[str, Any]) -> SegmentEvent:
    """Validate the envelope. Raises InvalidEventError with reason invalid_event or missing_identity."""
    event_type = raw.get("type")
    if not isinstance(event_type, str) or event_type.strip().lower() not in EVENT_TYPES:
        raise InvalidEventError(
            "invalid_event",
            f"unknown or missing event type {event_type!r}; expected one of {', '.join(sorted(EVENT_TYPES))}",
        )
    event_type = event_type.strip().lower()
    traits = _obj(raw, "traits")
    context = _obj(raw, "context")
    properties = _obj(raw, "properties")
    integrations = _obj(raw, "integrations")
    found = context.get("traits")
    context_traits: dict[str, Any] = found if isinstance(found, dict) else {}
    email = _text(pick_trait((traits, context_traits, properties), "email"))
    user_id = _text(raw.get("userId"))
    anonymous_id = _text(raw.get("anonymousId"))
    if not (user_id or anonymous_id or email):
        raise InvalidEventError(
            "missing_identity",
            f"{event_type} event has no userId, anonymousId or email: Intercom cannot tell whose it is",
        )
    return SegmentEvent(
        type=event_type,
        message_id=_message_id(raw),
        user_id=user_id,
        anonymous_id=anonymous_id,
        email=email,
        raw=raw,
        traits=traits,
        context=context,
        properties=properties,
        integrations=integrations,
        invalid_numbers=dict(raw.invalid_numbers) if isinstance(raw, DecodedEvent) else {},
    )
