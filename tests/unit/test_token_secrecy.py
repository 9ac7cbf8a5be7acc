"""The Intercom token never reaches logs, exceptions, dead-letter records or metrics.

No redaction is configured here: the token must not be produced at all, not merely masked.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Callable, Iterator

import httpx
import pytest
import structlog
from structlog.testing import capture_logs

from streams.deadletter.records import SourceRecord, dead_letter_for_delivery
from streams.delivery import Executor
from streams.delivery.outage import OutageDetector
from streams.delivery.retry import RetryPolicy, with_retries
from streams.errors import AuthError, DeliveryError
from streams.events import parse_event
from streams.intercom import IntercomClient
from streams.mapping import plan_event
from streams.observability import HealthState, metrics

TOKEN = "dG9rOjE2ZjM4YTQyXzk5YjJfNDFlN19hMGQ0X2YxZTJjM2Q0ZTVmNjoxOjA="  # Intercom tokens look like this
SOURCE = SourceRecord("intercom-requests", 3, 42, b"u1", b'{"type":"track"}', 1)
TRACK = {"type": "track", "userId": "u1", "event": "Signed Up", "timestamp": 1}

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(autouse=True)
def fresh_state() -> Iterator[None]:
    structlog.reset_defaults()
    yield


def sent_with_token(answer: Handler) -> tuple[Handler, list[httpx.Request]]:
    """Wraps a fake Intercom so the test can prove the token really was on the wire."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request)

    return handler, seen


def server_error(request: httpx.Request) -> httpx.Response:
    return httpx.Response(503, json={"type": "error.list", "errors": [{"code": "service_unavailable"}]})


def timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=request)


def refused_connection(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def everything_about(error: BaseException) -> str:
    """str, repr, attributes and the formatted traceback (with chained causes) of an exception."""
    return "\n".join([str(error), repr(error), repr(vars(error)), "".join(traceback.format_exception(error))])


@pytest.mark.parametrize(
    "answer", [server_error, timeout, refused_connection], ids=["5xx", "timeout", "connect"]
)
async def test_failed_deliveries_carry_no_token(answer: Handler, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    handler, seen = sent_with_token(answer)
    client = IntercomClient("https://intercom.test", TOKEN, "2.10", transport=httpx.MockTransport(handler))

    async def no_sleep(_: float) -> None:
        return None

    executor = Executor(client.request, {}, {}, RetryPolicy(max_attempts=3), sleep=no_sleep)
    with capture_logs() as events, pytest.raises(DeliveryError) as caught:
        await executor.execute(plan_event(parse_event(TRACK)))
    record = dead_letter_for_delivery(SOURCE, caught.value, "u1", "track")
    await client.aclose()

    assert len(seen) == 3 and all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in seen)
    assert TOKEN not in everything_about(caught.value)
    assert TOKEN not in json.dumps(record, default=repr)
    assert TOKEN not in caplog.text and TOKEN not in repr(events)
    assert TOKEN not in metrics.exposition().decode()


async def test_refused_token_leaves_no_trace_of_itself(
    caplog: pytest.LogCaptureFixture, health: HealthState
) -> None:
    caplog.set_level(logging.DEBUG)
    answers = [401, 403, 200]

    def answer(request: httpx.Request) -> httpx.Response:
        status = answers.pop(0)
        body = {"type": "list"} if status == 200 else {"errors": [{"code": "unauthorized"}]}
        return httpx.Response(status, json=body)

    handler, seen = sent_with_token(answer)
    client = IntercomClient(
        "https://intercom.test", TOKEN, "2.10", transport=httpx.MockTransport(handler), health=health
    )
    with pytest.raises(AuthError) as caught:
        await client.request("POST", "/events", {})
    readiness: list[str] = []

    async def sleep(_: float) -> None:
        readiness.append(json.dumps(health.ready()[1]))

    with capture_logs() as events:
        await with_retries(
            lambda: client.request("POST", "/events", {}),
            RetryPolicy(),
            sleep,
            outage=OutageDetector(health=health),
            health=health,
        )
    await client.aclose()

    assert len(seen) == 3 and all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in seen)
    assert readiness and "refused the token" in readiness[0]  # the pause happened and was reported
    assert TOKEN not in everything_about(caught.value)
    assert TOKEN not in "".join(readiness)
    assert TOKEN not in caplog.text and TOKEN not in repr(events)
    assert TOKEN not in metrics.exposition().decode()
