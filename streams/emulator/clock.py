"""The emulator's notion of time, swappable in tests (see Emulator.clock)."""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]


def system_clock() -> float:
    return time.time()


class FakeClock:
    """A settable clock for tests: `clock.advance(11)` moves past a rate window."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
