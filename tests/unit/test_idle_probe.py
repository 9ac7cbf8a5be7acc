"""The idle probe: ends an outage pause when no delivery call is left to probe Intercom."""

from __future__ import annotations

from typing import Any

from streams.delivery.idle_probe import IdleProbe
from streams.errors import AuthError, RetryableDeliveryError
from streams.observability import HealthState
from tests.unit.test_outage import breaker, opened

FAST = {"probe_base_s": 0.001, "probe_max_s": 0.002, "close_after": 3}


class Me:
    """GET /me: fails with 503 while ``down``; records each call."""

    def __init__(self, answer: Exception | None = None) -> None:
        self.down = True
        self.answer = answer
        self.calls: list[tuple[str, str]] = []

    async def __call__(self, method: str, path: str) -> Any:
        self.calls.append((method, path))
        if self.down:
            raise RetryableDeliveryError("Intercom answered 503", status=503)
        if self.answer is not None:
            raise self.answer
        return {"type": "admin"}


async def test_no_probe_while_the_breaker_is_closed() -> None:
    detector = breaker(HealthState(), **FAST)
    me = Me()
    await IdleProbe(detector, me).tick()
    assert me.calls == []


async def test_idle_probes_close_the_breaker_once_intercom_answers_again() -> None:
    health = HealthState()
    detector = opened(health, **FAST)
    me = Me()
    probe = IdleProbe(detector, me)
    for _ in range(3):
        await probe.tick()
    assert detector.active and me.calls == [("GET", "/me")] * 3  # failing probes keep it open
    me.down = False
    for _ in range(20):
        await probe.tick()
        if not detector.active:
            break
    assert not detector.active and not health.paused
    assert 3 + 3 <= len(me.calls) <= 3 + 8  # close_after probes in a row, and a low failure share


async def test_any_answer_counts_as_intercom_up() -> None:
    detector = opened(HealthState(), **FAST)
    me = Me(answer=AuthError("401", status=401))
    me.down = False
    probe = IdleProbe(detector, me)
    for _ in range(20):
        await probe.tick()
    assert not detector.active


async def test_no_idle_probe_while_a_delivery_call_probes() -> None:
    detector = opened(HealthState(), **FAST)
    me = Me()
    async with detector.admit() as admission:  # a delivery call probing now
        assert admission.probe
        await IdleProbe(detector, me).tick()
    assert me.calls == []
