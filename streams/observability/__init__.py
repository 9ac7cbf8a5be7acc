"""Metrics (Prometheus), health (liveness/readiness) and structured logs of the worker.

See docs/operations.md for what each metric, health answer and log line means.
"""

from streams.observability.health import HealthState
from streams.observability.install import install_observability
from streams.observability.logs import configure_logging, redact_text, worker_logging

__all__ = [
    "HealthState",
    "configure_logging",
    "install_observability",
    "redact_text",
    "worker_logging",
]
