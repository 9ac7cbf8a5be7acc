"""Added response time for realistic local runs (``--latency 80-250ms``)."""

from __future__ import annotations

import random
import re

_LATENCY_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:-\s*(\d+(?:\.\d+)?))?\s*(ms|s)?\s*$")


def parse_latency(text: str) -> tuple[float, float]:
    """ "150ms", "80-250ms", "0.2s", "0.1-0.4" (seconds) or "0"/"off" -> (min_s, max_s)."""
    if text.strip().lower() in ("off", "none", "0"):
        return 0.0, 0.0
    m = _LATENCY_RE.match(text)
    if not m:
        raise ValueError(f"invalid latency {text!r}; expected e.g. '150ms' or '80-250ms'")
    scale = 0.001 if m.group(3) == "ms" else 1.0
    low = float(m.group(1)) * scale
    high = float(m.group(2)) * scale if m.group(2) else low
    if high < low:
        raise ValueError(f"invalid latency {text!r}: the maximum is below the minimum")
    return low, high


class Latency:
    """Seconds to wait before answering one call: uniform between min and max (seeded)."""

    def __init__(self, min_s: float, max_s: float, seed: int | None = None) -> None:
        self.configure(min_s, max_s)
        self._rng = random.Random(seed)

    def configure(self, min_s: float, max_s: float) -> None:
        if not 0 <= min_s <= max_s:
            raise ValueError("latency must satisfy 0 <= min <= max")
        self.min_s, self.max_s = min_s, max_s

    def next(self) -> float:
        if self.max_s <= 0:
            return 0.0
        return self._rng.uniform(self.min_s, self.max_s)
