"""Intercom failing across requests (an outage or a brownout) opens the breaker and pauses delivery; one
request's own failures retry within a horizon, then give up; what the window cannot judge yet spends
nothing until it turns out to be the request's own. Clocks and sleeps are faked: no timings."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Hashable, Iterator

import pytest
from structlog.testing import capture_logs

from streams.delivery.outage import Admission, OutageDetector, Verdict
from streams.delivery.retry import RetryPolicy, with_retries
from streams.errors import RejectedError, RetryableDeliveryError
from streams.observability import HealthState
from tests.unit.metrics_sample import sample

OWN, WAIT, UNDECIDED = Verdict.OWN, Verdict.WAIT, Verdict.UNDECIDED


class Intercom:
    """Fails every call with 503 until ``up`` is set."""

    def __init__(self) -> None:
        self.up = asyncio.Event()
        self.calls = 0

    async def call(self) -> str:
        self.calls += 1
        if not self.up.is_set():
            raise RetryableDeliveryError("Intercom answered 503", status=503)
        return "ok"


class FakeTime:
    def __init__(self) -> None:
        self.slept: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        await asyncio.sleep(0)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breaker(health: HealthState, clock: Clock | None = None, **kwargs: float) -> OutageDetector:
    options: dict[str, float] = {"window_s": 30, "min_calls": 10, "min_failures": 8, "failure_rate": 0.5}
    return OutageDetector(health=health, clock=clock or Clock(), **{**options, **kwargs})  # type: ignore[arg-type]


def probe(detector: OutageDetector) -> Admission:
    """A call sent as a probe of the detector's current episode."""
    return Admission(probe=True, episode=detector.episode)


def opened(health: HealthState, clock: Clock | None = None, **kwargs: float) -> OutageDetector:
    """A breaker that four failures of four requests opened."""
    detector = breaker(health, clock, **{"min_calls": 4, "min_failures": 4, **kwargs})
    for n in range(4):
        detector.failed(f"r{n}")
    assert detector.active
    return detector


@pytest.fixture
def seeded() -> Iterator[random.Random]:
    yield random.Random(7)


# -- verdicts --------------------------------------------------------------------------------------


def test_while_the_window_holds_too_few_calls_a_failure_is_undecided(health: HealthState) -> None:
    detector = breaker(health, min_calls=10)
    for _ in range(5):
        detector.answered()
    # 5 answers and 4 failures of 4 requests: too few calls to tell Intercom from the request.
    assert [detector.failed(f"r{n}") for n in range(4)] == [UNDECIDED] * 4
    assert not detector.active


def test_a_failure_among_answers_is_the_requests_own(health: HealthState) -> None:
    detector = breaker(health)
    for _ in range(20):
        detector.answered()
    assert detector.failed("bad") is OWN


def test_failing_but_not_across_requests_is_undecided(health: HealthState) -> None:
    """Most calls fail, but all of one request: an outage seen by a quiet worker, or one bad request."""
    detector = breaker(health, min_calls=2, min_failures=2, distinct_requests=3)
    assert [detector.failed("the-same-request") for _ in range(50)] == [UNDECIDED] * 50
    assert not detector.active


def test_failing_but_fewer_than_min_failures_is_undecided(health: HealthState) -> None:
    detector = breaker(health, min_calls=4, min_failures=8, distinct_requests=2)
    assert [detector.failed(f"r{n}") for n in range(5)] == [UNDECIDED] * 5
    for _ in range(4):
        detector.answered()
    # 6 of the window's 10 calls failed: a failing share, but not yet 8 failures.
    assert detector.failed("r5") is UNDECIDED
    assert not detector.active


def test_the_failure_that_opens_the_breaker_and_all_while_open_wait(health: HealthState) -> None:
    detector = breaker(health, min_calls=4, min_failures=4, distinct_requests=3)
    assert [detector.failed(f"r{n}") for n in range(4)] == [UNDECIDED] * 3 + [WAIT]
    assert detector.active and not health.ready()[0]
    assert detector.failed("r9") is WAIT
    assert detector.failed("r0", probe(detector)) is WAIT


