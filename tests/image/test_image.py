"""The built image's worker, run as the Helm chart runs it (run_config.py), against the local Kafka
broker and the Intercom emulator on 127.0.0.1: the sample events arrive.

Needs the image (`make image`) and podman with runc; `make image-test` builds it and runs this."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from streams.emulator_admin import EmulatorAdmin
from streams.kafka_io import publish_lines, read_all, read_jsonl
from streams.processes import Child, free_port, settings_from_env
from streams.sandbox import (
    SANDBOX_ATTRIBUTES,
    SANDBOX_HOLD_S,
    decode_dead_letters,
    sample_events,
    settle_parked,
    wait_until_drained,
)
from streams.watchdog import guarded
from tests.image.run_config import podman_argv, worker_run
from tests.sample_result import check_sample_result

pytestmark = pytest.mark.integration

IMAGE = os.environ.get("IMAGE", "localhost/intercom-stream:dev")
READY_TIMEOUT_S = 120.0
HOLD_S = SANDBOX_HOLD_S  # the sample's never-identified user's work is dead-lettered after it


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=2) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def podman(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", "--runtime", "runc", *args], capture_output=True, text=True, timeout=60)


def test_image_worker_delivers_the_samples_as_the_chart_runs_it(
    kafka_bootstrap: str, emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    assert podman("image", "exists", IMAGE).returncode == 0, f"no image {IMAGE}: run `make image` first"
    for name, data_type, model in SANDBOX_ATTRIBUTES:
        emulator.create_attribute(name, data_type, model)
    setup_calls = len(emulator.requests())
    suffix = uuid.uuid4().hex[:8]
    port = free_port()
    run = worker_run(
        IMAGE,
        config={
            "bootstrap_servers": kafka_bootstrap, "base_url": emulator.base_url,
            "web_host": "127.0.0.1", "web_port": port, "app_id": f"image-{suffix}",
            "raw_events_topic": f"raw-{suffix}", "delivery_topic": f"delivery-{suffix}",
            "rekey_topic": f"rekey-{suffix}", "dead_letter_topic": f"dlq-{suffix}",
            "consumer_session_timeout_s": 6, "commit_interval_s": 0.5, "unknown_user_hold_s": HOLD_S,
        },
        token=emulator.token,
    )  # fmt: skip
    name = f"intercom-stream-test-{suffix}"
    argv = podman_argv(run, name)
    assert emulator.token not in " ".join(argv)
    container = Child("worker container", argv, tmp_path / "container.log", env=run.env)
    started = time.monotonic()
    try:
        container.wait_for(lambda: ready(port), READY_TIMEOUT_S, "ready answer on /health/ready")
        ready_s = time.monotonic() - started
        # What the chart's security context promises, asked of the running container itself.
        assert podman("exec", name, "id", "-u").stdout.strip() == "10001"
        assert podman("exec", name, "touch", "/app/x").returncode != 0  # read-only root
        assert podman("exec", name, "touch", "/tmp/intercom-stream/x").returncode == 0

        settings = settings_from_env(run.env)
        lines = read_jsonl(sample_events())
        asyncio.run(guarded(publish_lines(kafka_bootstrap, settings.raw_events_topic, lines), [container]))
        drained = wait_until_drained(settings, len(lines), stall_s=30)
        asyncio.run(guarded(drained, [container]))
        asyncio.run(guarded(settle_parked(settings, len(lines), HOLD_S, 30), [container]))
        letters = decode_dead_letters(asyncio.run(read_all(kafka_bootstrap, settings.dead_letter_topic)))
    finally:
        code = container.stop()
    check_sample_result(
        {"calls": emulator.requests()[setup_calls:], "state": emulator.state(), "dead_letters": letters}
    )
    assert code == 0, container.log_tail()  # SIGTERM: a clean shutdown
    assert emulator.token not in container.log_text()
    print(f"\nimage {IMAGE}: start to ready {ready_s:.1f}s")
