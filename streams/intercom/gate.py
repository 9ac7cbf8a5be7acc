"""The app-wide gate: paces every call of one token by Intercom's own ``X-RateLimit-*`` headers.

Intercom counts calls per token (app) in fixed 10-second windows and tells us, on every answer, how
many are left (``Remaining``) and when the window ends (``Reset``, unix seconds). The per-partition
limiters cannot see calls of other partitions, pods or apps on the same token; this gate can, through
the headers. When the window is (nearly) spent, calls wait until it resets instead of earning a 429.

Between answers the gate counts down locally (one per call let through), so calls that are in flight
at the same time cannot all pass on one stale ``Remaining``. Calls still in flight when a window ends
are counted against the next one: Intercom counts a call when it arrives, so one sent just before the
reset may land just after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from streams.observability import metrics

# Intercom's windows are 10 seconds long; used to guess the next window's end before an answer says.
DEFAULT_WINDOW_S = 10.0


class RateLimitGate:
    def __init__(
        self,
        *,
        reserve: int = 0,
        window_s: float = DEFAULT_WINDOW_S,
        max_jitter_s: float = 0.25,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        jitter: Callable[[float, float], float] = random.uniform,
    ) -> None:
        if reserve < 0 or window_s <= 0 or max_jitter_s < 0:
            raise ValueError("reserve and max_jitter_s must be >= 0, window_s > 0")
        self.reserve = reserve
        self.window_s = window_s
        self.max_jitter_s = max_jitter_s
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self.limit: int | None = None
        self.remaining: int | None = None  # None: nothing known about the current window
        self.reset_at: float | None = None  # unix seconds (Intercom's clock)
        self.waits = 0
        self.in_flight = 0  # calls let through whose answer has not come back (see finished())

    def _roll(self, now: float) -> None:
        """Past the known reset: a new window has begun; expect Intercom's full limit in it."""
        if self.reset_at is None or now < self.reset_at:
            return
        windows = int((now - self.reset_at) // self.window_s) + 1
        self.reset_at += windows * self.window_s
        self.remaining = None if self.limit is None else max(0, self.limit - self.in_flight)

    def _threshold(self) -> int:
        # A reserve as large as the limit would stop all calls: keep at least one call per window.
        return self.reserve if self.limit is None else min(self.reserve, max(0, self.limit - 1))

    async def acquire(self) -> float:
        """Wait until a call may go out (it is counted against the window); returns seconds waited."""
        waited = 0.0
        while True:
            now = self._clock()
            self._roll(now)
            if self.remaining is None or self.reset_at is None or self.remaining > self._threshold():
                if self.remaining is not None:
                    self.remaining -= 1
                self.in_flight += 1
                return waited
            delay = max(0.0, self.reset_at - now) + self._jitter(0.0, self.max_jitter_s)
            self.waits += 1
            metrics.rate_gate_wait(delay)
            await self._sleep(delay)
            waited += delay

    def finished(self) -> None:
        """A call let through by acquire() is over (answered or failed)."""
        self.in_flight = max(0, self.in_flight - 1)

    def update(self, headers: Mapping[str, str]) -> None:
        """Learn from one answer's headers (any status, 429 included)."""
        lower = {k.lower(): v for k, v in headers.items()}
        try:
            remaining = int(lower["x-ratelimit-remaining"])
            reset = float(lower["x-ratelimit-reset"])
        except (KeyError, ValueError):
            return
        with contextlib.suppress(KeyError, ValueError):
            self.limit = int(lower["x-ratelimit-limit"])
        if reset <= self._clock():
            return  # a late answer about a window that is already over
        if reset == self.reset_at and self.remaining is not None:
            # Same window: answers arrive out of order and our own count may be ahead: keep the lower.
            self.remaining = min(self.remaining, remaining)
        else:
            # A window we had not rolled into: every other call in flight was let through before it
            # began and may land in it, which this answer's count does not include yet.
            self.reset_at, self.remaining = reset, max(0, remaining - max(0, self.in_flight - 1))
