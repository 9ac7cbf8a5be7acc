"""Probes Intercom while the breaker is open and no delivery call does: the pause ends when Intercom
recovers even if no event arrives.

While the breaker (outage.py) is open, only delivery calls probe Intercom. A worker whose remaining
work was delivered by the last slow successes of a brownout has nothing left to probe with: without
this, it would stay paused (health red, ``intercom_stream_intercom_outage`` 1) until the next event.
``tick`` (on a timer) sends ``GET /me`` (the admin behind the token: cheap, read-only, in every API
version) through the breaker's own admission, so it waits for the probe delay and a probe slot like
any probe, and its answer counts like one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from streams.delivery.outage import OutageDetector
from streams.errors import DeliveryError, RetryableDeliveryError

Request = Callable[[str, str], Awaitable[Any]]
IDLE_PROBE = "idle probe: GET /me"  # the "request" its failures are recorded under


class IdleProbe:
    def __init__(self, outage: OutageDetector, request: Request) -> None:
        """``request(method, path)``: the worker's Intercom client (rate gate and metrics included)."""
        self._outage = outage
        self._request = request
        self._running = False

    async def tick(self) -> None:
        """One probe, if the breaker is open and nothing else probes."""
        if self._running or not self._outage.active or self._outage.probing:
            return
        self._running = True
        try:
            async with self._outage.admit() as admission:
                if not admission.probe:
                    return  # closed during the probe delay: nothing to ask
                try:
                    await self._request("GET", "/me")
                except RetryableDeliveryError:
                    self._outage.failed(IDLE_PROBE, admission)
                    return
                except DeliveryError:  # 401, 429, ...: an answer all the same, so Intercom is up
                    pass
                self._outage.answered(admission)
        finally:
            self._running = False
