"""Reading one value of the worker's Prometheus registry in a test."""

from __future__ import annotations

from streams.observability import metrics


def sample(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0
