"""Injected failures: scripted ones for tests, and a seeded random share (--fault-rate)."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

KINDS = ("status", "timeout", "drop", "slow")
DEFAULT_TIMEOUT_S = 30.0


@dataclass
class Fault:
    kind: str  # status: answer `status`; timeout: stall then 504; drop: cut the connection; slow: delay only
    status: int = 503
    delay_s: float = 0.0


@dataclass
class ScriptedFault:
    path: str
    method: str | None
    remaining: int
    fault: Fault

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.path.endswith("*"):
            return path.startswith(self.path[:-1])
        return path == self.path


class Faults:
    def __init__(self, rate: float = 0.0, seed: int | None = None) -> None:
        self.rate = rate
        self._seed = seed
        self._rng = random.Random(seed)
        self._scripted: list[ScriptedFault] = []
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._scripted.clear()
            self._rng = random.Random(self._seed)

    def script(self, path: str, method: str | None, count: int, fault: Fault) -> None:
        with self._lock:
            self._scripted.append(ScriptedFault(path, method, count, fault))

    def clear(self) -> None:
        with self._lock:
            self._scripted.clear()

    def scripted(self) -> list[dict[str, object]]:
        with self._lock:
            return [
                {
                    "path": s.path,
                    "method": s.method,
                    "remaining": s.remaining,
                    "kind": s.fault.kind,
                    "status": s.fault.status,
                    "delay_s": s.fault.delay_s,
                }
                for s in self._scripted
            ]

    def next_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for s in self._scripted:
                if s.remaining > 0 and s.matches(method, path):
                    s.remaining -= 1
                    if s.remaining == 0:
                        self._scripted.remove(s)
                    return s.fault
            if self.rate <= 0 or self._rng.random() >= self.rate:
                return None
            roll = self._rng.random()
            if roll < 0.6:
                return Fault("status", self._rng.choice((500, 502, 503, 504)))
            if roll < 0.8:
                return Fault("slow", 200, round(self._rng.uniform(0.2, 1.5), 3))
            if roll < 0.9:
                return Fault("timeout", 504, DEFAULT_TIMEOUT_S)
            return Fault("drop", 0)
