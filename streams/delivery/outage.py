"""Tells Intercom failing (an outage, or a brownout) from one request's own trouble: a circuit breaker
on the failure rate across requests, and the reduced flow of calls while it is open.

One request failing again and again (5xx, timeouts, dropped connections) is that request's problem:
it retries within its horizon, then is dead-lettered. Most calls of many different requests failing
among the latest calls (the last ``2 * min_calls`` of the last ``window_s`` seconds) is Intercom (or
the way to it) failing: the breaker opens and delivery pauses instead, as for a refused token. A run
of consecutive failures is not the test: in a brownout Intercom still answers one call in five
(slowly), and each such answer would end the episode while the horizons of all the other requests
kept running.

Each transient failure gets a verdict (``failed``), which streams/delivery/retry.py acts on:

OWN        the window can judge and Intercom is healthy (fewer than ``failure_rate`` of its calls
           failed): the request's own failure; it spends an attempt and its backoff the horizon.
WAIT       the breaker is open (or this failure opened it): wait, spend nothing.
UNDECIDED  the window cannot judge yet: fewer than ``min_calls`` calls in it (a worker that just
           started, or a breaker that just closed), or many failures but not yet ``min_failures`` of
           ``distinct_requests`` different requests. Back off, spending nothing yet; retry.py bounds this.

closed  every call goes; its outcome enters the window. Opens when the window holds at least
        ``min_calls`` calls and ``min_failures`` transient failures of ``distinct_requests`` different
        requests, and at least ``failure_rate`` of the calls failed.
open    no call spends an attempt or its horizon; at most ``probes`` calls are in flight at once (the
        reduced flow), each after a probe delay that grows with the episode (to ``probe_max_s``).
        A call counts as a probe only for the episode it was sent in (``Admission.episode``): outcomes
        of calls sent before this episode are ignored. It closes when ``close_after`` probes in a row
        succeeded and fewer than half ``failure_rate`` of the last ``2 * close_after`` probes failed:
        the slow successes of a brownout (one in five) close it neither by luck nor by a short run.
        Health, gauge and one log line at each end.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import Enum
from typing import Any

from streams.observability import metrics
from streams.observability.health import HealthState

Sleep = Callable[[float], Awaitable[Any]]


class Verdict(Enum):
    """What one transient failure means for the request it belongs to (see the module docstring)."""

    OWN = "own"
    WAIT = "wait"
    UNDECIDED = "undecided"


@dataclass(frozen=True)
class Admission:
    """One call let through the breaker: ``probe``, sent while it was open, in ``episode``."""

    probe: bool = False
    episode: int = 0


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
        # (time, None for an answer or the failed request) of the calls of the last window_s seconds,
        # and only the latest of them: when a brownout starts, the dense successes just before it
        # would otherwise outweigh the sparse failures (retries back off) for most of window_s, and
        # a request's failures would count as its own, up to a dead letter.
        self._recent: deque[tuple[float, Hashable | None]] = deque(
            maxlen=2 * max(self._min_calls, self._min_failures)
        )
        self._in_flight_probes = 0
        self._episode = 0  # numbers the episodes: a probe counts only for its own
        self._successes = 0  # probes in a row that succeeded, while open
        self._probed: deque[bool] = deque(maxlen=2 * self._close_after)  # the episode's last probes: ok?
        self.since: float | None = None

    @property
    def active(self) -> bool:
        """The breaker is open: Intercom is failing across requests."""
        return self.since is not None

    @property
    def probing(self) -> bool:
        """Some call is probing (or waiting for the probe delay) right now."""
        return self._in_flight_probes > 0

    @property
    def episode(self) -> int:
        """How many times the breaker opened: the current episode's number while open."""
        return self._episode

    @asynccontextmanager
    async def admit(self, sleep: Sleep = asyncio.sleep) -> AsyncIterator[Admission]:
        """Wrap one call: while open, wait for a probe slot and the probe delay first."""
        while self.active and self._in_flight_probes >= self._probes:
            await sleep(self.probe_delay())
        if not self.active:
            yield Admission(probe=False, episode=self._episode)
            return
        self._in_flight_probes += 1
        try:
            await sleep(self.probe_delay())
            # The breaker may have closed (or closed and opened again) during the delay: say so now.
            yield Admission(probe=self.active, episode=self._episode)
        finally:
            self._in_flight_probes -= 1

    def answered(self, admission: Admission | None = None) -> None:
        """Intercom answered a call (any answer but 5xx/408)."""
        if self.since is None:
            self._record(None)
            return
        if not self._probe_of_this_episode(admission):
            return  # sent before the episode: says nothing about Intercom now
        self._successes += 1
        self._probed.append(True)
        if self._successes >= self._close_after and self._probe_failure_share() < self._rate / 2:
            self._close()

    def failed(self, request: Hashable, admission: Admission | None = None) -> Verdict:
        """A call of ``request`` failed transiently: what that means for ``request``."""
        if self.since is not None:
            if self._probe_of_this_episode(admission):
                self._successes = 0
                self._probed.append(False)
            return Verdict.WAIT
        self._record(request)
        if self._failing():
            self._open()
            return Verdict.WAIT
        calls, failed = len(self._recent), self._failures()
        if calls < self._min_calls or len(failed) >= self._rate * calls:
            return Verdict.UNDECIDED  # too few calls, or failing but not (yet) across requests
        return Verdict.OWN

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
        return len(self._failures()) / len(self._recent) if self._recent else 0.0

    def _probe_of_this_episode(self, admission: Admission | None) -> bool:
        return admission is not None and admission.probe and admission.episode == self._episode

    def _probe_failure_share(self) -> float:
        return self._probed.count(False) / len(self._probed)

    def _failures(self) -> list[Hashable]:
        return [request for _, request in self._recent if request is not None]

    def _record(self, request: Hashable | None) -> None:
        self._recent.append((self._clock(), request))
        self._prune()

    def _prune(self) -> None:
        horizon = self._clock() - self._window_s
        while self._recent and self._recent[0][0] < horizon:
            self._recent.popleft()

    def _failing(self) -> bool:
        calls, failed = len(self._recent), self._failures()
        return (
            calls >= self._min_calls
            and len(failed) >= self._min_failures
            and len(failed) >= self._rate * calls
            and len(set(failed)) >= self._distinct
        )

    def _open(self) -> None:
        rate, calls = self.failure_rate(), len(self._recent)
        self.since, self._successes, self._episode = self._clock(), 0, self._episode + 1
        self._probed.clear()
        self._health.intercom_down(failures=len(self._failures()), calls=calls, rate=rate)
        metrics.outage()

    def _close(self) -> None:
        assert self.since is not None
        self._health.intercom_recovered(self._clock() - self.since)
        self.since, self._successes = None, 0
        self._probed.clear()
        # A fresh window: until it holds min_calls calls again, failures are UNDECIDED, so a breaker
        # closed too early in a brownout costs no horizon before it opens again.
        self._recent.clear()
