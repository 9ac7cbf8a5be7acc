"""Running the emulator with uvicorn: blocking (`run`) or in a background thread (`running_emulator`)."""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from types import FrameType

import uvicorn
from starlette.applications import Starlette

from streams.emulator import snapshot
from streams.emulator.app import create_app
from streams.emulator.config import EmulatorConfig


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGINT/SIGTERM after its graceful shutdown, so the process dies by the
    signal; the CLI should instead finish `run()` and exit 0."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, self._on_signal) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True  # a second Ctrl+C skips waiting for open requests
        self.should_exit = True


def _uvicorn_config(app: Starlette, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        # Injected timeouts stall for 30 s; do not let them hold shutdown hostage.
        timeout_graceful_shutdown=1,
    )


def run(
    config: EmulatorConfig,
    host: str = "127.0.0.1",
    port: int = 8089,
    on_ready: Callable[[str], None] | None = None,
    state_in: Path | None = None,
    state_out: Path | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM (uvicorn installs the handlers and shuts down gracefully).
    ``state_in`` is loaded before the first call; ``state_out`` is written after the last."""
    app = create_app(config)
    if state_in is not None:
        snapshot.load_file(app.state.emulator, state_in)
    server = _Server(_uvicorn_config(app, host, port))
    if on_ready is not None:
        threading.Thread(target=_announce, args=(server, host, on_ready), daemon=True).start()
    server.run()
    if state_out is not None:
        snapshot.dump_file(app.state.emulator, state_out)


def _announce(server: uvicorn.Server, host: str, on_ready: Callable[[str], None]) -> None:
    while not server.started:
        if server.should_exit:
            return
        time.sleep(0.01)
    on_ready(f"http://{host}:{_bound_port(server)}")


def _bound_port(server: uvicorn.Server) -> int:
    for srv in server.servers:
        for sock in srv.sockets:
            return int(sock.getsockname()[1])
    return int(server.config.port)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_emulator(config: EmulatorConfig, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Start uvicorn in a daemon thread, yield its base URL, stop it on exit."""
    server = _Server(_uvicorn_config(create_app(config), host, port or _free_port(host)))
    # uvicorn only captures signals on the main thread, so the caller keeps its own handlers.
    thread = threading.Thread(target=server.run, name="intercom-emulator", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the Intercom emulator failed to start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{_bound_port(server)}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
