"""Segment-spec events for the integration tests: one story per user, timestamps that order it."""

from __future__ import annotations

from typing import Any


def identify(user: str, n: int, **traits: Any) -> dict[str, Any]:
    return {
        "type": "identify",
        "messageId": f"{user}-i{n}",
        "userId": user,
        "timestamp": f"2026-11-20T10:00:{n:02d}Z",
        "traits": {"email": f"{user}@example.com", **traits},
    }


def track(user: str, n: int, name: str) -> dict[str, Any]:
    return {
        "type": "track",
        "messageId": f"{user}-t{n}",
        "userId": user,
        "event": name,
        "timestamp": f"2026-11-20T10:00:{n:02d}Z",
        "properties": {"n": n},
    }


def group(user: str, n: int, company: str, **traits: Any) -> dict[str, Any]:
    return {
        "type": "group",
        "messageId": f"{user}-g{n}",
        "userId": user,
        "groupId": company,
        "timestamp": f"2026-11-20T10:00:{n:02d}Z",
        "traits": {"name": company.title(), **traits},
    }


# Messages as the SDKs really send them (#14): segment-analytics-python 2.4 puts traits at the root,
# an explicit null anonymousId and an empty integrations object; rudder-sdk-python 2.1 puts identify
# traits only under context.traits and sends integrations {"All": true}.
SEGMENT_LIBRARY = {"name": "analytics-python", "version": "2.4.0"}
RUDDER_LIBRARY = {"name": "rudder-analytics-python", "version": "2.1.0"}


def _sdk(kind: str, user: str | None, n: int, library: dict[str, str], **fields: Any) -> dict[str, Any]:
    at = f"2026-11-20T10:00:{n:02d}Z"
    return {
        "type": kind,
        "messageId": f"{user or fields.get('anonymousId')}-{kind[0]}{n}",
        "userId": user,
        "anonymousId": None,
        "timestamp": at,
        "sentAt": at,
        "context": {"library": dict(library)},
        **fields,
    }


def segment_identify(
    user: str | None, n: int, traits: dict[str, Any], integrations: dict[str, Any] | None = None
) -> dict[str, Any]:
    return _sdk("identify", user, n, SEGMENT_LIBRARY, traits=traits, integrations=integrations or {})


def segment_track(
    user: str, n: int, name: str, properties: dict[str, Any], integrations: dict[str, Any] | None = None
) -> dict[str, Any]:
    return _sdk(
        "track", user, n, SEGMENT_LIBRARY, event=name, properties=properties, integrations=integrations or {}
    )


def rudder_identify(
    user: str | None, n: int, traits: dict[str, Any], integrations: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    event = _sdk(
        "identify", user, n, RUDDER_LIBRARY, integrations={"All": True, **(integrations or {})}, **extra
    )
    event["context"]["traits"] = traits
    return event


def rudder_track(user: str, n: int, name: str, properties: dict[str, Any]) -> dict[str, Any]:
    event = _sdk(
        "track", user, n, RUDDER_LIBRARY, event=name, properties=properties, integrations={"All": True}
    )
    event["context"]["traits"] = {}
    return event
