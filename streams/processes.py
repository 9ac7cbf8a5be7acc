"""Child processes for the sandbox and the tests: start with a log file, wait for readiness, stop by PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from streams.settings import ENV_PREFIX, Settings, load_settings
from streams.watchdog import TAIL_LINES, died, read_log, stalled, tail


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Child:
    """One child process in its own process group, its output in ``log_path``."""

    def __init__(
        self, name: str, argv: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None
    ) -> None:
        self.name = name
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            list(argv),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )

    @property
    def returncode(self) -> int | None:
        return self.process.poll()

    def log_text(self) -> str:
        return read_log(self.log_path)

    def log_tail(self, lines: int = TAIL_LINES) -> str:
        return tail(self.log_text(), lines)

    def wait_for(self, ready: Callable[[], bool], timeout_s: float, what: str) -> None:
        """Poll ``ready`` until true; ChildFailed with the log's tail if the child exits or time runs out."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if ready():
                return
            error = died(self)
            if error is not None:
                raise error
            time.sleep(0.1)
        raise stalled(self, f"printed no {what} within {timeout_s:.0f}s")

    def stop(self, timeout_s: float = 20.0, sig: int = signal.SIGTERM) -> int | None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log.close()
        return self.process.returncode


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def start_emulator(log_path: Path, *args: str, token: str) -> tuple[Child, str]:
    """Start the Intercom emulator on a free port; returns the child and its base URL."""
    port = free_port()
    child = Child(
        "emulator", python_module("streams.emulator", "--port", str(port), "--token", token, *args), log_path
    )
    child.wait_for(lambda: "listening on" in child.log_text(), 30, "listening line")
    return child, f"http://127.0.0.1:{port}"


def worker_env(bootstrap: str, base_url: str, token: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        "INTERCOM_STREAM_BOOTSTRAP_SERVERS": bootstrap,
        "INTERCOM_STREAM_INTERCOM_TOKEN": token,
        "INTERCOM_STREAM_BASE_URL": base_url,
        "INTERCOM_STREAM_DATA_DIR": str(data_dir),
        "INTERCOM_STREAM_WEB_PORT": "0",
        "INTERCOM_STREAM_CONSUMER_SESSION_TIMEOUT_S": "6",
        "INTERCOM_STREAM_COMMIT_INTERVAL_S": "0.5",
    }
    env.update({f"INTERCOM_STREAM_{k.upper()}": v for k, v in extra.items()})
    return env


def settings_from_env(env: Mapping[str, str]) -> Settings:
    """The Settings a worker started with ``env`` will read (ConfigurationError names a bad one)."""
    return load_settings(**{k.removeprefix(ENV_PREFIX).lower(): v for k, v in env.items()})


def start_worker(log_path: Path, env: Mapping[str, str]) -> Child:
    return Child("worker", python_module("streams.cli", "worker"), log_path, env)
