"""The one place that turns an Intercom HTTP answer into a result or a DeliveryError subclass."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

from streams.errors import (
    AuthError,
    ConflictError,
    DeliveryError,
    NotFoundError,
    RateLimitedError,
    RejectedError,
    RetryableDeliveryError,
)

_EXISTING_ID = re.compile(r"with id=([0-9a-zA-Z]+)")
_DEFAULT_WINDOW_S = 10.0


def first_error(body: Any) -> tuple[str | None, str | None]:
    """(code, message) of Intercom's ``error.list`` envelope, tolerant of other shapes."""
    if isinstance(body, Mapping):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
            return _str(errors[0].get("code")), _str(errors[0].get("message"))
        return _str(body.get("code")), _str(body.get("message") or body.get("error_message"))
    return None, None


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def reset_time(headers: Mapping[str, str], now: float | None = None) -> float:
    """When the rate-limit window resets (unix seconds); one window from now if Intercom did not say."""
    now = time.time() if now is None else now
    try:
        return max(float(headers["x-ratelimit-reset"]), now)
    except (KeyError, ValueError):
        return now + _DEFAULT_WINDOW_S


def classify(status: int, body: Any, headers: Mapping[str, str], what: str) -> DeliveryError | None:
    """None for success; otherwise the error to raise. ``what`` is e.g. "POST /contacts" (no secrets)."""
    if 200 <= status < 300:
        return None
    code, message = first_error(body)
    text = f"Intercom answered {status}{f' {code}' if code else ''}: {message or 'no message'} ({what})"
    details: dict[str, Any] = {"status": status, "error_body": body, "code": code}
    if status == 429:
        return RateLimitedError(text, retry_at=reset_time(headers), **details)
    if status in (401, 403):
        return AuthError(text, **details)
    if status == 409:
        match = _EXISTING_ID.search(message or "")
        archived = "archived" in (message or "").lower()
        return ConflictError(
            text, existing_id=match.group(1) if match else None, archived=archived, **details
        )
    if status in (404, 410):
        return NotFoundError(text, **details)
    if status == 408 or status >= 500:
        return RetryableDeliveryError(text, **details)
    return RejectedError(text, **details)
