"""Metric recording, health answers and log redaction, without Kafka."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import namedtuple
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import structlog

from streams.delivery.outage import OutageDetector
from streams.delivery.retry import RetryPolicy, with_retries
from streams.errors import NotFoundError, RetryableDeliveryError
from streams.intercom import IntercomClient, SlidingWindowLimiter
from streams.observability import HealthState, metrics
from streams.observability.install import broker_problem, consumer_lag
from streams.observability.logs import configure_logging, redact_text, resolve_format
from tests.unit.metrics_sample import sample

TOKEN = "tok_unit_secret_9d8e7f"


def client_answering(*responses: httpx.Response, health: HealthState | None = None) -> IntercomClient:
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        return queue.pop(0)

    return IntercomClient(
        "https://intercom.test", TOKEN, "2.10", transport=httpx.MockTransport(handler), health=health
    )


async def no_sleep(_: float) -> None:
    return None


@pytest.mark.parametrize(
    ("method", "path", "label"),
    [
        ("PUT", "/contacts/6650f1c2a1b2c3d4e5f60718", "PUT /contacts/{id}"),
        ("post", "/contacts/search", "POST /contacts/search"),
        ("POST", "/contacts/abc/companies", "POST /contacts/{id}/companies"),
        ("POST", "/contacts/abc/unarchive?x=1", "POST /contacts/{id}/unarchive"),
        ("POST", "/events", "POST /events"),
        ("GET", "/user@example.com/whatever", "GET /{id}/{id}"),
        ("BREW", "/companies", "OTHER /companies"),
    ],
)
def test_endpoint_labels_never_carry_ids(method: str, path: str, label: str) -> None:
    assert metrics.endpoint_label(method, path) == label


def test_requests_are_counted_and_timed_by_templated_endpoint_and_status() -> None:
    endpoint = "PUT /contacts/{id}"
    before_ok = sample("intercom_stream_requests_total", endpoint=endpoint, status="200")
    before_404 = sample("intercom_stream_requests_total", endpoint=endpoint, status="404")
    before_count = sample("intercom_stream_request_duration_seconds_count", endpoint=endpoint)
    client = client_answering(
        httpx.Response(200, json={"id": "c1"}),
        httpx.Response(404, json={"errors": [{"code": "not_found", "message": "nope"}]}),
    )

    async def scenario() -> None:
        await client.request("PUT", "/contacts/c1", {"name": "x"})
        with pytest.raises(NotFoundError):
            await client.request("PUT", "/contacts/c2", {"name": "y"})

    asyncio.run(scenario())
    assert sample("intercom_stream_requests_total", endpoint=endpoint, status="200") == before_ok + 1
    assert sample("intercom_stream_requests_total", endpoint=endpoint, status="404") == before_404 + 1
    assert sample("intercom_stream_request_duration_seconds_count", endpoint=endpoint) == before_count + 2
    assert sample("intercom_stream_in_flight_requests") == 0


def test_429s_and_retries_are_counted(health: HealthState) -> None:
    state: dict[str, Any] = {"outage": OutageDetector(health=health), "health": health}
    limited_before = sample("intercom_stream_rate_limited_total")
    retries_before = sample("intercom_stream_retries_total")
    client = client_answering(
        httpx.Response(
            429, headers={"X-RateLimit-Reset": "0"}, json={"errors": [{"code": "rate_limit_exceeded"}]}
        ),
        httpx.Response(200, json={"data": []}),
    )

    async def scenario() -> None:
        await with_retries(
            lambda: client.request("POST", "/contacts/search", {}), RetryPolicy(), no_sleep, **state
        )
        calls = iter([RetryableDeliveryError("boom", status=503), None])

        async def flaky() -> None:
            error = next(calls)
            if error:
                raise error

        await with_retries(flaky, RetryPolicy(), no_sleep, **state)

    asyncio.run(scenario())
    assert sample("intercom_stream_rate_limited_total") == limited_before + 1
    assert sample("intercom_stream_retries_total") == retries_before + 1


def test_a_refused_token_pauses_readiness_until_a_call_succeeds(health: HealthState) -> None:
    health.partitions_assigned(3)
    assert health.ready()[0]
    client = client_answering(
        httpx.Response(401, json={"errors": [{"code": "unauthorized", "message": "Access Token Invalid"}]}),
        httpx.Response(200, json={"data": []}),
        health=health,
    )
    seen: list[tuple[bool, dict[str, Any]]] = []

    async def record_health(_: float) -> None:
        seen.append(health.ready())

    async def scenario() -> None:
        await with_retries(
            lambda: client.request("POST", "/contacts/search", {}),
            RetryPolicy(),
            record_health,
            outage=OutageDetector(health=health),
            health=health,
        )

    asyncio.run(scenario())
    ok, body = seen[0]
    assert not ok and body["delivery_paused"] is True
    assert any("refused the token (401)" in reason for reason in body["reasons"])
    assert health.ready()[0]  # the retry succeeded: green again


def test_event_and_dead_letter_counters() -> None:
    before_in = sample("intercom_stream_events_in_total", type="identify")
    before_dl = sample("intercom_stream_dead_letters_total", reason="unparseable")
    metrics.event_in("identify")
    metrics.dead_letter("unparseable")
    assert sample("intercom_stream_events_in_total", type="identify") == before_in + 1
    assert sample("intercom_stream_dead_letters_total", reason="unparseable") == before_dl + 1


def test_rate_budget_and_table_sizes_are_read_at_scrape_time() -> None:
    clock = [100.0]
    limiter = SlidingWindowLimiter(10, 10.0, clock=lambda: clock[0])
    asyncio.run(limiter.acquire())
    asyncio.run(limiter.acquire())
    old_limiters, old_tables = metrics.SCRAPE_TIME.limiters, metrics.SCRAPE_TIME.tables
    metrics.SCRAPE_TIME.limiters = {2: limiter}
    metrics.SCRAPE_TIME.tables = lambda: [("known-contacts", {"a": 1, "b": 2, "c": 3})]
    try:
        assert sample("intercom_stream_rate_budget_used", partition="2") == 2
        assert sample("intercom_stream_rate_budget_remaining", partition="2") == 8
        assert sample("intercom_stream_table_size", table="known-contacts") == 3
        clock[0] += 11  # the window slid past both calls
        assert sample("intercom_stream_rate_budget_remaining", partition="2") == 10
    finally:
        metrics.SCRAPE_TIME.limiters, metrics.SCRAPE_TIME.tables = old_limiters, old_tables
    assert b"intercom_stream_events_in_total" in metrics.exposition()


class FakeConsumer:
    def __init__(self, highwaters: dict[Any, int | None], committed: dict[Any, int | None]) -> None:
        self._highwaters = highwaters
        self._committed_offset = committed

    def assignment(self) -> set[Any]:
        return set(self._highwaters)

    def highwater(self, tp: Any) -> int | None:
        return self._highwaters[tp]


def test_consumer_lag_is_highwater_minus_committed_for_source_topics() -> None:
    TP = namedtuple("TP", "topic partition")
    consumer = FakeConsumer(
        {TP("raw", 0): 120, TP("raw", 1): 5, TP("raw", 2): None, TP("changelog", 0): 99},
        {TP("raw", 0): 100, TP("raw", 1): 5, TP("raw", 2): 3},
    )
    assert consumer_lag(consumer, {"raw"}) == {("raw", 0): 20, ("raw", 1): 0}


def test_readiness_reasons() -> None:
    health = HealthState()  # not yet joined
    ok, body = health.ready()
    assert not ok and "not yet joined" in body["reasons"][0]
    health.partitions_assigned(0)  # joined with nothing to do (more replicas than partitions) is ready
    assert health.ready()[0]
    health.broker("no open connection to any Kafka broker")
    ok, body = health.ready()
    assert not ok and body["broker_reachable"] is False and "Kafka broker unreachable" in body["reasons"][0]
    assert health.live()[0]  # an unreachable broker is not a reason to restart the pod
    health.broker(None)
    assert health.ready()[0]
    crashed = SimpleNamespace(crashed=True, crash_reason=RuntimeError("agent died"))
    assert not health.live(crashed)[0] and not health.ready(crashed)[0]


def test_broker_problem_from_the_consumer_connections() -> None:
    def consumer(connected: list[bool], coordinator_id: int | None = 1) -> Any:
        conns = {i: SimpleNamespace(connected=lambda c=c: c) for i, c in enumerate(connected)}
        kafka = SimpleNamespace(
            _client=SimpleNamespace(_conns=conns), _coordinator=SimpleNamespace(coordinator_id=coordinator_id)
        )
        return SimpleNamespace(_thread=SimpleNamespace(_consumer=kafka))

    assert broker_problem(consumer([True, False])) is None
    assert broker_problem(consumer([False])) == "no open connection to any Kafka broker"
    assert broker_problem(consumer([])) == "no open connection to any Kafka broker"
    assert broker_problem(consumer([True], None)) == "the consumer group coordinator is unknown"
    assert broker_problem(SimpleNamespace()) is None  # another transport: cannot tell, do not go red


# ---------------------------------------------------------------- logs


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def test_json_logs_never_show_the_token_or_a_bearer_header(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("json", "INFO", secrets=[TOKEN])
    stdlib = logging.getLogger("streams.test")
    stdlib.warning("calling with Authorization: Bearer xyz and token %s", TOKEN)
    structlog.get_logger("streams.test").error(
        "state change", header=f"Bearer {TOKEN}", nested={"t": [TOKEN]}
    )
    try:
        raise RuntimeError(f"boom with {TOKEN}")
    except RuntimeError:
        stdlib.exception("failed")
    logging.getLogger("httpx").info("HTTP Request: POST https://api.intercom.io/contacts 200 OK")
    out = capsys.readouterr().out
    assert TOKEN not in out and "xyz" not in out
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["message"] for line in lines] == [
        "calling with Authorization: Bearer [REDACTED] and token [REDACTED]",
        "state change",
        "failed",
    ]  # and no httpx line: per-call INFO logs are silenced
    assert lines[1]["header"] == "Bearer [REDACTED]" and lines[1]["nested"] == {"t": ["[REDACTED]"]}
    assert lines[1]["level"] == "error" and lines[1]["logger"] == "streams.test" and "timestamp" in lines[1]
    assert "boom with [REDACTED]" in lines[2]["exception"]


def test_console_logs_are_readable_and_redacted(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("console", "INFO", secrets=[TOKEN])
    logging.getLogger("streams.test").info("token is %s", TOKEN)
    out = capsys.readouterr().out
    assert "token is [REDACTED]" in out and TOKEN not in out and not out.lstrip().startswith("{")


def test_redaction_and_format_choice() -> None:
    assert redact_text("Authorization: bearer abc.def-123, next") == "Authorization: bearer [REDACTED], next"
    assert resolve_format("auto", SimpleNamespace(isatty=lambda: False)) == "json"
    assert resolve_format("auto", SimpleNamespace(isatty=lambda: True)) == "console"
    assert resolve_format("console", None) == "console"


def test_the_sinks_jobs_and_the_http_calls_in_flight_are_separate_gauges() -> None:
    from streams.observability import metrics as m

    jobs, calls = m.SINK_JOBS._value.get(), m.IN_FLIGHT._value.get()
    m.sink_jobs(1)
    assert (m.SINK_JOBS._value.get(), m.IN_FLIGHT._value.get()) == (jobs + 1, calls)
    m.sink_jobs(-1)
    assert "intercom_stream_sink_in_flight" in m.exposition().decode()
