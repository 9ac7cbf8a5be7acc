"""Prometheus metrics of the worker, on a registry of their own (served at ``/metrics``).

Names are a contract with the Grafana dashboard in ``helm/intercom-stream/dashboards``: change both.
Every label has a bounded set of values: endpoints are templated (``PUT /contacts/{id}``), event types,
statuses and dead-letter reasons come from closed sets, partitions from the topic's partition count.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from streams.errors import DeliveryError, RateLimitedError

PREFIX = "intercom_stream_"
REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

EVENTS_IN = Counter(PREFIX + "events_in", "Valid input events, by Segment type.", ["type"], registry=REGISTRY)
REQUESTS = Counter(
    PREFIX + "requests",
    "Intercom calls by templated endpoint and HTTP status ('error' when no answer arrived).",
    ["endpoint", "status"],
    registry=REGISTRY,
)
REQUEST_DURATION = Histogram(
    PREFIX + "request_duration_seconds",
    "Duration of one Intercom call (one attempt), by templated endpoint.",
    ["endpoint"],
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
EVENTS_FILTERED = Counter(
    PREFIX + "events_filtered",
    "Valid events deliberately not sent, by reason (event_filtered, page_ignored, screen_ignored, "
    "anonymous_skipped, consent_denied, alias_noop, integration_disabled).",
    ["reason"],
    registry=REGISTRY,
)
RETRIES = Counter(
    PREFIX + "retries", "Intercom calls attempted again after a transient failure.", registry=REGISTRY
)
REPLAYS = Counter(
    PREFIX + "replays",
    "Input events that are replays of dead letters (intercom-stream dlq replay), by Segment type.",
    ["type"],
    registry=REGISTRY,
)
REWINDS = Counter(
    PREFIX + "rewinds",
    "Times a partition was read again from a record that had not reached the worker.",
    registry=REGISTRY,
)
SINK_JOBS = Gauge(
    PREFIX + "sink_in_flight",
    "Delivery requests taken by the sink and not yet done (calling, waiting for the rate limit, or for "
    "the same user's previous request).",
    registry=REGISTRY,
)
RATE_LIMITED = Counter(PREFIX + "rate_limited", "429 answers from Intercom.", registry=REGISTRY)
RATE_GATE_WAITS = Counter(
    PREFIX + "rate_gate_waits",
    "Calls held until Intercom's window reset because X-RateLimit-Remaining was spent (app-wide gate).",
    registry=REGISTRY,
)
RATE_GATE_WAIT_SECONDS = Counter(
    PREFIX + "rate_gate_wait_seconds",
    "Seconds calls spent held by the app-wide rate gate.",
    registry=REGISTRY,
)
DELIVERY_PAUSES = Counter(
    PREFIX + "delivery_pauses",
    "Times delivery paused because Intercom refused the token (401/403): one per episode.",
    registry=REGISTRY,
)
REPLAYS_AVOIDED = Counter(
    PREFIX + "replays_avoided",
    "Records read again (a rewind, a rebalance) that were not handled again: this worker had done them.",
    registry=REGISTRY,
)
REQUESTS_WITHOUT_CALLS = Counter(
    PREFIX + "requests_without_calls",
    "Delivery requests that needed no Intercom call (Intercom already held the values): not remembered "
    "as done, no table write.",
    registry=REGISTRY,
)
PARKED = Counter(
    PREFIX + "parked",
    "Delivery requests parked because their contact was not known yet, by reason.",
    ["reason"],
    registry=REGISTRY,
)
RELEASED = Counter(
    PREFIX + "released",
    "Parked delivery requests performed once their contact was created or learned.",
    registry=REGISTRY,
)
OUTAGES = Counter(
    PREFIX + "intercom_outages",
    "Times delivery paused because Intercom failed across requests (5xx, timeouts): one per episode.",
    registry=REGISTRY,
)
SCHEMA_REGISTRY_PAUSES = Counter(
    PREFIX + "schema_registry_pauses",
    "Episodes in which input waited for the schema registry (unreachable, 5xx, 401/403).",
    registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    PREFIX + "dead_letters",
    "Records written to the dead-letter topic, by reason.",
    ["reason"],
    registry=REGISTRY,
)
IN_FLIGHT = Gauge(PREFIX + "in_flight_requests", "Intercom calls awaiting an answer.", registry=REGISTRY)
CONSUMER_LAG = Gauge(
    PREFIX + "consumer_lag",
    "Records not yet committed by this worker (highwater - committed offset), per assigned partition.",
    ["topic", "partition"],
    registry=REGISTRY,
)

# Path segments kept verbatim in endpoint labels; any other segment is an id and becomes {id}.
_RESOURCE_WORDS = frozenset(
    {
        "admins", "archive", "attach", "companies", "contacts", "conversations", "data_attributes",
        "data_events", "detach", "events", "me", "merge", "notes", "scroll", "search", "segments",
        "subscriptions", "tags", "unarchive", "visitors",
    }
)  # fmt: skip
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


def endpoint_label(method: str, path: str) -> str:
    """``("PUT", "/contacts/6650f1?x=1")`` → ``"PUT /contacts/{id}"``: never raw ids in labels."""
    method = method.upper() if method.upper() in _METHODS else "OTHER"
    segments = path.split("?", 1)[0].split("#", 1)[0].strip("/").split("/")
    templated = [s if s in _RESOURCE_WORDS else "{id}" for s in segments if s]
    return f"{method} /" + "/".join(templated)


def event_in(event_type: str) -> None:
    EVENTS_IN.labels(type=event_type).inc()


def filtered(reason: str) -> None:
    EVENTS_FILTERED.labels(reason=reason).inc()


def dead_letter(reason: str) -> None:
    DEAD_LETTERS.labels(reason=reason or "unknown").inc()


def schema_registry_pause() -> None:
    SCHEMA_REGISTRY_PAUSES.inc()


def retry() -> None:
    RETRIES.inc()


def replayed(event_type: str) -> None:
    REPLAYS.labels(type=event_type).inc()


def rewind() -> None:
    REWINDS.inc()


def sink_jobs(delta: int) -> None:
    SINK_JOBS.inc(delta)


def rate_gate_wait(seconds: float) -> None:
    RATE_GATE_WAITS.inc()
    RATE_GATE_WAIT_SECONDS.inc(seconds)


def delivery_paused() -> None:
    DELIVERY_PAUSES.inc()


def replay_avoided() -> None:
    REPLAYS_AVOIDED.inc()


def request_without_calls() -> None:
    REQUESTS_WITHOUT_CALLS.inc()


def parked(reason: str) -> None:
    PARKED.labels(reason=reason).inc()


def released(count: int) -> None:
    RELEASED.inc(count)


def outage() -> None:
    OUTAGES.inc()


# Set by the worker's HealthState at each change (one worker per process).
DELIVERY_PAUSED = Gauge(
    PREFIX + "delivery_paused",
    "1 while delivery is paused (Intercom refuses the token, or fails across requests), else 0.",
    registry=REGISTRY,
)
INTERCOM_OUTAGE = Gauge(
    PREFIX + "intercom_outage",
    "1 while delivery is paused because Intercom fails most requests (an outage or a brownout), else 0.",
    registry=REGISTRY,
)


def delivery_state(paused: bool, outage: bool) -> None:
    DELIVERY_PAUSED.set(1 if paused else 0)
    INTERCOM_OUTAGE.set(1 if outage else 0)


T = TypeVar("T")


def observe_request(
    fn: Callable[[Any, str, str, Any], Awaitable[T]],
) -> Callable[[Any, str, str, Any], Awaitable[T]]:
    """Decorates ``IntercomClient.request``: counts, times and tracks in-flight calls, and tells the
    client's health state (its ``health``, if any) that the token works again whenever Intercom
    answers with anything but 401/403."""

    @functools.wraps(fn)
    async def wrapper(self: Any, method: str, path: str, body: Any = None) -> T:
        endpoint = endpoint_label(method, path)
        status = "error"
        IN_FLIGHT.inc()
        started = time.perf_counter()
        try:
            result = await fn(self, method, path, body)
            status = str(getattr(self, "last_status", None) or "2xx")
            return result
        except DeliveryError as exc:
            status = str(exc.status) if exc.status else "error"
            if isinstance(exc, RateLimitedError):
                RATE_LIMITED.inc()
            raise
        finally:
            IN_FLIGHT.dec()
            REQUEST_DURATION.labels(endpoint=endpoint).observe(time.perf_counter() - started)
            REQUESTS.labels(endpoint=endpoint, status=status).inc()
            health = getattr(self, "health", None)
            if health is not None and status not in ("error", "401", "403"):
                health.token_accepted()

    return wrapper


class _ScrapeTimeGauges(Collector):
    """Gauges read when Prometheus scrapes: rate budgets, table sizes."""

    def __init__(self) -> None:
        self.limiters: Mapping[Any, Any] = {}
        self.tables: Callable[[], Iterable[tuple[str, Any]]] = lambda: ()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        used = GaugeMetricFamily(
            PREFIX + "rate_budget_used",
            "Calls in the current rate window, per partition.",
            labels=["partition"],
        )
        remaining = GaugeMetricFamily(
            PREFIX + "rate_budget_remaining",
            "Calls left in the current rate window, per partition.",
            labels=["partition"],
        )
        for partition, limiter in sorted(dict(self.limiters).items(), key=lambda kv: str(kv[0])):
            try:
                in_window = int(limiter.used)
                budget = int(limiter.max_calls)
            except Exception:  # a limiter of another shape: skip it rather than fail the scrape
                continue
            used.add_metric([str(partition)], in_window)
            remaining.add_metric([str(partition)], max(0, budget - in_window))
        yield used
        yield remaining
        sizes = GaugeMetricFamily(
            PREFIX + "table_size", "Keys in this worker's part of each Faust table.", labels=["table"]
        )
        try:
            for name, table in self.tables():
                sizes.add_metric([name], len(table))
        except Exception:  # tables are being rebuilt (rebalance): report none this time
            pass
        yield sizes


SCRAPE_TIME = _ScrapeTimeGauges()
REGISTRY.register(SCRAPE_TIME)


def exposition() -> bytes:
    return generate_latest(REGISTRY)
