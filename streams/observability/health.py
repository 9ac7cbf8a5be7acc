"""What ``/health/live`` and ``/health/ready`` answer, and why.

One ``HealthState`` per worker, made by whoever builds it (the pipeline) and passed to the retry code,
the Intercom client and the Faust signal handlers, which flip its flags; the web pages only read them.
Each change of the pause also sets the ``delivery_paused`` / ``intercom_outage`` gauges.

live:  the event loop keeps running its ticks and the Faust app has not crashed.
ready: live, the worker has joined the consumer group (partitions assigned), delivery is not paused
       (Intercom refuses the token, or fails across requests), and the Kafka broker is reachable.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import structlog

from streams.observability import metrics

log = structlog.get_logger("streams.observability")

# The loop ticks every second; a tick this late means the loop is stuck (or starved) for real.
LOOP_STALL_S = 30.0


@dataclass
class HealthState:
    started_at: float = field(default_factory=time.monotonic)
    last_tick: float | None = None
    max_tick_lag_s: float = 0.0
    joined: bool = False
    assigned: int = 0
    auth_paused_since: float | None = None
    auth_status: int | None = None
    broker_error: str | None = None
    outage_since: float | None = None
    registry_error: str | None = None

    # -- hooks ------------------------------------------------------------------------------------

    def tick(self, lag_s: float = 0.0) -> None:
        self.last_tick = time.monotonic()
        self.max_tick_lag_s = max(self.max_tick_lag_s * 0.9, lag_s)

    def token_refused(self, status: int | None) -> bool:
        """Intercom answered 401/403: delivery holds until a call succeeds again. True when this
        starts a pause episode (the one ERROR line of the episode is logged here)."""
        self.auth_status = status
        if self.auth_paused_since is not None:
            return False
        self.auth_paused_since = time.monotonic()
        self._publish()
        log.error("delivery paused: Intercom refused the token", status=status, state="paused")
        return True

    def token_accepted(self) -> None:
        if self.auth_paused_since is not None:
            paused_s = round(time.monotonic() - self.auth_paused_since, 1)
            self.auth_paused_since = None
            self.auth_status = None
            self._publish()
            log.warning("delivery resumed: Intercom accepts the token", paused_s=paused_s, state="resumed")

    def intercom_down(self, failures: int, calls: int | None = None, rate: float | None = None) -> None:
        """Most calls of many requests fail (5xx, timeouts, no connection): delivery pauses (the
        breaker in streams/delivery/outage.py is open)."""
        self.outage_since = time.monotonic()
        self._publish()
        log.error(
            "delivery paused: Intercom is failing across requests; waiting for it",
            failures=failures,
            calls=calls,
            failure_rate=None if rate is None else round(rate, 2),
            state="paused",
        )

    def intercom_recovered(self, paused_s: float) -> None:
        self.outage_since = None
        self._publish()
        log.warning("delivery resumed: Intercom answers again", paused_s=round(paused_s, 1), state="resumed")

    def partitions_assigned(self, count: int) -> None:
        self.joined = True
        self.assigned = count

    def broker(self, error: str | None) -> None:
        if error != self.broker_error:
            if error:
                log.error("Kafka broker unreachable", reason=error, state="broker_unreachable")
            else:
                log.warning("Kafka broker reachable again", state="broker_reachable")
        self.broker_error = error

    def schema_registry(self, error: str | None) -> None:
        """Input waits for the schema registry (logged by the decoder, once per episode)."""
        self.registry_error = error

    # -- answers ----------------------------------------------------------------------------------

    def live(self, app: Any = None) -> tuple[bool, dict[str, Any]]:
        now = time.monotonic()
        problems = []
        if app is not None and getattr(app, "crashed", False):
            problems.append(f"the Faust app crashed: {getattr(app, 'crash_reason', None)!r}")
        if self.last_tick is not None and now - self.last_tick > LOOP_STALL_S:
            problems.append(f"the event loop has not ticked for {now - self.last_tick:.0f}s")
        body = {
            "status": "ok" if not problems else "failing",
            "reasons": problems,
            "uptime_s": round(now - self.started_at, 1),
            "loop_lag_s": round(self.max_tick_lag_s, 3),
        }
        return not problems, body

    def ready(self, app: Any = None) -> tuple[bool, dict[str, Any]]:
        _, live_body = self.live(app)
        problems = list(live_body["reasons"])
        if not self.joined:
            problems.append("not yet joined the consumer group (no partition assignment yet)")
        if self.auth_paused_since is not None:
            problems.append(
                f"delivery paused: Intercom refused the token ({self.auth_status}) for "
                f"{time.monotonic() - self.auth_paused_since:.0f}s; fix INTERCOM_STREAM_INTERCOM_TOKEN"
            )
        if self.outage_since is not None:
            problems.append(
                f"delivery paused: Intercom has been failing most requests for "
                f"{time.monotonic() - self.outage_since:.0f}s (5xx, timeouts or no connection; an "
                "outage or a brownout): sending probes only"
            )
        if self.broker_error:
            problems.append(f"Kafka broker unreachable: {self.broker_error}")
        if self.registry_error:
            problems.append(f"input paused: {self.registry_error}")
        body = {
            "status": "ok" if not problems else "not_ready",
            "reasons": problems,
            "joined": self.joined,
            "assigned_partitions": self.assigned,
            "delivery_paused": self.paused,
            "intercom_outage": self.outage_since is not None,
            "broker_reachable": self.broker_error is None,
        }
        return not problems, body

    @property
    def paused(self) -> bool:
        """Delivery holds: Intercom refuses the token, or is down."""
        return self.auth_paused_since is not None or self.outage_since is not None

    def _publish(self) -> None:
        metrics.delivery_state(self.paused, self.outage_since is not None)
