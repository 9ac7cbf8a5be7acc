"""Intercom failing across requests (an outage or a brownout) opens the breaker and pauses delivery; one
request's own failures retry within a horizon, then give up. The breaker's clock is faked."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator

import pytest
from structlog.testing import capture_logs

from streams.delivery.outage import Admission, OutageDetector
from streams.delivery.retry import RetryPolicy, with_retries
from streams.errors import RejectedError, RetryableDeliveryError
from streams.observability import HealthState
from tests.unit.metrics_sample import sample


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


async def test_one_failing_request_is_its_own_problem_and_gives_up_after_its_horizon(
    health: HealthState,
) -> None:
    intercom, fake = Intercom(), FakeTime()
    detector = OutageDetector(health=health, min_calls=4, min_failures=4, distinct_requests=2)
    policy = RetryPolicy(max_attempts=2, retry_horizon_s=20.0, base_delay_s=1.0, max_delay_s=4.0)
    with pytest.raises(RetryableDeliveryError) as caught:
        await with_retries(intercom.call, policy, fake.sleep, outage=detector, health=health)
    assert not detector.active and health.ready()[0]
    assert sum(fake.slept) >= 20.0  # retried for the whole horizon, not max_attempts alone
    assert caught.value.attempts == intercom.calls > 2
    assert len(caught.value.history) == intercom.calls


async def test_without_a_horizon_max_attempts_alone_decides(health: HealthState) -> None:
    intercom, fake = Intercom(), FakeTime()
    with pytest.raises(RetryableDeliveryError):
        await with_retries(
            intercom.call,
            RetryPolicy(max_attempts=3),
            fake.sleep,
            outage=OutageDetector(health=health),
            health=health,
        )
    assert intercom.calls == 3


async def test_failures_across_requests_pause_delivery_until_intercom_answers(health: HealthState) -> None:
    intercom, fake = Intercom(), FakeTime()
    detector = OutageDetector(
        health=health, min_failures=6, distinct_requests=3, close_after=3, probe_base_s=1.0, probe_max_s=30.0
    )
    # Each request alone would give up after 5 s of backoff; the outage is seen long before that.
    policy = RetryPolicy(max_attempts=2, retry_horizon_s=5.0, base_delay_s=1.0, max_delay_s=1.0)
    outages_before = sample("intercom_stream_intercom_outages_total")
    with capture_logs() as logs:
        calls = [
            asyncio.create_task(
                with_retries(lambda: intercom.call(), policy, fake.sleep, outage=detector, health=health)
            )
            for _ in range(4)
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
        assert await asyncio.gather(*calls) == ["ok"] * 4
    assert not detector.active and health.ready()[0] and sample("intercom_stream_intercom_outage") == 0
    assert sample("intercom_stream_intercom_outages_total") == outages_before + 1
    paused = [entry for entry in logs if entry.get("state") == "paused"]
    resumed = [entry for entry in logs if entry.get("state") == "resumed"]
    assert len(paused) == 1 and paused[0]["log_level"] == "error" and len(resumed) == 1


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


PROBE = Admission(probe=True)


def breaker(health: HealthState, clock: Clock, **kwargs: float) -> OutageDetector:
    options: dict[str, float] = {"window_s": 30, "min_calls": 10, "min_failures": 8, "failure_rate": 0.5}
    return OutageDetector(health=health, clock=clock, **{**options, **kwargs})  # type: ignore[arg-type]


@pytest.fixture
def seeded() -> Iterator[random.Random]:
    yield random.Random(7)


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
    for n in range(200):  # the brownout goes on: probes mostly fail, an occasional one succeeds
        clock.now += 0.5
        if n % 5 == 0:
            detector.answered(PROBE)
        else:
            assert detector.failed(f"request-{n % 7}", PROBE)
    assert detector.active
    for _ in range(4):
        detector.answered(PROBE)
    assert detector.active  # four in a row are not enough
    detector.answered(PROBE)
    assert not detector.active and health.ready()[0]


async def test_answers_sent_before_the_episode_do_not_close_it(health: HealthState) -> None:
    clock = Clock()
    detector = breaker(health, clock, min_calls=4, min_failures=4, close_after=1)
    for n in range(4):
        detector.failed(f"r{n}")
    assert detector.active
    detector.answered()  # a call that went out before the breaker opened: no probe
    detector.answered(Admission(probe=False))
    assert detector.active
    detector.answered(PROBE)
    assert not detector.active


async def test_a_failed_probe_starts_the_count_again(health: HealthState) -> None:
    clock = Clock()
    detector = breaker(health, clock, min_calls=4, min_failures=4, close_after=3)
    for n in range(4):
        detector.failed(f"r{n}")
    detector.answered(PROBE)
    detector.answered(PROBE)
    detector.failed("r1", PROBE)
    detector.answered(PROBE)
    detector.answered(PROBE)
    assert detector.active
    detector.answered(PROBE)
    assert not detector.active


async def test_a_low_failure_rate_never_opens_it(health: HealthState) -> None:
    clock = Clock()
    detector = breaker(health, clock)
    for n in range(1000):  # one call in ten fails: Intercom's ordinary noise
        clock.now += 0.1
        if n % 10 == 0:
            assert not detector.failed(f"r{n}")
        else:
            detector.answered()
    assert not detector.active and detector.failure_rate() == pytest.approx(0.1, abs=0.02)


async def test_failures_older_than_the_window_do_not_count(health: HealthState) -> None:
    clock = Clock()
    detector = breaker(health, clock, window_s=30, min_calls=10, min_failures=8)
    for n in range(7):
        detector.failed(f"r{n}")
    clock.now += 31  # those seven are forgotten
    for n in range(7):
        assert not detector.failed(f"s{n}")
    for _ in range(3):
        detector.answered()
    assert not detector.active
    assert detector.failed("s7")  # 8 of 11 in the window failed: open
    assert detector.active


async def test_a_single_request_failing_alone_never_opens_it(health: HealthState) -> None:
    detector = breaker(health, Clock(), min_calls=2, min_failures=2, distinct_requests=3)
    for _ in range(50):
        assert not detector.failed("the-same-request")
    assert not detector.active


async def test_a_rejection_is_never_retried_nor_taken_for_an_outage(health: HealthState) -> None:
    detector = OutageDetector(health=health, min_calls=2, min_failures=2, distinct_requests=1)

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
    detector = OutageDetector(
        health=health, min_calls=6, min_failures=6, distinct_requests=3, probes=2, close_after=3
    )
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
    detector.answered(PROBE)  # Intercom answers again: the next probes go at once
    assert detector.probe_delay() <= 1.0
