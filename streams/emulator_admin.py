"""A tiny client of the emulator's admin surface (``/_emulator/...``), for the sandbox and the tests."""

from __future__ import annotations

import json
import urllib.request
from typing import Any


class EmulatorAdmin:
    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token

    def _send(self, method: str, path: str, body: Any = None, auth: bool = False) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        request.add_header("Accept", "application/json")
        if auth:
            request.add_header("Authorization", f"Bearer {self._token}")
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        return list(self._send("GET", f"/_emulator/requests?since={since}")["requests"])

    def state(self) -> dict[str, Any]:
        return dict(self._send("GET", "/_emulator/state"))

    def reset(self) -> None:
        self._send("POST", "/_emulator/reset", {})

    def script_fault(self, **fault: Any) -> None:
        self._send("POST", "/_emulator/faults", fault)

    def clear_faults(self) -> None:
        self._send("DELETE", "/_emulator/faults")

    def configure(self, **config: Any) -> None:
        self._send("PUT", "/_emulator/config", config)

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """Call the emulated Intercom API itself (e.g. to set up a workspace's data attributes)."""
        return self._send(method, path, body, auth=True)

    def create_attribute(self, name: str, data_type: str = "string", model: str = "contact") -> None:
        self.api("POST", "/data_attributes", {"name": name, "model": model, "data_type": data_type})
