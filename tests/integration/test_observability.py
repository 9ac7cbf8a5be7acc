"""The worker's web port: /metrics moves with traffic, /health/ready means something, logs are JSON."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from streams.processes import free_port
from tests.integration.conftest import RunningPipeline
from tests.integration.test_pipeline import identify, track

pytestmark = pytest.mark.integration


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return 0, ""


def eventually(check: Callable[[], Any], what: str, timeout_s: float = 40.0) -> Any:
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"no {what} after {timeout_s:.0f}s (last: {last!r})")


def samples(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, text = get(port, "/metrics")
    assert status == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(port: int, name: str, **labels: str) -> float:
    return samples(port).get((name, tuple(sorted(labels.items()))), 0.0)


def with_web_port(pipeline: RunningPipeline, **extra: str) -> int:
    port = free_port()
    pipeline.env.update(
        {"INTERCOM_STREAM_WEB_PORT": str(port), "INTERCOM_STREAM_WEB_HOST": "127.0.0.1"}
        | {f"INTERCOM_STREAM_{k.upper()}": v for k, v in extra.items()}
    )
    return port


def ready(port: int) -> tuple[int, dict[str, Any]]:
    status, body = get(port, "/health/ready")
    return status, json.loads(body) if body else {}


def test_metrics_health_and_json_logs(pipeline: RunningPipeline) -> None:
    port = with_web_port(pipeline, log_format="json")
    pipeline.start()
    eventually(lambda: ready(port)[0] == 200, "ready worker")
    assert get(port, "/health/live")[0] == 200
    events: list[Any] = ["this is not json", identify("obs-1", 1), track("obs-1", 2, "Signed Up")]
    pipeline.publish(events)
    pipeline.wait_drained(len(events))

    def moved() -> bool:
        return value(port, "intercom_stream_events_in_total", type="track") >= 1

    eventually(moved, "events_in for track")
    got = samples(port)
    assert got[("intercom_stream_events_in_total", (("type", "identify"),))] == 1
    assert got[("intercom_stream_requests_total", (("endpoint", "POST /contacts"), ("status", "200")))] == 1
    statuses = {"200", "202"}
    events_ok = [
        v
        for (name, labels), v in got.items()
        if name == "intercom_stream_requests_total"
        and dict(labels).get("endpoint") == "POST /events"
        and dict(labels).get("status") in statuses
    ]
    assert sum(events_ok) == 1
    assert got[("intercom_stream_dead_letters_total", (("reason", "unparseable"),))] == 1
    assert got[("intercom_stream_request_duration_seconds_count", (("endpoint", "POST /contacts"),))] == 1
    assert ("intercom_stream_in_flight_requests", ()) in got
    budgets = [k for k in got if k[0] == "intercom_stream_rate_budget_remaining"]
    assert budgets, "a rate budget per partition that made calls"
    assert got[("intercom_stream_table_size", (("table", "known-contacts"),))] == 1
    # No raw ids in endpoint labels.
    endpoints = {dict(k[1]).get("endpoint") for k in got if k[0] == "intercom_stream_requests_total"}
    assert all("{id}" in e or e.count("/") == 1 or e.endswith("/search") for e in endpoints if e), endpoints
    # Consumer lag is published by a 10 s timer: wait for it, then it should show the drained topics.
    eventually(lambda: any(k[0] == "intercom_stream_consumer_lag" for k in samples(port)), "consumer lag", 30)

    pipeline.stop()
    lines = [line for line in pipeline.logs().splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]  # every line is one JSON document
    assert all({"message", "level", "timestamp", "logger"} <= set(p) for p in parsed)
    assert any(p["message"].startswith("dead-lettered") for p in parsed)
    assert any(p["message"] == "partitions assigned" for p in parsed)
    assert not any(p["message"].startswith("HTTP Request") for p in parsed)
    assert pipeline.token not in pipeline.logs()


def test_ready_turns_red_while_intercom_refuses_the_token(pipeline: RunningPipeline) -> None:
    port = with_web_port(pipeline, intercom_token="tok_wrong_value_123", log_format="json")
    pipeline.start()
    eventually(lambda: ready(port)[0] == 200, "ready worker")
    pipeline.publish([identify("obs-auth", 1)])
    _, body = eventually(lambda: (r := ready(port))[0] == 503 and r, "503 from /health/ready")
    assert body["delivery_paused"] is True
    assert any("refused the token" in reason for reason in body["reasons"]), body
    assert get(port, "/health/live")[0] == 200  # paused is not dead: no restart loop
    assert value(port, "intercom_stream_requests_total", endpoint="POST /contacts", status="401") >= 1
    pipeline.stop()
    assert "tok_wrong_value_123" not in pipeline.logs()
    assert any("delivery paused" in json.loads(line)["message"] for line in pipeline.logs().splitlines())