def test_a_low_failure_rate_never_opens_it(health: HealthState) -> None:
    clock = Clock()
    detector = breaker(health, clock)
    for _ in range(10):
        detector.answered()
    verdicts = set()
    for n in range(1000):  # one call in ten fails: Intercom's ordinary noise
        clock.now += 0.1
        if n % 10 == 0:
            verdicts.add(detector.failed(f"r{n}"))
        else:
            detector.answered()
    assert verdicts == {OWN}
    assert not detector.active and detector.failure_rate() == pytest.approx(0.1, abs=0.02)


def test_failures_older_than_the_window_do_not_count(health: HealthState) -> None:
    clock = Clock()
    detector = breaker(health, clock, window_s=30, min_calls=10, min_failures=8)
    for n in range(7):
        detector.failed(f"r{n}")
    clock.now += 31  # those seven are forgotten
    assert [detector.failed(f"s{n}") for n in range(7)] == [UNDECIDED] * 7  # 7 calls: too few
    for _ in range(3):
        detector.answered()
    assert not detector.active
    assert detector.failed("s7") is WAIT  # 8 of 11 in the window failed: open
    assert detector.active


def test_after_it_closes_the_window_starts_afresh(health: HealthState) -> None:
    """A breaker that closed too early in a brownout costs no horizon until it can judge again."""
    detector = opened(health, close_after=1)
    detector.answered(probe(detector))
    assert not detector.active
    assert detector.failed("r0") is UNDECIDED


# -- closing ---------------------------------------------------------------------------------------


async def test_a_brownout_opens_the_breaker_and_its_slow_successes_do_not_close_it(
    health: HealthState, seeded: random.Random
) -> None:
    clock = Clock()
    detector = breaker(health, clock, close_after=5)
    # Four calls in five fail, one in five answers (slowly): each answer used to end the episode.
    for n in range(20):
        clock.now += 0.5
        if seeded.random() < 0.2:
            detector.answered()
        else:
            detector.failed(f"request-{n % 7}")
    assert detector.active and not health.ready()[0]
    for n in range(200):  # the brownout goes on: probes mostly fail, one in five succeeds
        clock.now += 0.5
        if n % 5 == 0:
            detector.answered(probe(detector))
        else:
            assert detector.failed(f"request-{n % 7}", probe(detector)) is WAIT
    assert detector.active


def test_a_lucky_run_of_successes_in_a_brownout_does_not_close_it(health: HealthState) -> None:
    """close_after successes in a row, but half the last 2 x close_after probes failed: still open."""
    detector = opened(health, close_after=5)
    for n in range(20):
        if n % 5 == 0:
            detector.answered(probe(detector))
        else:
            detector.failed("r1", probe(detector))
    for _ in range(5):
        detector.answered(probe(detector))
    assert detector.active  # last ten probes: 5 failed, then 5 answered
    detector.answered(probe(detector))
    detector.answered(probe(detector))
    assert detector.active  # 3 of the last 10 failed: not yet below half the opening rate
    detector.answered(probe(detector))
    assert not detector.active  # 2 of 10
    assert health.ready()[0]


def test_close_after_successes_in_a_row_close_a_short_episode(health: HealthState) -> None:
    detector = opened(health, close_after=5)
    for _ in range(4):
        detector.answered(probe(detector))
    assert detector.active  # four in a row are not enough
    detector.answered(probe(detector))
    assert not detector.active


def test_a_failed_probe_starts_the_count_again(health: HealthState) -> None:
    detector = opened(health, close_after=3)
    detector.answered(probe(detector))
    detector.answered(probe(detector))
    detector.failed("r1", probe(detector))
    detector.answered(probe(detector))
    detector.answered(probe(detector))
    assert detector.active
    detector.answered(probe(detector))
    assert not detector.active  # 3 in a row, 1 failure in the last 6


