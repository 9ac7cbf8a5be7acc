"""Timestamps as Intercom wants them: integer Unix seconds, from ISO 8601, epoch seconds or milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

# Anything above this as a number is taken as milliseconds (year 2286 in seconds).
_MS_THRESHOLD = 10_000_000_000
# The end of year 9999 in Unix seconds: a number past it (in either direction) is not a time.
_LATEST = 253_402_300_799


def to_unix_seconds(value: Any) -> int | None:
    """Return whole seconds, or None when the value is absent or not a time."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
        seconds = number / 1000 if abs(number) >= _MS_THRESHOLD else number
        return int(seconds) if abs(seconds) <= _LATEST else None  # also NaN and infinities: not a time
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return to_unix_seconds(float(text))
        except ValueError:
            pass
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return int(parsed.timestamp())
    return None


def event_seconds(raw: dict[str, Any]) -> int | None:
    """When the event happened: ``timestamp``, else ``originalTimestamp``, ``sentAt``, ``receivedAt``."""
    for name in ("timestamp", "originalTimestamp", "sentAt", "receivedAt"):
        seconds = to_unix_seconds(raw.get(name))
        if seconds is not None:
            return seconds
    return None
