"""Emulator settings, shared by the CLI, the ASGI app and tests."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

SUPPORTED_VERSIONS = ("2.10", "2.16")

_RATE_RE = re.compile(r"^\s*(\d+)\s*(?:/\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min)?)?\s*$")


@dataclass
class EmulatorConfig:
    tokens: list[str] = field(default_factory=lambda: ["test-token"])
    rate_limit: int = 83
    rate_window_s: float = 10.0
    api_version: str = "2.10"
    search_lag_s: float = 0.0
    fault_rate: float = 0.0
    seed: int | None = None
    request_log_size: int = 10000
    workspace_id: str = "emul8tor"
    # False is faithful: Intercom never creates custom attributes from contact/company writes.
    auto_create_attributes: bool = False
    max_body_bytes: int = 1024 * 1024
    # Real clients must cope with both shapes of GET /companies?company_id=; "list" is what the spec says.
    company_lookup_shape: str = "list"
    # Added response time, uniform in [min, max] seconds (0 = answer at once).
    latency_min_s: float = 0.0
    latency_max_s: float = 0.0
    # Calls per window shared by the workspace's tokens; None = Intercom's 25,000/min divided into windows.
    workspace_rate_limit: int | None = None

    def __post_init__(self) -> None:
        if self.api_version not in SUPPORTED_VERSIONS:
            raise ValueError(f"api_version must be one of {SUPPORTED_VERSIONS}, got {self.api_version!r}")
        if self.rate_limit < 0 or self.rate_window_s <= 0:
            raise ValueError("rate_limit must be >= 0 and rate_window_s > 0")
        if not 0.0 <= self.fault_rate <= 1.0:
            raise ValueError("fault_rate must be between 0 and 1")
        if not 0 <= self.latency_min_s <= self.latency_max_s:
            raise ValueError("latency must satisfy 0 <= min <= max")
        if self.company_lookup_shape not in ("list", "single"):
            raise ValueError("company_lookup_shape must be 'list' or 'single'")


def parse_rate_limit(text: str) -> tuple[int, float]:
    """Parse "83/10s", "83" (10 s window), "10000/1m" (per minute: divided into 10 s windows as
    Intercom does, 1667/10s) or "off"/"0" (unlimited, returned as limit 0)."""
    if text.strip().lower() in ("off", "none", "unlimited", "0"):
        return 0, 10.0
    m = _RATE_RE.match(text)
    if not m:
        raise ValueError(f"invalid rate limit {text!r}; expected e.g. '83/10s' or 'off'")
    limit = int(m.group(1))
    window = float(m.group(2)) if m.group(2) else 10.0
    if m.group(3) in ("m", "min"):
        return math.ceil(limit * window / 6.0), 10.0
    if window <= 0:
        raise ValueError("rate window must be positive")
    return limit, window
