"""How one Intercom call is retried: transient errors back off (within a horizon), 429 waits for the
window, a refused token or Intercom failing across requests (an outage or a brownout: the breaker in
streams/delivery/outage.py) pauses delivery."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from streams.delivery.outage import Admission, OutageDetector
from streams.errors import Attempt, AuthError, DeliveryError, RateLimitedError, RetryableDeliveryError
from streams.observability import metrics
from streams.observability.health import HealthState

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    # A transient failure is retried until both max_attempts are spent and the backoff sleeps add up to
    # this horizon (time waited out in an outage does not count): a blip at Intercom costs a delay,
    # not a dead letter.
    retry_horizon_s: float = 0.0
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
    outage: OutageDetector,
    health: HealthState,
) -> T:
    """Run ``operation`` until it succeeds or fails for good; the final DeliveryError (a completed
    copy of the last one, raised from it) carries ``attempts`` and ``history`` (each counted attempt's
    outcome and time) for the dead letter. ``outage`` and ``health``: the worker's.

    ``pause_on_auth=False``: a 401/403 is this call's own failure (e.g. the token may not create
    data attributes), not a wrong token: raise it instead of pausing delivery."""
    attempt = 0
    backed_off_s = 0.0
    history: list[Attempt] = []
    waited_on_429 = 0.0
    while True:
        attempt += 1
        admission = Admission(probe=False)
        try:
            async with outage.admit(sleep) as admission:  # waits while the breaker is open
                result = await operation()
        except RetryableDeliveryError as exc:
            if outage.failed(operation, admission):
                # Intercom fails for everyone: wait it out, spending neither attempts nor horizon.
                attempt -= 1
                continue
            history.append(Attempt(clock(), exc.outcome))
            if attempt >= policy.max_attempts and backed_off_s >= policy.retry_horizon_s:
                raise exc.completed(attempts=attempt, history=list(history)) from exc
            metrics.retry()
            delay = policy.backoff(attempt)
            backed_off_s += delay
            await sleep(delay)
        except RateLimitedError as exc:
            outage.answered(admission)  # every answer, even an error, says Intercom is up
            attempt -= 1  # a 429 is Intercom pacing us, not a failure of this call
            delay = max(0.0, exc.retry_at - clock()) + random.uniform(0, 0.5)
            waited_on_429 += delay
            if waited_on_429 > policy.max_rate_limited_wait_s:
                final = [*history, Attempt(clock(), exc.outcome)]
                raise exc.completed(attempts=attempt + 1, history=final) from exc
            await sleep(delay)
        except AuthError as exc:
            outage.answered(admission)
            if not pause_on_auth:
                raise exc.completed(attempts=attempt) from exc
            # The token is wrong for every event: hold delivery rather than dead-letter everything.
            # This call keeps probing; the first call that succeeds ends the pause (health, log).
            attempt -= 1
            if health.token_refused(exc.status):  # first refusal of the episode: one ERROR line
                metrics.delivery_paused()
            log.debug("token refused (%s); this call retries in %.0fs", exc.status, policy.auth_pause_s)
            await sleep(policy.auth_pause_s)
        except DeliveryError as exc:
            outage.answered(admission)
            final = [*history, Attempt(clock(), exc.outcome)]
            raise exc.completed(attempts=attempt, history=final) from exc
        else:
            outage.answered(admission)
            return result
