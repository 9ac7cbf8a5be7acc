"""Fixtures shared by the unit tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog

from streams.observability import HEALTH


@pytest.fixture
def joined_health() -> Iterator[None]:
    """A worker that has joined its group, with default logging: each pause test starts healthy."""
    structlog.reset_defaults()
    HEALTH.reset()
    HEALTH.partitions_assigned(1)
    yield
    HEALTH.reset()
