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
