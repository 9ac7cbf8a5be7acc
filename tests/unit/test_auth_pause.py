"""401/403: delivery pauses (health red, one ERROR, metrics) and resumes by itself when the token works."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from streams.delivery.outage import OutageDetector
from streams.delivery.retry import RetryPolicy, with_retries
from streams.intercom import IntercomClient
from streams.observability import HealthState
from tests.unit.metrics_sample import sample

TOKEN = "tok_pause_secret_4f3e2d1c"
REFUSED = {"type": "error.list", "errors": [{"code": "unauthorized", "message": "Access Token Invalid"}]}


class Intercom:
    """Refuses the token until ``fixed`` is set, like a secret being rotated."""

    def __init__(self, status: int = 401) -> None:
        self.status = status
        self.fixed = False
        self.calls = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.fixed:
            return httpx.Response(200, json={"type": "list", "data": []})
        return httpx.Response(self.status, json=REFUSED)


def client_for(intercom: Intercom, health: HealthState) -> IntercomClient:
    return IntercomClient(
        "https://intercom.test", TOKEN, "2.10", transport=httpx.MockTransport(intercom.handler), health=health
    )


async def test_pause_turns_health_red_counts_once_and_resumes_when_the_token_works(
    caplog: pytest.LogCaptureFixture, health: HealthState
) -> None:
    caplog.set_level(logging.DEBUG)
    intercom = Intercom()
    client = client_for(intercom, health)
    pauses_before = sample("intercom_stream_delivery_pauses_total")
    seen: list[tuple[bool, float]] = []

    async def sleep(_: float) -> None:  # the pause's wait: record health, rotate the token after 4
        seen.append((health.ready()[0], sample("intercom_stream_delivery_paused")))
        if len(seen) == 4:
            intercom.fixed = True

    with capture_logs() as events:
        result = await with_retries(
            lambda: client.request("POST", "/contacts/search", {}),
            RetryPolicy(max_attempts=1),
            sleep,
            outage=OutageDetector(health=health),
            health=health,
        )
    assert result == {"type": "list", "data": []}  # no attempt was spent on the refusals
    assert intercom.calls == 5
    assert seen == [(False, 1.0)] * 4  # red and paused during every wait
    assert health.ready()[0] and sample("intercom_stream_delivery_paused") == 0  # green again by itself
    assert sample("intercom_stream_delivery_pauses_total") == pauses_before + 1
    errors = [e for e in events if e["log_level"] == "error"]
    errors += [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "delivery paused" in errors[0]["event"]
    assert [e["event"] for e in events if e["log_level"] == "warning"] == [
        "delivery resumed: Intercom accepts the token"
    ]
    await client.aclose()


async def test_concurrent_calls_share_one_episode_and_a_new_refusal_starts_another(
    health: HealthState,
) -> None:
    intercom = Intercom(status=403)
    client = client_for(intercom, health)
    pauses_before = sample("intercom_stream_delivery_pauses_total")
    waits = 0

    async def sleep(_: float) -> None:
        nonlocal waits
        waits += 1
        await asyncio.sleep(0)  # let the other calls hit the refusal too
        if waits >= 6:
            intercom.fixed = True

    outage = OutageDetector(health=health)

    def call() -> Any:
        return with_retries(
            lambda: client.request("POST", "/events", {}), RetryPolicy(), sleep, outage=outage, health=health
        )

    with capture_logs() as events:
        await asyncio.gather(*(call() for _ in range(3)))
        assert sample("intercom_stream_delivery_pauses_total") == pauses_before + 1
        intercom.fixed, waits = False, 0
        await call()  # the token is revoked again later: a second episode, a second alert
    assert sample("intercom_stream_delivery_pauses_total") == pauses_before + 2
    assert [e["event"] for e in events if e["log_level"] == "error"] == [
        "delivery paused: Intercom refused the token"
    ] * 2
    assert health.ready()[0]
    await client.aclose()
