"""How one Intercom call is retried: transient errors back off (within a horizon), 429 waits for the
window, a refused token or Intercom failing across requests (an outage or a brownout: the breaker in
streams/delivery/outage.py) pauses delivery.

The breaker's verdict on each transient failure decides what it costs the request: OWN spends an
attempt and the backoff counts against the horizon; WAIT spends nothing (the breaker is open);
UNDECIDED backs off but is held aside. Held failures become the request's own when the window later
finds Intercom healthy (OWN), or once ``max_attempts`` of them pile up (later ones then count at
once): the request is failing with nothing failing beside it, e.g. one bad request on a quiet worker
(with traffic, an outage opens the breaker within a few calls of each request). It is still
dead-lettered at about its horizon, as the held time counts too. The bound is a count, not a time,
because backoff delays differ by orders of magnitude between policies (and tests), while "as many
failures as the operator allows" means the same everywhere. Held failures are forgotten when the
breaker opens: they were Intercom's."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from streams.delivery.outage import Admission, OutageDetector, Verdict
from streams.errors import Attempt, AuthError, DeliveryError, RateLimitedError, RetryableDeliveryError
from streams.observability import metrics
from streams.observability.health import HealthState

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    # A transient failure is retried until both max_attempts are spent and the backoff sleeps add up to
    # this horizon, counting only the call's own failures (not time waited out while the breaker is
    # open, nor UNDECIDED ones until they turn out to be its own): a blip at Intercom costs a delay,
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


@dataclass
class _Failures:
    """One call's transient failures: its own, and the UNDECIDED ones held aside (see the module
    docstring), each with the backoff slept after it."""

    own: list[Attempt] = field(default_factory=list)
    held: list[Attempt] = field(default_factory=list)
    own_s: float = 0.0
    held_s: float = 0.0
    undecided: int = 0  # UNDECIDED failures since the breaker last opened (or since the first call)

    def all(self) -> list[Attempt]:
        return [*self.own, *self.held]

    def forget_held(self) -> None:
        """The breaker opened: the held failures were Intercom's, not this call's."""
        self.held, self.held_s, self.undecided = [], 0.0, 0

    def add(self, failure: Attempt, verdict: Verdict, policy: RetryPolicy) -> bool:
        """Record ``failure`` (OWN or UNDECIDED); True when the call has spent its attempts and horizon."""
        if verdict is Verdict.UNDECIDED:
            self.undecided += 1
            if self.undecided < policy.max_attempts:
                self.held.append(failure)
                return False
        self.own += [*self.held, failure]
        self.own_s += self.held_s
        self.held, self.held_s = [], 0.0
        return len(self.own) >= policy.max_attempts and self.own_s >= policy.retry_horizon_s

    def backed_off(self, delay: float) -> None:
        if self.held:
            self.held_s += delay
        else:
            self.own_s += delay


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
    copy of the last one, raised from it) carries ``attempts`` and ``history`` (each attempt's outcome
    and time) for the dead letter. ``outage`` and ``health``: the worker's.

    ``pause_on_auth=False``: a 401/403 is this call's own failure (e.g. the token may not create
    data attributes), not a wrong token: raise it instead of pausing delivery."""
    failures = _Failures()
    waited_on_429 = 0.0
    while True:
        admission = Admission()
        try:
            async with outage.admit(sleep) as admission:  # waits while the breaker is open
                result = await operation()
        except RetryableDeliveryError as exc:
            verdict = outage.failed(operation, admission)
            if verdict is Verdict.WAIT:
                # Intercom fails for everyone: wait it out, spending neither attempts nor horizon.
                failures.forget_held()
                continue
            if failures.add(Attempt(clock(), exc.outcome), verdict, policy):
                raise exc.completed(attempts=len(failures.own), history=list(failures.own)) from exc
            metrics.retry()
            delay = policy.backoff(len(failures.own) + len(failures.held))
            failures.backed_off(delay)
            log.debug("transient failure (%s), %s: retry in %.1fs", exc.outcome, verdict.value, delay)
            await sleep(delay)
        except RateLimitedError as exc:
            outage.answered(admission)  # every answer, even an error, says Intercom is up
            # A 429 is Intercom pacing us, not a failure of this call: no attempt spent.
            delay = max(0.0, exc.retry_at - clock()) + random.uniform(0, 0.5)
            waited_on_429 += delay
            if waited_on_429 > policy.max_rate_limited_wait_s:
                final = [*failures.all(), Attempt(clock(), exc.outcome)]
                raise exc.completed(attempts=len(final), history=final) from exc
            await sleep(delay)
        except AuthError as exc:
            outage.answered(admission)
            if not pause_on_auth:
                raise exc.completed(attempts=len(failures.all()) + 1) from exc
            # The token is wrong for every event: hold delivery rather than dead-letter everything.
            # This call keeps probing; the first call that succeeds ends the pause (health, log).
            if health.token_refused(exc.status):  # first refusal of the episode: one ERROR line
                metrics.delivery_paused()
            log.debug("token refused (%s); this call retries in %.0fs", exc.status, policy.auth_pause_s)
            await sleep(policy.auth_pause_s)
        except DeliveryError as exc:
            outage.answered(admission)
            final = [*failures.all(), Attempt(clock(), exc.outcome)]
            raise exc.completed(attempts=len(final), history=final) from exc
        else:
            outage.answered(admission)
            return result
