"""The HTTP client: headers, classification of answers, and that the token never leaks into errors."""

from __future__ import annotations

import httpx
import pytest
import respx

from streams.delivery import Executor
from streams.delivery.retry import RetryPolicy
from streams.errors import (
    AuthError,
    ConflictError,
    NotFoundError,
    RateLimitedError,
    RejectedError,
    RetryableDeliveryError,
)
from streams.intercom import IntercomClient, RateLimitGate
from streams.intercom.responses import classify

TOKEN = "tok_secret_value_123456789"


def error_list(code: str, message: str) -> dict[str, object]:
    return {"type": "error.list", "errors": [{"code": code, "message": message}]}


@respx.mock
async def test_sends_auth_version_and_json() -> None:
    route = respx.post("https://api.eu.intercom.io/contacts").mock(
        return_value=httpx.Response(200, json={"id": "c1"}, headers={"X-RateLimit-Remaining": "82"})
    )
    client = IntercomClient("https://api.eu.intercom.io", TOKEN, "2.10")
    assert await client.request("POST", "/contacts", {"email": "a@b.c"}) == {"id": "c1"}
    sent = route.calls.last.request
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["Intercom-Version"] == "2.10"
    assert sent.content == b'{"email":"a@b.c"}'
    assert client.last_rate_headers == {"x-ratelimit-remaining": "82"}
    await client.aclose()


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (429, error_list("rate_limit_exceeded", "Exceeded rate limit of 83 in 10_seconds"), RateLimitedError),
        (401, error_list("unauthorized", "Access Token Invalid"), AuthError),
        (403, error_list("api_plan_restricted", "no"), AuthError),
        (
            409,
            error_list("conflict", "A contact matching those details already exists with id=abc123"),
            ConflictError,
        ),
        (404, error_list("not_found", "User Not Found"), NotFoundError),
        (410, error_list("contact_merged", "merged"), NotFoundError),
        (408, None, RetryableDeliveryError),
        (502, None, RetryableDeliveryError),
        (400, error_list("parameter_invalid", "Custom attribute 'x' does not exist"), RejectedError),
        (422, error_list("422", "Cannot have more than 120 active event names"), RejectedError),
    ],
)
def test_classification(status: int, body: object, kind: type) -> None:
    error = classify(status, body, {"x-ratelimit-reset": "4102444800"}, "POST /x")
    assert type(error) is kind
    if isinstance(error, ConflictError):
        assert error.existing_id == "abc123" and not error.archived
    if isinstance(error, RateLimitedError):
        assert error.retry_at == 4102444800


def test_success_is_not_an_error() -> None:
    assert classify(202, None, {}, "POST /events") is None


@respx.mock
async def test_connection_errors_are_retryable_and_never_carry_the_token() -> None:
    respx.post("https://api.intercom.io/events").mock(side_effect=httpx.ConnectError("boom"))
    client = IntercomClient("https://api.intercom.io", TOKEN, "2.10")
    with pytest.raises(RetryableDeliveryError) as caught:
        await client.request("POST", "/events", {"event_name": "e"})
    assert TOKEN not in str(caught.value) and TOKEN not in repr(caught.value.__dict__)
    await client.aclose()


@pytest.mark.parametrize(
    "failure",
    [httpx.ReadTimeout, httpx.ConnectTimeout, httpx.WriteTimeout, httpx.PoolTimeout, httpx.ConnectError,
     httpx.ReadError, httpx.RemoteProtocolError, httpx.DecodingError],
)  # fmt: skip
async def test_timeouts_and_connection_errors_are_retryable_and_name_their_class(failure: type) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise failure("no answer", request=request)

    client = IntercomClient("https://api.intercom.io", TOKEN, "2.10", transport=httpx.MockTransport(handler))
    with pytest.raises(RetryableDeliveryError) as caught:
        await client.request("POST", "/events", {"event_name": "e"})
    assert caught.value.outcome == failure.__name__ and caught.value.status is None
    assert failure.__name__ in caught.value.message and "POST /events" in caught.value.message
    await client.aclose()


async def test_transient_failures_back_off_with_full_jitter_then_carry_the_history() -> None:
    answers: list[type | int] = [httpx.ReadTimeout, 503, httpx.ConnectError, 408, 500]

    def handler(request: httpx.Request) -> httpx.Response:
        answer = answers.pop(0)
        if isinstance(answer, int):
            return httpx.Response(answer, json={"type": "error.list", "errors": []})
        raise answer("no answer", request=request)

    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    client = IntercomClient("https://api.intercom.io", TOKEN, "2.10", transport=httpx.MockTransport(handler))
    policy = RetryPolicy(max_attempts=5, base_delay_s=1.0, max_delay_s=5.0)
    executor = Executor(client.request, {}, {}, policy, sleep=sleep)
    with pytest.raises(RetryableDeliveryError) as caught:
        await executor.calls.request("POST", "/events", {"event_name": "e", "user_id": "u1"})
    error = caught.value
    assert [a.outcome for a in error.history] == ["ReadTimeout", "503", "ConnectError", "408", "500"]
    assert error.attempts == 5 and error.status == 500
    assert [a.at for a in error.history] == sorted(a.at for a in error.history)
    # Four waits between five attempts, each anywhere in [0, min(5, 1 * 2^(n-1))].
    assert len(slept) == 4 and all(0 <= s <= bound for s, bound in zip(slept, [1, 2, 4, 5], strict=True))
    await client.aclose()


def test_backoff_doubles_up_to_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("streams.delivery.retry.random.uniform", lambda low, high: high)
    policy = RetryPolicy(base_delay_s=0.5, max_delay_s=30.0)
    assert [policy.backoff(n) for n in range(1, 9)] == [0.5, 1, 2, 4, 8, 16, 30, 30]


def test_the_client_paces_by_rate_headers_unless_told_not_to() -> None:
    assert isinstance(IntercomClient("https://api.intercom.io", TOKEN, "2.10").gate, RateLimitGate)
    assert IntercomClient("https://api.intercom.io", TOKEN, "2.10", adapt_to_rate_headers=False).gate is None


async def test_every_answer_updates_the_gate_and_calls_wait_for_the_reset() -> None:
    clock = [1_000.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    answers = [
        httpx.Response(
            200,
            json={"id": "c1"},
            headers={"X-RateLimit-Limit": "83", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1004"},
        ),
        httpx.Response(
            429,
            json={"type": "error.list", "errors": [{"code": "rate_limit_exceeded"}]},
            headers={"X-RateLimit-Limit": "83", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1010"},
        ),
    ]
    gate = RateLimitGate(clock=lambda: clock[0], sleep=sleep, jitter=lambda low, high: high, max_jitter_s=0.2)
    transport = httpx.MockTransport(lambda request: answers.pop(0))
    client = IntercomClient("https://api.intercom.io", TOKEN, "2.10", transport=transport, gate=gate)
    await client.request("GET", "/me")
    assert slept == [] and gate.remaining == 0 and gate.reset_at == 1004
    with pytest.raises(RateLimitedError):
        await client.request("GET", "/me")  # held until the window reset, then sent
    assert slept == [pytest.approx(4.2)]
    assert gate.remaining == 0 and gate.reset_at == 1010  # a 429's headers hold the next calls too
    await client.aclose()
