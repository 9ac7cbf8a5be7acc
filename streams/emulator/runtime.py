"""The emulator instance: configuration plus every piece of mutable state."""

from __future__ import annotations

from streams.emulator.clock import Clock, system_clock
from streams.emulator.config import EmulatorConfig
from streams.emulator.faults import Faults
from streams.emulator.latency import Latency
from streams.emulator.ratelimit import RateLimiter
from streams.emulator.requestlog import RequestLog
from streams.emulator.store import Store


class Emulator:
    def __init__(self, config: EmulatorConfig, clock: Clock = system_clock) -> None:
        self.config = config
        self._clock = clock
        self.store = Store(clock=self._now, seed=config.seed, search_lag_s=config.search_lag_s)
        self.rate_limiter = RateLimiter(
            config.rate_limit, config.rate_window_s, self._now, config.workspace_rate_limit
        )
        self.faults = Faults(config.fault_rate, config.seed)
        self.latency = Latency(config.latency_min_s, config.latency_max_s, config.seed)
        self.log = RequestLog(config.request_log_size)

    # Indirection so tests can swap the clock after construction (emulator.clock = FakeClock()).
    def _now(self) -> float:
        return self._clock()

    @property
    def clock(self) -> Clock:
        return self._clock

    @clock.setter
    def clock(self, value: Clock) -> None:
        self._clock = value

    def reset(self) -> None:
        self.store.reset()
        self.rate_limiter.reset()
        self.faults.reset()
        self.log.clear()

    def set_search_lag(self, seconds: float) -> None:
        self.config.search_lag_s = seconds
        self.store.search_lag_s = seconds

    def set_fault_rate(self, rate: float) -> None:
        self.config.fault_rate = rate
        self.faults.rate = rate
