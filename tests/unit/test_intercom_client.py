"""The HTTP client: headers, classification of answers, and that the token never leaks into errors."""

from __future__ import annotations

import httpx
import pytest
import respx

from streams.errors import (
    AuthError,
    ConflictError,
    NotFoundError,
    RateLimitedError,
    RejectedError,
    RetryableDeliveryError,
)
from streams.intercom import IntercomClient
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
