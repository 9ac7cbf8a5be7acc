"""A stateful, in-memory emulator of the Intercom REST API (versions 2.10 and 2.16)."""

from streams.emulator.config import EmulatorConfig, parse_rate_limit

__all__ = ["EmulatorConfig", "parse_rate_limit"]
