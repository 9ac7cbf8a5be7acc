"""Benchmark fixtures (the integration ones: real Kafka, the emulator, workers) and the final table."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.benchmarks import report
from tests.integration.conftest import (  # noqa: F401  (fixtures, used by name)
    emulator,
    emulator_url,
    kafka_bootstrap,
    pipeline,
)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    if not report.FIGURES:
        return
    figures = sorted(report.FIGURES, key=lambda f: ORDER.index(f.name) if f.name in ORDER else len(ORDER))
    terminalreporter.section("intercom-stream benchmarks (median of runs)")
    info = report.machine()
    terminalreporter.write_line(f"machine: {info['cores']} cores, {info['cpu']}, Python {info['python']}")
    for line in report.render(figures):
        terminalreporter.write_line(line)
    if report.TEXT:
        terminalreporter.write_line("")
        for line in report.TEXT:
            terminalreporter.write_line(line)
    path = report.write_json(figures, report.TEXT, Path(config.rootpath) / "results")
    terminalreporter.write_line(f"\nwritten to {path}")


# Table order: economy, throughput (ours, then the limits beside it), latency, state, budget.
ORDER = [
    "calls per event (workload)",
    "calls of a new user's identify",
    "transform in-process",
    "emulator alone, serial calls",
    "end to end, one worker",
    "no call, one worker",
    "limit: bare aiokafka loop",
    "limit: Faust do-nothing agent",
    "one call, one worker",
    "limit: bare httpx client",
    "latency publish→call p50",
    "latency publish→call p99",
    "memory store, per contact",
    "RocksDB on disk, per contact",
    "table recovery",
    "budget use per window",
    "429s during backlog",
]
