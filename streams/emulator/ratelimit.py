"""Intercom's rate limits: per app (token) and per workspace, counted in 10-second windows.

Intercom divides a per-minute limit evenly into 10-second windows (1,000/min shows as
``X-RateLimit-Limit: 167``); private apps share a workspace budget of 25,000 calls per minute.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

# Intercom's documented workspace budget shared by all private apps of a workspace.
WORKSPACE_LIMIT_PER_MINUTE = 25_000


def per_window(per_minute: int, window_s: float) -> int:
    """A per-minute limit divided evenly into windows, rounded up as Intercom shows it (1000 -> 167)."""
    return math.ceil(per_minute * window_s / 60.0)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset: int

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }


class RateLimiter:
    """Windows are aligned to multiples of the window length, so Reset moves in whole steps
    (…510, …520) the way Intercom's examples show. A limit of 0 means unlimited. Every token
    counts against its own ``limit`` and, with the workspace's other tokens, ``workspace_limit``."""

    def __init__(
        self,
        limit: int,
        window_s: float,
        clock: Callable[[], float],
        workspace_limit: int | None = None,
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.workspace_limit = (
            per_window(WORKSPACE_LIMIT_PER_MINUTE, window_s) if workspace_limit is None else workspace_limit
        )
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[float, int]] = {}

    def configure(
        self, *, limit: int | None = None, window_s: float | None = None, workspace_limit: int | None = None
    ) -> None:
        with self._lock:
            if limit is not None:
                self.limit = limit
            if window_s is not None:
                self.window_s = window_s
            if workspace_limit is not None:
                self.workspace_limit = workspace_limit
            self._counts.clear()

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()

    def _count(self, key: str, start: float) -> int:
        window, used = self._counts.get(key, (start, 0))
        used = (used if window == start else 0) + 1
        self._counts[key] = (start, used)
        return used

    def hit(self, token: str) -> Decision | None:
        """Count one call; None when unlimited (no headers are sent then)."""
        with self._lock:
            if self.limit <= 0:
                return None
            now = self._clock()
            start = math.floor(now / self.window_s) * self.window_s
            reset = math.ceil(start + self.window_s)
            used = self._count(token, start)
            shared = self._count("", start)  # "" is never a token: the workspace's total
            remaining = self.limit - used
            limit = self.limit
            if self.workspace_limit > 0 and self.workspace_limit - shared < remaining:
                remaining, limit = self.workspace_limit - shared, self.workspace_limit
            return Decision(remaining >= 0, limit, max(remaining, 0), reset)
