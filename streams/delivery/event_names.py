"""The event-name guard's bookkeeping: which names hold one of the ``cap`` slots, and Intercom's refusals.

The executor asks ``reserve(name)`` *before* ``POST /events`` and sends only when it answers True, so
concurrent requests cannot both see a free slot and overshoot the cap (the old read-then-write after
the call lost updates). Two implementations with one interface:

- ``LocalEventNames``: one process, kept in a table (``event_names`` → ``{"names": [...]}``;
  ``event_name_refused:<name>`` → ``{"at", "message"}``); used in tests and without Kafka.
- ``streams.workspace.names.SharedEventNames``: the workspace topic, the same answer on every worker.
"""

from __future__ import annotations

import time
from collections.abc import Callable, MutableMapping
from typing import Any, Protocol

from streams.workspace.state import Refusal, event_name_key

__all__ = ["EVENT_NAMES_KEY", "EVENT_NAME_REFUSED", "EventNames", "LocalEventNames", "event_name_key"]

EVENT_NAMES_KEY = "event_names"
EVENT_NAME_REFUSED = "event_name_refused:"


class EventNames(Protocol):
    cap: int

    async def reserve(self, name: str) -> bool:
        """True when ``name`` holds a slot (reserving a free one if needed); False beyond the cap."""

    def taken(self) -> int:
        """How many slots are taken."""

    def refusal(self, name: str) -> Refusal | None:
        """Intercom's last 422 for ``name``, unless lifted since."""

    async def refuse(self, name: str, message: str) -> None:
        """Intercom refused ``name`` (120 active names)."""

    async def accept(self, name: str) -> None:
        """Intercom accepted an event named ``name``: lifts a refusal."""


class LocalEventNames:
    """One process's names, in a table. No await between reading and writing: no lost updates."""

    def __init__(
        self, table: MutableMapping[str, Any], cap: int, clock: Callable[[], float] = time.time
    ) -> None:
        self.table = table
        self.cap = cap
        self.clock = clock

    def _names(self) -> list[str]:
        return list((self.table.get(EVENT_NAMES_KEY) or {}).get("names", []))

    async def reserve(self, name: str) -> bool:
        names = self._names()
        if name in names:
            return True
        if len(names) >= self.cap:
            return False
        self.table[EVENT_NAMES_KEY] = {"names": [*names, name]}
        return True

    def taken(self) -> int:
        return len(self._names())

    def refusal(self, name: str) -> Refusal | None:
        entry = self.table.get(f"{EVENT_NAME_REFUSED}{name}")
        return None if not entry else Refusal(float(entry["at"]), str(entry.get("message", "")))

    async def refuse(self, name: str, message: str) -> None:
        # Intercom holds no slot for it: give ours back, so a later name (or this one) may use it.
        names = self._names()
        if name in names:
            self.table[EVENT_NAMES_KEY] = {"names": [n for n in names if n != name]}
        self.table[f"{EVENT_NAME_REFUSED}{name}"] = {"at": self.clock(), "message": message}

    async def accept(self, name: str) -> None:
        if self.table.get(f"{EVENT_NAME_REFUSED}{name}") is not None:
            del self.table[f"{EVENT_NAME_REFUSED}{name}"]
