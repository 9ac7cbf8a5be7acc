"""Tells Intercom failing (an outage, or a brownout) from one request's own trouble: a circuit breaker
on the failure rate across requests, and the reduced flow of calls while it is open.

One request failing again and again (5xx, timeouts, dropped connections) is that request's problem:
it retries within its horizon, then is dead-lettered. Most calls of many different requests failing
over the last ``window_s`` seconds is Intercom (or the way to it) failing: the breaker opens and
delivery pauses instead, as for a refused token. A run of consecutive failures is not the test: in a
brownout Intercom still answers one call in five (slowly), and each such answer would end the episode
while the horizons of all the other requests kept running.

closed  every call goes; its outcome enters the window. Opens when the window holds at least
        ``min_calls`` calls and ``min_failures`` transient failures of ``distinct_requests`` different
        requests, and at least ``failure_rate`` of the calls failed.
open    no call spends an attempt or its horizon; at most ``probes`` calls are in flight at once (the
        reduced flow), each after a probe delay that grows with the episode (to ``probe_max_s``).
        Outcomes of calls sent before the breaker opened are ignored.
        ``close_after`` probes in a row succeeding close it (a failed probe starts the count again):
        one slow success in a brownout does not. Health, gauge and one log line at each end.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from streams.observability import metrics
from streams.observability.health import HealthState

Sleep = Callable[[float], Awaitable[Any]]


@dataclass
class Admission:
    """One call let through the breaker; ``probe``: sent while it was open."""

    probe: bool


class OutageDetector:
    def __init__(
        self,
        *,
        health: HealthState,
        window_s: float = 30.0,
        min_calls: int = 10,
        min_failures: int = 8,
        failure_rate: float = 0.5,
        distinct_requests: int = 3,
        probes: int = 2,
        close_after: int = 5,
        probe_base_s: float = 1.0,
        probe_max_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``health``: the worker's, red while the breaker is open."""
        self._health = health
        self._window_s, self._min_calls, self._min_failures = (
            window_s,
            max(1, min_calls),
            max(1, min_failures),
        )
        self._rate, self._distinct = failure_rate, max(1, distinct_requests)
        self._probes, self._close_after = max(1, probes), max(1, close_after)
        self._probe_base_s, self._probe_max_s = probe_base_s, probe_max_s
        self._clock = clock
        # (time, None for an answer or the failed request) of the calls of the last window_s seconds.
        self._recent: deque[tuple[float, Hashable | None]] = deque()
        self._in_flight_probes = 0
        self._successes = 0  # probes in a row that succeeded, while open
        self.since: float | None = None

    @property
    def active(self) -> bool:
        """The breaker is open: Intercom is failing across requests."""
        return self.since is not None

    @asynccontextmanager
    async def admit(self, sleep: Sleep = asyncio.sleep) -> AsyncIterator[Admission]:
        """Wrap one call: while open, wait for a probe slot and the probe delay first."""
        while self.active and self._in_flight_probes >= self._probes:
            await sleep(self.probe_delay())
        if not self.active:
            yield Admission(probe=False)
            return
        self._in_flight_probes += 1
        try:
            await sleep(self.probe_delay())
            yield Admission(probe=True)
        finally:
            self._in_flight_probes -= 1

    def answered(self, admission: Admission | None = None) -> None:
        """Intercom answered a call (any answer but 5xx/408)."""
        if self.since is None:
            self._record(None)
            return
        if admission is None or not admission.probe:
            return  # sent before the episode: says nothing about Intercom now
        self._successes += 1
        if self._successes >= self._close_after:
            self._close()

    def failed(self, request: Hashable, admission: Admission | None = None) -> bool:
        """A call of ``request`` failed transiently; True while the breaker is open (the call waits,
        spending neither an attempt nor its horizon)."""
        if self.since is not None:
            if admission is not None and admission.probe:
                self._successes = 0
            return True
        self._record(request)
        if self._failing():
            self._open()
        return self.since is not None

    def probe_delay(self) -> float:
        """How long a probe waits before it goes: grows with the episode, jittered so that probes do
        not go all at once; short while probes succeed (to close quickly once Intercom is back)."""
        age = 0.0 if self.since is None else self._clock() - self.since
        ceiling = self._probe_base_s
        if not self._successes:
            ceiling = min(self._probe_max_s, max(self._probe_base_s, age / 4))
        return random.uniform(ceiling / 2, ceiling)

    def failure_rate(self) -> float:
        """Share of the window's calls that failed transiently (0 when there were none)."""
        self._prune()
        failed = sum(1 for _, request in self._recent if request is not None)
        return failed / len(self._recent) if self._recent else 0.0

    def _record(self, request: Hashable | None) -> None:
        self._recent.append((self._clock(), request))
        self._prune()

    def _prune(self) -> None:
        horizon = self._clock() - self._window_s
        while self._recent and self._recent[0][0] < horizon:
            self._recent.popleft()

    def _failing(self) -> bool:
        calls = len(self._recent)
        failed = [request for _, request in self._recent if request is not None]
        return (
            calls >= self._min_calls
            and len(failed) >= self._min_failures
            and len(failed) >= self._rate * calls
            and len(set(failed)) >= self._distinct
        )

    def _open(self) -> None:
        rate, calls = self.failure_rate(), len(self._recent)
        self.since, self._successes = self._clock(), 0
        self._health.intercom_down(
            failures=sum(1 for _, r in self._recent if r is not None), calls=calls, rate=rate
        )
        metrics.outage()

    def _close(self) -> None:
        assert self.since is not None
        self._health.intercom_recovered(self._clock() - self.since)
        self.since, self._successes = None, 0
        self._recent.clear()
