"""Tells an Intercom outage from one request's own trouble, and paces the calls that wait it out.

One request failing again and again (5xx, timeouts, dropped connections) is that request's problem:
it retries within its horizon, then is dead-lettered. Many different requests failing in a row, with
no answer in between, is Intercom (or the way to it) being down: then delivery pauses instead, as
for a refused token. No attempt is spent and nothing is dead-lettered while it lasts; each waiting call
probes again after a delay that grows with the outage (to ``probe_max_s``), and the first answer from
Intercom ends the episode (health, gauge, one log line each way).
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable, Hashable

from streams.observability import metrics
from streams.observability.health import HealthState


class OutageDetector:
    def __init__(
        self,
        failures: int = 8,
        distinct_requests: int = 3,
        probe_base_s: float = 1.0,
        probe_max_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        *,
        health: HealthState,
    ) -> None:
        """An outage: the last ``failures`` outcomes were all failures, of at least
        ``distinct_requests`` different requests. ``health``: the worker's, turned red meanwhile."""
        self._health = health
        self.configure(failures, distinct_requests, probe_base_s, probe_max_s)
        self._clock = clock
        self.since: float | None = None

    def configure(
        self, failures: int, distinct_requests: int, probe_base_s: float, probe_max_s: float
    ) -> None:
        self._recent: deque[Hashable | None] = deque(maxlen=max(1, failures))
        self._distinct = max(1, distinct_requests)
        self._probe_base_s, self._probe_max_s = probe_base_s, probe_max_s

    @property
    def active(self) -> bool:
        return self.since is not None

    def answered(self) -> None:
        """Intercom answered a call (any answer but 5xx/408): it is up."""
        self._recent.append(None)
        if self.since is not None:
            self._health.intercom_recovered(self._clock() - self.since)
            self.since = None

    def failed(self, request: Hashable) -> bool:
        """A call of ``request`` failed transiently; True while an outage is on (the call should wait)."""
        self._recent.append(request)
        if self.since is None and self._looks_down():
            self.since = self._clock()
            self._health.intercom_down(len(self._recent))
            metrics.outage()
        return self.since is not None

    def _looks_down(self) -> bool:
        recent = self._recent
        return len(recent) == recent.maxlen and None not in recent and len(set(recent)) >= self._distinct

    def probe_delay(self) -> float:
        """How long a waiting call sleeps before it tries again: grows with the outage, jittered so
        the waiting calls do not probe all at once."""
        age = 0.0 if self.since is None else self._clock() - self.since
        ceiling = min(self._probe_max_s, max(self._probe_base_s, age / 4))
        return random.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self._recent.clear()
        self.since = None
