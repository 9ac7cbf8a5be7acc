"""The emulator image (image/emulator.Dockerfile) run as a CI service would: it answers as Intercom,
with its admin API, read-only and non-root. Needs the image (`make image`) and podman with runc."""

from __future__ import annotations

import os
import subprocess
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import httpx
import pytest

from streams.emulator_admin import EmulatorAdmin
from streams.processes import Child, free_port
from tests.image.run_config import ULIMITS

pytestmark = pytest.mark.integration

EMULATOR_IMAGE = os.environ.get("EMULATOR_IMAGE", "localhost/intercom-stream-emulator:dev")
TOKEN = "tok_service_container_5e1b"


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_emulator/config", timeout=2) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def test_the_emulator_image_serves_intercom_and_its_admin_api(tmp_path: Path) -> None:
    exists = subprocess.run(["podman", "image", "exists", EMULATOR_IMAGE], capture_output=True, timeout=60)
    assert exists.returncode == 0, f"no image {EMULATOR_IMAGE}: run `make image` first"
    port, name = free_port(), f"intercom-emulator-test-{uuid.uuid4().hex[:8]}"
    argv = ["podman", "--runtime", "runc", "run", "--rm", "--name", name, "--network", "host", "--read-only"]
    argv += [
        f"--ulimit={limit}" for limit in ULIMITS
    ]  # podman may not raise rlimits here (as for the worker)
    argv += [EMULATOR_IMAGE, "--host", "127.0.0.1", "--port", str(port), "--token", TOKEN, "--latency", "5ms"]
    container = Child("emulator container", argv, tmp_path / "container.log")
    url = f"http://127.0.0.1:{port}"
    try:
        container.wait_for(lambda: _answers(url), 60, "answer on /_emulator/config")
        me = httpx.get(f"{url}/me", headers={"Authorization": f"Bearer {TOKEN}"})
        assert me.status_code == 200 and me.json()["type"] == "admin"
        assert me.headers["X-RateLimit-Limit"] == "83"
        assert httpx.get(f"{url}/me", headers={"Authorization": "Bearer wrong"}).status_code == 401
        own = EmulatorAdmin(url, TOKEN).create_workspace()
        own.api("POST", "/contacts", {"role": "user", "external_id": "u1"})
        assert [c["external_id"] for c in own.state()["contacts"]] == ["u1"]
        assert EmulatorAdmin(url, TOKEN).state()["contacts"] == []  # the default workspace is apart
        user = subprocess.run(
            ["podman", "exec", name, "id", "-u"], capture_output=True, text=True, timeout=60
        )
        assert user.stdout.strip() == "10001"
    finally:
        code = container.stop()
    assert code == 0, container.log_tail()
