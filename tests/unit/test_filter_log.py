import logging

import pytest

from streams.observability.filter_log import FilterLog


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level]


def test_first_of_each_reason_at_info_then_a_summary_at_most_once_a_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    log = FilterLog(logging.getLogger("test.filter_log"), clock=clock)
    with caplog.at_level(logging.INFO, "test.filter_log"):
        for n in range(1000):
            log.filtered("page_ignored", "page", f"m{n}", "u1")
        log.filtered("integration_disabled", "track", "t1", "u2")
        assert len(messages(caplog, logging.INFO)) == 2  # one per reason, nothing per event
        first = messages(caplog, logging.INFO)[0]
        assert "page event m0 of u1: page_ignored" in first
        clock.now = 61.0
        log.filtered("page_ignored", "page", "late", "u1")
    info = messages(caplog, logging.INFO)
    assert len(info) == 3 and "page_ignored 1000" in info[-1]  # 999 + the late one
    assert messages(caplog, logging.DEBUG) == []


def test_every_filtered_event_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    log = FilterLog(logging.getLogger("test.filter_log.debug"), clock=Clock())
    with caplog.at_level(logging.DEBUG, "test.filter_log.debug"):
        for n in range(3):
            log.filtered("denied_event", "track", f"m{n}", "u1")
    assert [m.split(" of ")[0] for m in messages(caplog, logging.DEBUG)] == [
        "filtered track event m1",
        "filtered track event m2",
    ]
