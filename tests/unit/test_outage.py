"""Intercom outages pause delivery; one request's own failures retry within a horizon, then give up."""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from streams.delivery.outage import OutageDetector
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
    detector = OutageDetector(health=health, failures=4, distinct_requests=2)
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
        health=health, failures=6, distinct_requests=3, probe_base_s=1.0, probe_max_s=30.0
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


async def test_any_answer_from_intercom_breaks_the_run_of_failures(health: HealthState) -> None:
    detector = OutageDetector(health=health, failures=3, distinct_requests=2)
    assert not detector.failed("a") and not detector.failed("b")
    detector.answered()  # e.g. a 422 for another request: Intercom is up
    assert not detector.failed("c") and not detector.failed("d")
    assert detector.failed("e")


async def test_a_rejection_is_never_retried_nor_taken_for_an_outage(health: HealthState) -> None:
    detector = OutageDetector(health=health, failures=2, distinct_requests=1)

    async def rejected() -> None:
        raise RejectedError("Intercom answered 400", status=400)

    with pytest.raises(RejectedError):
        await with_retries(
            rejected, RetryPolicy(retry_horizon_s=300), FakeTime().sleep, outage=detector, health=health
        )
    assert not detector.active


def test_probes_slow_down_as_the_outage_lasts(health: HealthState) -> None:
    now = [100.0]
    detector = OutageDetector(
        health=health,
        failures=2,
        distinct_requests=2,
        probe_base_s=1.0,
        probe_max_s=30.0,
        clock=lambda: now[0],
    )
    detector.failed("a")
    detector.failed("b")
    assert detector.active and detector.probe_delay() <= 1.0
    now[0] += 40  # 40 s into the outage: probes every 5-10 s
    assert 5.0 <= detector.probe_delay() <= 10.0
    now[0] += 600
    assert 15.0 <= detector.probe_delay() <= 30.0
