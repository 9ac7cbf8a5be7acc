"""Workspaces keyed by access token: each has its own contacts, request log, faults and limits.

The configured tokens share the first workspace (as apps of one Intercom workspace do); a token
added through the admin API gets a workspace of its own, so a test that uses its own token sees
only its own calls and state, whatever an earlier test's worker still sends with another token.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading

from streams.emulator.clock import Clock
from streams.emulator.config import EmulatorConfig
from streams.emulator.runtime import Emulator


class Workspaces:
    def __init__(self, config: EmulatorConfig, clock: Clock) -> None:
        self._config = dataclasses.replace(config, tokens=[])  # the settings new workspaces start from
        self.default = Emulator(config, clock=clock)
        self._lock = threading.Lock()
        self._own: dict[str, Emulator] = {}

    def _now(self) -> float:
        # Every workspace follows the default's clock, which tests may swap (emu.clock = FakeClock()).
        return self.default.clock()

    def get(self, token: str) -> Emulator | None:
        if token in self.default.config.tokens:
            return self.default
        with self._lock:
            return self._own.get(token)

    def create(self, token: str) -> Emulator:
        """A fresh workspace answering only ``token`` (an existing one for that token is replaced)."""
        if token in self.default.config.tokens:
            raise ValueError("token belongs to the default workspace")
        config = dataclasses.replace(self._config, tokens=[token], workspace_id=_workspace_id(token))
        workspace = Emulator(config, clock=self._now)
        with self._lock:
            self._own[token] = workspace
        return workspace

    def revoke(self, token: str) -> bool:
        """The token answers 401 from now on; its workspace's state is dropped."""
        if token in self.default.config.tokens:
            raise ValueError("token belongs to the default workspace")
        with self._lock:
            return self._own.pop(token, None) is not None

    def count(self) -> int:
        with self._lock:
            return len(self._own)


def _workspace_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:8]
