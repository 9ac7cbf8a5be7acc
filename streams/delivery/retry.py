"""How one Intercom call is retried: transient errors back off, 429 waits for the window, auth pauses."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from streams.errors import Attempt, AuthError, DeliveryError, RateLimitedError, RetryableDeliveryError
from streams.observability import metrics
from streams.observability.health import HEALTH

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    auth_pause_s: float = 5.0
    # 429s never spend attempts; this bounds how long one call may wait on them in total.
    max_rate_limited_wait_s: float = 600.0

    def backoff(self, attempt: int) -> float:
        """Full jitter: spreads retries of many workers instead of synchronising them."""
        return random.uniform(0, min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1)))


async def with_retries(
    operation: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    clock: Callable[[], float] = time.time,
    *,
    pause_on_auth: bool = True,
) -> T:
    """Run ``operation`` until it succeeds or fails for good; a final DeliveryError carries
    ``attempts`` and ``history`` (each counted attempt's outcome and time) for the dead letter.

    ``pause_on_auth=False``: a 401/403 is this call's own failure (e.g. the token may not create
    data attributes), not a wrong token: raise it instead of pausing delivery."""
    attempt = 0
    history: list[Attempt] = []
    waited_on_429 = 0.0
    while True:
        attempt += 1
        try:
            return await operation()
        except RateLimitedError as exc:
            attempt -= 1  # a 429 is Intercom pacing us, not a failure of this call
            delay = max(0.0, exc.retry_at - clock()) + random.uniform(0, 0.5)
            waited_on_429 += delay
            if waited_on_429 > policy.max_rate_limited_wait_s:
                exc.attempts = attempt + 1
                exc.history = [*history, Attempt(clock(), exc.outcome)]
                raise
            await sleep(delay)
        except AuthError as exc:
            if not pause_on_auth:
                exc.attempts = attempt
                raise
            # The token is wrong for every event: hold delivery rather than dead-letter everything.
            # This call keeps probing; the first call that succeeds ends the pause (health, log).
            attempt -= 1
            if HEALTH.token_refused(exc.status):  # first refusal of the episode: one ERROR line
                metrics.delivery_paused()
            log.debug("token refused (%s); this call retries in %.0fs", exc.status, policy.auth_pause_s)
            await sleep(policy.auth_pause_s)
        except RetryableDeliveryError as exc:
            history.append(Attempt(clock(), exc.outcome))
            exc.attempts, exc.history = attempt, list(history)
            if attempt >= policy.max_attempts:
                raise
            metrics.retry()
            await sleep(policy.backoff(attempt))
        except DeliveryError as exc:
            exc.attempts, exc.history = attempt, [*history, Attempt(clock(), exc.outcome)]
            raise