def test_answers_sent_before_the_episode_do_not_close_it(health: HealthState) -> None:
    detector = opened(health, close_after=1)
    detector.answered()  # calls that went out before the breaker opened: no probes
    detector.answered(Admission(probe=False, episode=detector.episode))
    assert detector.active
    detector.answered(probe(detector))
    assert not detector.active


def test_probes_count_only_for_the_episode_they_were_sent_in(health: HealthState) -> None:
    detector = opened(health, close_after=2)
    earlier = probe(detector)
    detector.answered(probe(detector))
    detector.answered(probe(detector))
    assert not detector.active
    for n in range(4):  # a second episode
        detector.failed(f"s{n}")
    assert detector.active and detector.episode == earlier.episode + 1
    detector.answered(earlier)
    detector.answered(earlier)  # a probe of the first episode answering late: ignored
    assert detector.active
    detector.answered(probe(detector))
    detector.failed("s0", earlier)  # ... and its failure does not break this episode's run
    detector.answered(probe(detector))
    assert not detector.active


async def test_admit_marks_probes_with_their_episode(health: HealthState) -> None:
    detector = breaker(health, min_calls=2, min_failures=2, distinct_requests=2)
    fake = FakeTime()
    async with detector.admit(fake.sleep) as admission:
        assert admission == Admission(probe=False, episode=0) and not fake.slept
    detector.failed("a")
    detector.failed("b")
    async with detector.admit(fake.sleep) as admission:
        assert admission == Admission(probe=True, episode=1) and len(fake.slept) == 1


def test_probes_slow_down_as_the_outage_lasts_and_speed_up_once_they_succeed(health: HealthState) -> None:
    clock = Clock()
    detector = breaker(health, clock, min_calls=2, min_failures=2, distinct_requests=2, probe_max_s=30.0)
    detector.failed("a")
    detector.failed("b")
    assert detector.active and detector.probe_delay() <= 1.0
    clock.now += 40  # 40 s into the outage: probes every 5-10 s
    assert 5.0 <= detector.probe_delay() <= 10.0
    clock.now += 600
    assert 15.0 <= detector.probe_delay() <= 30.0
    detector.answered(probe(detector))  # Intercom answers again: the next probes go at once
    assert detector.probe_delay() <= 1.0


# -- what the verdicts cost a request (streams/delivery/retry.py) ----------------------------------


class Scripted(OutageDetector):
    """Gives the verdicts of ``script`` in turn (the last one again once it runs out)."""

    def __init__(self, health: HealthState, script: list[Verdict]) -> None:
        super().__init__(health=health)
        self.script = script

    def failed(self, request: Hashable, admission: Admission | None = None) -> Verdict:
        return self.script.pop(0) if len(self.script) > 1 else self.script[0]


class Steady(RetryPolicy):
    """Backs off exactly 1 s each time (the jitter aside), so that horizons can be counted."""

    def backoff(self, attempt: int) -> float:
        return 1.0


async def fails_for_good(
    detector: OutageDetector, policy: RetryPolicy, fake: FakeTime
) -> RetryableDeliveryError:
    intercom = Intercom()
    with pytest.raises(RetryableDeliveryError) as caught:
        await with_retries(intercom.call, policy, fake.sleep, outage=detector, health=HealthState())
    assert intercom.calls >= caught.value.attempts
    return caught.value


async def test_undecided_failures_are_forgotten_when_the_breaker_opens(health: HealthState) -> None:
    fake = FakeTime()
    detector = Scripted(health, [UNDECIDED, UNDECIDED, WAIT, OWN])
    error = await fails_for_good(detector, Steady(max_attempts=3, retry_horizon_s=4), fake)
    # The two undecided failures and their 2 s were Intercom's: 5 own failures spend the 4 s horizon.
    assert error.attempts == 5 and len(error.history) == 5
    assert sum(fake.slept) == 2 + 4


