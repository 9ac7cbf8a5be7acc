"""Per-token fixed-window rate limiting with Intercom's X-RateLimit-* headers."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass


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
    (…510, …520) the way Intercom's examples show. A limit of 0 means unlimited."""

    def __init__(self, limit: int, window_s: float, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[float, int]] = {}

    def configure(self, *, limit: int | None = None, window_s: float | None = None) -> None:
        with self._lock:
            if limit is not None:
                self.limit = limit
            if window_s is not None:
                self.window_s = window_s
            self._counts.clear()

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()

    def hit(self, token: str) -> Decision | None:
        """Count one call; None when unlimited (no headers are sent then)."""
        with self._lock:
            if self.limit <= 0:
                return None
            now = self._clock()
            start = math.floor(now / self.window_s) * self.window_s
            reset = math.ceil(start + self.window_s)
            window, used = self._counts.get(token, (start, 0))
            if window != start:
                used = 0
            used += 1
            self._counts[token] = (start, used)
            return Decision(used <= self.limit, self.limit, max(self.limit - used, 0), reset)
