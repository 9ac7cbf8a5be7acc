"""Fixtures shared by the unit tests."""

from __future__ import annotations

import pytest
import structlog

from streams.delivery.outage import OutageDetector
from streams.observability import HealthState


@pytest.fixture
def health() -> HealthState:
    """A worker's health after it joined its group, with default logging: each test starts healthy."""
    structlog.reset_defaults()
    state = HealthState()
    state.partitions_assigned(1)
    return state


@pytest.fixture
def outage(health: HealthState) -> OutageDetector:
    """The worker's outage detector, with default settings."""
    return OutageDetector(health=health)