async def test_undecided_failures_count_once_the_window_finds_intercom_healthy(health: HealthState) -> None:
    fake = FakeTime()
    detector = Scripted(health, [UNDECIDED, UNDECIDED, OWN])
    error = await fails_for_good(detector, Steady(max_attempts=3, retry_horizon_s=4), fake)
    # Both undecided failures and their backoff count from the first OWN on: dead-lettered in time.
    assert error.attempts == 5 and len(error.history) == 5
    assert sum(fake.slept) == 4


async def test_undecided_failures_count_once_max_attempts_of_them_pile_up(health: HealthState) -> None:
    """One bad request on a quiet worker: the window never judges, it is dead-lettered all the same."""
    fake = FakeTime()
    error = await fails_for_good(Scripted(health, [UNDECIDED]), Steady(max_attempts=3), fake)
    assert error.attempts == 3 and len(error.history) == 3 and len(fake.slept) == 2
    fake = FakeTime()
    error = await fails_for_good(
        Scripted(health, [UNDECIDED]), Steady(max_attempts=3, retry_horizon_s=6), fake
    )
    assert sum(fake.slept) == 6 and error.attempts == 7  # the held time counted too


async def test_an_undecided_failure_does_not_let_the_attempt_limit_end_a_call(health: HealthState) -> None:
    """One own failure, one the window could not judge, then the breaker opens: with two attempts
    allowed the call is still alive, and delivers once Intercom is back."""
    fake, intercom = FakeTime(), Intercom()
    detector = Scripted(health, [OWN, UNDECIDED, WAIT])

    async def call() -> str:
        await asyncio.sleep(0)  # the scripted breaker never opens, so admit() lets each call go at once
        return await intercom.call()

    task = asyncio.create_task(
        with_retries(call, Steady(max_attempts=2), fake.sleep, outage=detector, health=health)
    )
    for _ in range(50):
        await asyncio.sleep(0)
    assert not task.done() and intercom.calls > 3
    intercom.up.set()
    assert await task == "ok"


async def test_one_failing_request_is_its_own_problem_and_gives_up_after_its_horizon(
    health: HealthState,
) -> None:
    intercom, fake = Intercom(), FakeTime()
    detector = breaker(health, min_calls=4, min_failures=4, distinct_requests=2)
    policy = RetryPolicy(max_attempts=2, retry_horizon_s=20.0, base_delay_s=1.0, max_delay_s=4.0)
    with pytest.raises(RetryableDeliveryError) as caught:
        await with_retries(intercom.call, policy, fake.sleep, outage=detector, health=health)
    assert not detector.active and health.ready()[0]
    assert sum(fake.slept) >= 20.0  # retried for the whole horizon, not max_attempts alone
    assert caught.value.attempts == intercom.calls > 2
    assert len(caught.value.history) == intercom.calls


async def test_one_failing_request_among_answers_gives_up_after_max_attempts(health: HealthState) -> None:
    intercom = Intercom()
    detector = breaker(health)
    for _ in range(20):  # other requests' calls were answered: Intercom is healthy
        detector.answered()
    with pytest.raises(RetryableDeliveryError):
        await with_retries(
            intercom.call, RetryPolicy(max_attempts=3), FakeTime().sleep, outage=detector, health=health
        )
    assert intercom.calls == 3


