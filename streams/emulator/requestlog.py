"""A bounded log of Intercom API calls, for tests and the admin surface."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any


class RequestLog:
    def __init__(self, size: int) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=max(size, 1))
        self._seq = 0
        self._lock = threading.Lock()

    def append(self, entry: dict[str, Any]) -> int:
        with self._lock:
            self._seq += 1
            entry["seq"] = self._seq
            self._entries.append(entry)
            return self._seq

    def since(self, seq: int) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self._entries if e["seq"] > seq]

    def clear(self) -> None:
        # seq keeps counting so a reader's `since` cursor never sees old numbers reused.
        with self._lock:
            self._entries.clear()
