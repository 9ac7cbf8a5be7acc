"""One Intercom call with its retries, shared by every delivery service of an executor."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from streams.delivery.core import PLAN, Call
from streams.delivery.outage import OutageDetector
from streams.delivery.retry import RetryPolicy, with_retries
from streams.errors import DeliveryError
from streams.observability.health import HealthState

log = logging.getLogger(__name__)


class IntercomCalls:
    """``call`` under the retry policy, the outage detector and the auth pause; counts the calls
    made and the writes skipped (Intercom already holds the values)."""

    def __init__(
        self,
        call: Call,
        policy: RetryPolicy,
        *,
        outage: OutageDetector,
        health: HealthState,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self._call = call
        self.policy = policy
        self.outage = outage
        self.health = health
        self._sleep = sleep  # injected by tests: retries and holds never sleep for real there
        self.calls = 0
        self.skipped = 0

    async def request(self, method: str, path: str, body: Any = None, *, pause_on_auth: bool = True) -> Any:
        """The call's answer; a DeliveryError that ends it carries the request and attempt times."""
        attempted_at_ms: list[int] = []  # first and latest attempt, for the dead-letter record

        async def once() -> Any:
            self.calls += 1
            if (plan := PLAN.get()) is not None:
                plan.calls += 1
            attempted_at_ms[1:] = [int(time.time() * 1000)]
            return await self._call(method, path, body)

        try:
            return await with_retries(
                once,
                self.policy,
                self._sleep,
                pause_on_auth=pause_on_auth,
                outage=self.outage,
                health=self.health,
            )
        except DeliveryError as exc:
            times = {}
            if attempted_at_ms:
                times = {"first_attempt_at_ms": attempted_at_ms[0], "last_attempt_at_ms": attempted_at_ms[-1]}
            raise exc.completed(request={"method": method, "path": path, "body": body}, **times) from exc

    def skip(self, what: str) -> None:
        self.skipped += 1
        log.debug("skipped %s: Intercom already holds these values", what)
