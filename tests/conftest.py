"""Process-wide state that must not leak from one test into the next."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from streams.delivery.outage import OUTAGE


@pytest.fixture(autouse=True)
def no_outage_left_over() -> Iterator[None]:
    OUTAGE.reset()
    yield
    OUTAGE.reset()
