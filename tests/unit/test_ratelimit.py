import asyncio

import pytest

from streams.intercom import RateLimitGate, SlidingWindowLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_no_window_ever_holds_more_than_the_budget(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    clock = FakeClock()
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    limiter = SlidingWindowLimiter(5, 10.0, clock=clock)
    stamps = []
    for _ in range(23):
        await limiter.acquire()
        stamps.append(clock.now)
        clock.now += 0.1
    for start in stamps:
        assert sum(1 for t in stamps if start <= t < start + 10.0) <= 5
    assert slept, "the limiter must have waited"


async def test_pause_until_blocks_calls(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    clock = FakeClock()

    async def fake_sleep(seconds: float) -> None:
        clock.now += seconds

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    limiter = SlidingWindowLimiter(100, 10.0, clock=clock)
    limiter.pause_until(clock.now + 7)
    await limiter.acquire()
    assert clock.now >= 107


# -- the app-wide gate fed by X-RateLimit-* headers ------------------------------------------------


class SleepUntil:
    """A fake sleep on a fake wall clock: each sleeper wakes at its own deadline (never really waits)."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.slept: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)
        wake_at = self.clock.now + seconds
        await asyncio.sleep(0)  # let the other sleepers start theirs at the same moment
        self.clock.now = max(self.clock.now, wake_at)


def rate_headers(limit: int, remaining: int, reset: float) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": str(int(reset)),
    }


def gate_on(clock: FakeClock, reserve: int = 0) -> tuple[RateLimitGate, SleepUntil]:
    sleep = SleepUntil(clock)
    gate = RateLimitGate(reserve=reserve, clock=clock, sleep=sleep, jitter=lambda low, high: high)
    return gate, sleep


async def test_gate_lets_calls_through_while_nothing_is_known() -> None:
    clock = FakeClock()
    gate, sleep = gate_on(clock)
    for _ in range(500):
        await gate.acquire()
    assert sleep.slept == []


async def answered_call(gate: RateLimitGate) -> float:
    """One call through the gate, answered at once."""
    waited = await gate.acquire()
    gate.finished()
    return waited


async def test_gate_counts_down_locally_and_waits_for_the_reset_when_spent() -> None:
    clock = FakeClock()
    gate, _ = gate_on(clock)
    gate.update(rate_headers(10, 3, clock.now + 6))
    results = await asyncio.gather(*(answered_call(gate) for _ in range(5)))  # concurrent callers
    assert results[:3] == [0.0, 0.0, 0.0]  # three left in the window: three pass at once
    assert all(waited >= 6 for waited in results[3:]) and clock.now >= 106
    assert gate.remaining == 10 - 2  # the new window's full limit, minus the two held calls


async def test_calls_in_flight_at_the_reset_count_against_the_next_window() -> None:
    # Intercom counts a call when it arrives: one sent just before the reset lands in the next window.
    clock = FakeClock()
    gate, _ = gate_on(clock)
    gate.update(rate_headers(10, 4, clock.now + 1))
    for _ in range(4):
        await gate.acquire()  # four slow calls, still unanswered at the reset
    clock.now += 2
    gate.finished()  # one of them answers
    await gate.acquire()
    assert gate.in_flight == 4 and gate.remaining == 10 - 3 - 1
    for _ in range(4):
        gate.finished()
    gate.finished()  # more answers than calls (a caller's double finish) never goes below zero
    assert gate.in_flight == 0


async def test_the_first_answer_of_a_new_window_leaves_room_for_the_calls_still_in_flight() -> None:
    clock = FakeClock()
    gate, _ = gate_on(clock)
    gate.update(rate_headers(20, 3, clock.now + 1))
    for _ in range(3):
        await gate.acquire()  # the window's last three calls, sent just before its end
    clock.now += 1.5
    gate.update(rate_headers(20, 19, clock.now + 9.5))  # one lands in the next window and answers
    gate.finished()
    assert gate.remaining == 19 - 2  # the two others may land there too


async def test_gate_keeps_a_reserve_but_never_blocks_a_window_entirely() -> None:
    clock = FakeClock()
    gate, sleep = gate_on(clock, reserve=2)
    gate.update(rate_headers(83, 2, clock.now + 5))
    await gate.acquire()
    assert sleep.slept == [pytest.approx(5 + gate.max_jitter_s)]
    tiny, tiny_sleep = gate_on(FakeClock(), reserve=5)
    tiny.update(rate_headers(1, 1, 108))  # a limit of 1: the reserve cannot take the only call
    await tiny.acquire()
    assert tiny_sleep.slept == []


async def test_gate_keeps_the_lower_count_of_a_window_and_ignores_stale_answers() -> None:
    clock = FakeClock()
    gate, _ = gate_on(clock)
    gate.update(rate_headers(83, 5, 110))
    gate.update(rate_headers(83, 40, 110))  # an earlier answer of the same window, arriving late
    assert gate.remaining == 5
    gate.update(rate_headers(83, 0, 100))  # about a window that is over
    assert (gate.remaining, gate.reset_at) == (5, 110)
    gate.update(rate_headers(83, 70, 120))  # a new window
    assert (gate.remaining, gate.reset_at) == (70, 120)
    gate.update({"X-RateLimit-Remaining": "soon"})  # unreadable: ignored
    assert (gate.remaining, gate.reset_at) == (70, 120)


class FixedWindowIntercom:
    """Intercom's accounting for one token: fixed windows of 10 s, other callers included."""

    def __init__(self, clock: FakeClock, limit: int, others_per_window: int) -> None:
        self.clock, self.limit, self.others = clock, limit, others_per_window
        self.window_start = -1.0
        self.used = 0
        self.ours: dict[float, int] = {}
        self.too_many = 0

    def call(self) -> dict[str, str]:
        start = self.clock.now // 10 * 10
        if start != self.window_start:
            self.window_start, self.used = start, self.others  # other pods/apps spent theirs first
        self.used += 1
        if self.used > self.limit:
            self.too_many += 1
        else:
            self.ours[start] = self.ours.get(start, 0) + 1
        return rate_headers(self.limit, max(0, self.limit - self.used), start + 10)


async def test_gate_slows_before_a_429_when_other_callers_share_the_token() -> None:
    # Our worker alone would send 50 calls per 10 s; the token allows 50, others spend 30 of them.
    clock = FakeClock()
    clock.now = 1000.0
    intercom = FixedWindowIntercom(clock, limit=50, others_per_window=30)
    gate, sleep = gate_on(clock)
    for _ in range(400):
        await gate.acquire()
        gate.update(intercom.call())
        gate.finished()
        clock.now += 0.2
    assert intercom.too_many == 0  # not a single 429
    assert sleep.slept and gate.waits == len(sleep.slept)
    full_windows = [n for start, n in intercom.ours.items() if start != max(intercom.ours)]
    assert full_windows and all(n == 20 for n in full_windows)  # and the whole 20 left were used
