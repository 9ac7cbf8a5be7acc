"""The emulator for other code's tests: a server process on a free 127.0.0.1 port and a per-test
handle on a workspace of its own (the pytest plugin's fixtures are built from these two)."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streams.emulator_admin import EmulatorAdmin


class EmulatorNotStarted(RuntimeError):
    """The emulator process exited or printed no listening line in time (its log's tail says why)."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmulatorServer:
    """``python -m streams.emulator`` as a child process; ``token`` is its default workspace's."""

    def __init__(self, log_path: Path, args: Sequence[str] = (), token: str | None = None) -> None:
        self.token = token or f"tok_{secrets.token_hex(12)}"
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        argv = [sys.executable, "-m", "streams.emulator", "--port", str(self.port), "--token", self.token]
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*argv, *args], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=dict(os.environ), start_new_session=True,
            )  # fmt: skip
        self._wait_listening(timeout_s=30.0)

    def _wait_listening(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while "listening on" not in self.log_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise EmulatorNotStarted(f"the Intercom emulator did not start:\n{self.log_text()[-2000:]}")
            time.sleep(0.05)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    @property
    def admin(self) -> EmulatorAdmin:
        """The default workspace's admin client."""
        return EmulatorAdmin(self.base_url, self.token)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@dataclass(frozen=True)
class ContactView:
    """One contact as the workspace holds it, for assertions that read like the domain."""

    id: str
    role: str
    external_id: str | None
    email: str | None
    name: str | None
    custom_attributes: dict[str, Any]
    tag_ids: list[str]
    company_ids: list[str]
    archived: bool
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def of(cls, c: dict[str, Any]) -> ContactView:
        return cls(
            id=c["id"], role=c["role"], external_id=c.get("external_id"), email=c.get("email") or None,
            name=c.get("name"), custom_attributes=dict(c.get("custom_attributes") or {}),
            tag_ids=[t["id"] for t in c["tags"]["data"]],
            company_ids=[r["id"] for r in c["companies"]["data"]],
            archived=bool(c.get("archived")), raw=c,
        )  # fmt: skip


@dataclass(frozen=True)
class Call:
    """One Intercom API call the workspace answered (the request log's entry)."""

    seq: int
    method: str
    path: str
    query: str
    status: int
    request_body: Any
    response_body: Any

    @classmethod
    def of(cls, e: dict[str, Any]) -> Call:
        return cls(
            seq=e["seq"], method=e["method"], path=e["path"], query=e["query"], status=e["status"],
            request_body=e["request_body"], response_body=e["response_body"],
        )  # fmt: skip


class EmulatorHandle:
    """One test's Intercom: ``base_url`` and ``token`` for the code under test, ``admin`` for the rest.

    The token is the test's own, so its state, request log, faults and limits are nobody else's."""

    def __init__(self, admin: EmulatorAdmin) -> None:
        self.admin = admin
        self.base_url = admin.base_url
        self.token = admin.token

    def __repr__(self) -> str:  # never the token
        return f"EmulatorHandle({self.base_url!r})"

    # driving ---------------------------------------------------------------------------------
    def reset(self) -> None:
        self.admin.reset()

    def fail(
        self, path: str, status: int = 503, count: int = 1, *, method: str | None = None,
        kind: str = "status", delay_s: float = 0.0,
    ) -> None:  # fmt: skip
        """The next ``count`` calls to ``path`` ("/events", or "/contacts*" for a prefix) fail so."""
        fault: dict[str, Any] = {
            "path": path,
            "status": status,
            "count": count,
            "kind": kind,
            "delay_s": delay_s,
        }
        if method is not None:
            fault["method"] = method
        self.admin.script_fault(**fault)

    def rate_limit(self, limit: int, window_s: float = 10.0, *, workspace_limit: int | None = None) -> None:
        """``limit`` calls per window for the token (0 = unlimited), optionally a shared workspace cap."""
        settings: dict[str, Any] = {"rate_limit": limit, "rate_window_s": window_s}
        if workspace_limit is not None:
            settings["workspace_rate_limit"] = workspace_limit
        self.admin.configure(**settings)

    def search_lag(self, seconds: float) -> None:
        """A contact written now shows in ``/contacts/search`` only ``seconds`` later."""
        self.admin.configure(search_lag_s=seconds)

    def latency(self, min_s: float, max_s: float | None = None) -> None:
        self.admin.configure(latency_min_s=min_s, latency_max_s=min_s if max_s is None else max_s)

    def create_attribute(self, name: str, data_type: str = "string", model: str = "contact") -> None:
        self.admin.create_attribute(name, data_type, model)

    def load_state(self, state: dict[str, Any] | Path) -> None:
        """Start from a workspace snapshot (a dict or a file in ``GET /_emulator/state``'s shape)."""
        import json

        self.admin.load_state(json.loads(state.read_text()) if isinstance(state, Path) else state)

    def dump_state(self, path: Path) -> None:
        self.admin.dump_state(path)

    # reading ---------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return self.admin.state()

    def requests(self, path: str | None = None, method: str | None = None) -> list[Call]:
        calls = [Call.of(e) for e in self.admin.requests()]
        return [
            c for c in calls
            if (path is None or c.path == path) and (method is None or c.method == method.upper())
        ]  # fmt: skip

    def contacts(self) -> list[ContactView]:
        return [ContactView.of(c) for c in self.state()["contacts"]]

    def contact(self, *, external_id: str | None = None, email: str | None = None) -> ContactView:
        """The one contact with this external_id (or email); AssertionError naming what exists if none."""
        if (external_id is None) == (email is None):
            raise TypeError("give exactly one of external_id= or email=")
        contacts = self.contacts()
        for c in contacts:
            if (external_id is not None and c.external_id == external_id) or (
                email is not None and c.email is not None and c.email.lower() == email.lower()
            ):
                return c
        known = [c.external_id or c.email or c.id for c in contacts]
        raise AssertionError(
            f"no contact with external_id={external_id!r} email={email!r}; there are {known}"
        )

    def companies(self) -> list[dict[str, Any]]:
        return list(self.state()["companies"])

    def company(self, company_id: str) -> dict[str, Any]:
        companies = self.companies()
        for co in companies:
            if co["company_id"] == company_id:
                return co
        raise AssertionError(f"no company {company_id!r}; there are {[co['company_id'] for co in companies]}")

    def events(self, user_id: str | None = None) -> list[dict[str, Any]]:
        """Stored events (duplicates are not stored), optionally only one user's."""
        return [e for e in self.state()["events"] if user_id is None or e["user_id"] == user_id]

    def event_names(self, user_id: str | None = None) -> list[str]:
        return [e["event_name"] for e in self.events(user_id)]
