"""A sliding-window budget: at most N calls in any S seconds.

Intercom counts fixed 10-second windows whose edges we cannot see; a sliding window of the same size
never puts more than N calls into any fixed window, where a token bucket could put up to 2N.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable


class SlidingWindowLimiter:
    def __init__(self, max_calls: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        if max_calls <= 0 or window_s <= 0:
            raise ValueError("max_calls and window_s must be positive")
        self.max_calls = max_calls
        self.window_s = window_s
        self._clock = clock
        self._sent: deque[float] = deque()
        self._lock = asyncio.Lock()
        self._paused_until = 0.0

    def _expire(self, now: float) -> None:
        while self._sent and now - self._sent[0] >= self.window_s:
            self._sent.popleft()

    @property
    def used(self) -> int:
        self._expire(self._clock())
        return len(self._sent)

    def pause_until(self, monotonic_deadline: float) -> None:
        """Stop all calls until the deadline (used after a 429 with its reset time)."""
        self._paused_until = max(self._paused_until, monotonic_deadline)

    async def acquire(self) -> None:
        async with self._lock:  # FIFO among waiters: calls keep their order
            while True:
                now = self._clock()
                if now < self._paused_until:
                    await asyncio.sleep(self._paused_until - now)
                    continue
                self._expire(now)
                if len(self._sent) < self.max_calls:
                    self._sent.append(now)
                    return
                await asyncio.sleep(self.window_s - (now - self._sent[0]))
