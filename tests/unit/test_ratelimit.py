import asyncio

from streams.intercom import SlidingWindowLimiter


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
