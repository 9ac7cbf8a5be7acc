"""`intercom-stream sandbox` says why it failed: which child died, its exit code, its last log lines."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from streams import processes, sandbox
from streams.watchdog import ChildFailed

pytestmark = pytest.mark.integration


def test_a_worker_that_dies_is_named_with_its_exit_code_and_log(monkeypatch: pytest.MonkeyPatch) -> None:
    real_start_worker = processes.start_worker

    def start_misconfigured_worker(log_path: Path, env: Mapping[str, str]) -> processes.Child:
        # A real worker, refused at start-up by its settings: only the worker sees this one.
        return real_start_worker(log_path, {**env, "INTERCOM_STREAM_RATE_LIMIT": "lots"})

    monkeypatch.setattr(sandbox, "start_worker", start_misconfigured_worker)
    with pytest.raises(ChildFailed) as failed:
        sandbox.run_sandbox(None, json_output=True)
    message = str(failed.value)
    assert message.startswith("worker exited with code 2;") and "the last lines of its log:" in message
    assert "INTERCOM_STREAM_RATE_LIMIT" in message


def test_a_bad_setting_in_the_environment_stops_the_sandbox_with_its_name() -> None:
    env = {**os.environ, "INTERCOM_STREAM_RATE_LIMIT": "lots"}
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "sandbox", "--json"],
        env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 2 and done.stdout == ""
    assert "error:" in done.stderr and "INTERCOM_STREAM_RATE_LIMIT" in done.stderr
    assert "Traceback" not in done.stderr
