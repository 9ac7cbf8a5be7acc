"""A typed client of the emulator's admin surface (``/_emulator/...``), for the sandbox and the tests.

Admin calls carry the client's token, which selects the workspace they read or change: a
configured token means the emulator's default workspace, a token from ``create_workspace`` its own.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


class EmulatorAdminError(RuntimeError):
    """The emulator refused an admin call (its message says why)."""


class EmulatorAdmin:
    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token

    def __repr__(self) -> str:  # never the token
        return f"EmulatorAdmin({self.base_url!r})"

    def _send(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        request.add_header("Accept", "application/json")
        request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")
            raise EmulatorAdminError(f"{method} {path} answered {exc.code}: {detail}") from None
        return json.loads(raw) if raw else None

    # workspaces ------------------------------------------------------------------------------
    def create_workspace(self, token: str | None = None) -> EmulatorAdmin:
        """A new isolated workspace; the returned client (and its ``token``) address only it."""
        made = self._send("POST", "/_emulator/workspaces", {"token": token} if token else {})
        return EmulatorAdmin(self.base_url, str(made["token"]))

    def delete_workspace(self) -> None:
        """Drop this client's workspace: its token answers 401 from now on."""
        self._send("DELETE", "/_emulator/workspace")

    # reading ---------------------------------------------------------------------------------
    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        return list(self._send("GET", f"/_emulator/requests?since={since}")["requests"])

    def state(self) -> dict[str, Any]:
        return dict(self._send("GET", "/_emulator/state"))

    def faults(self) -> list[dict[str, Any]]:
        return list(self._send("GET", "/_emulator/faults")["faults"])

    def config(self) -> dict[str, Any]:
        return dict(self._send("GET", "/_emulator/config"))

    # changing --------------------------------------------------------------------------------
    def reset(self) -> None:
        self._send("POST", "/_emulator/reset", {})

    def load_state(self, state: dict[str, Any]) -> dict[str, Any]:
        """Replace the workspace by ``state`` (the shape ``state()`` returns); answers the new state."""
        return dict(self._send("PUT", "/_emulator/state", state))

    def dump_state(self, path: Path) -> None:
        path.write_text(json.dumps(self.state(), indent=2, sort_keys=True) + "\n")

    def script_fault(self, **fault: Any) -> None:
        self._send("POST", "/_emulator/faults", fault)

    def clear_faults(self) -> None:
        self._send("DELETE", "/_emulator/faults")

    def configure(self, **config: Any) -> dict[str, Any]:
        return dict(self._send("PUT", "/_emulator/config", config))

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """Call the emulated Intercom API itself (e.g. to set up a workspace's data attributes)."""
        return self._send(method, path, body)

    def create_attribute(self, name: str, data_type: str = "string", model: str = "contact") -> None:
        self.api("POST", "/data_attributes", {"name": name, "model": model, "data_type": data_type})