async def test_failures_across_requests_pause_delivery_until_intercom_answers(health: HealthState) -> None:
    intercom, fake = Intercom(), FakeTime()
    detector = breaker(health, min_calls=10, min_failures=6, distinct_requests=3, close_after=3)
    # Each request alone would give up after 5 s of backoff; the outage is seen long before that.
    policy = RetryPolicy(max_attempts=2, retry_horizon_s=5.0, base_delay_s=1.0, max_delay_s=1.0)
    outages_before = sample("intercom_stream_intercom_outages_total")
    with capture_logs() as logs:
        calls = [
            asyncio.create_task(
                with_retries(lambda: intercom.call(), policy, fake.sleep, outage=detector, health=health)
            )
            for _ in range(8)
        ]
        for _ in range(200):  # a long outage: every call keeps waiting, none gives up
            await asyncio.sleep(0)
        assert detector.active and not any(call.done() for call in calls)
        ok, body = health.ready()
        assert not ok and body["delivery_paused"] and body["intercom_outage"]
        assert (
            sample("intercom_stream_delivery_paused") == 1 and sample("intercom_stream_intercom_outage") == 1
        )
        intercom.up.set()
        assert await asyncio.gather(*calls) == ["ok"] * 8
    assert not detector.active and health.ready()[0] and sample("intercom_stream_intercom_outage") == 0
    assert sample("intercom_stream_intercom_outages_total") == outages_before + 1
    paused = [entry for entry in logs if entry.get("state") == "paused"]
    resumed = [entry for entry in logs if entry.get("state") == "resumed"]
    assert len(paused) == 1 and paused[0]["log_level"] == "error" and len(resumed) == 1


async def test_a_rejection_is_never_retried_nor_taken_for_an_outage(health: HealthState) -> None:
    detector = breaker(health, min_calls=2, min_failures=2, distinct_requests=1)

    async def rejected() -> None:
        raise RejectedError("Intercom answered 400", status=400)

    with pytest.raises(RejectedError):
        await with_retries(
            rejected, RetryPolicy(retry_horizon_s=300), FakeTime().sleep, outage=detector, health=health
        )
    assert not detector.active


async def test_while_open_only_a_reduced_flow_of_probes_is_in_flight(health: HealthState) -> None:
    """Twenty requests (each its own ``lambda``) wait out the episode; never more than ``probes``
    calls go at once."""
    detector = breaker(health, min_calls=6, min_failures=6, distinct_requests=3, probes=2, close_after=3)
    probing, most, calls = 0, 0, 0  # calls sent while the breaker is open, at once and at most
    up = asyncio.Event()

    async def call() -> str:
        nonlocal probing, most, calls
        calls += 1
        probe = detector.active
        probing += probe
        most = max(most, probing)
        try:
            await asyncio.sleep(0)
            if not up.is_set():
                raise RetryableDeliveryError("Intercom answered 503", status=503)
            return "ok"
        finally:
            probing -= probe

    policy = RetryPolicy(max_attempts=2, retry_horizon_s=5.0, base_delay_s=1.0, max_delay_s=1.0)
    fake = FakeTime()
    tasks = [
        asyncio.create_task(with_retries(lambda: call(), policy, fake.sleep, outage=detector, health=health))
        for _ in range(20)
    ]
    for _ in range(300):
        await asyncio.sleep(0)
    assert detector.active and not any(task.done() for task in tasks)
    before = calls
    for _ in range(300):
        await asyncio.sleep(0)
    assert calls > before  # probes keep going
    up.set()
    assert await asyncio.gather(*tasks) == ["ok"] * 20
    assert not detector.active and most == 2


def test_a_brownout_after_dense_traffic_opens_within_the_latest_calls() -> None:
    # 60 answers just before the brownout, then sparse failures (retries back off): judged over the
    # whole 30 s window, the old answers would make each failure the request's own for most of it.
    clock = Clock()
    detector = breaker(HealthState(), clock)
    for _ in range(60):
        detector.answered()
    verdicts = []
    for n in range(12):
        clock.now += 1.0
        verdicts.append(detector.failed(f"r{n % 3}"))
        if detector.active:
            break
    assert detector.active and len(verdicts) <= 10  # the last 20 calls: 10 failures are half
    assert verdicts[-1] is WAIT
