"""Intercom's REST API: the client, response classification and the rate budget."""

from streams.intercom.client import IntercomClient
from streams.intercom.gate import RateLimitGate
from streams.intercom.ratelimit import SlidingWindowLimiter
from streams.intercom.responses import classify

__all__ = ["IntercomClient", "RateLimitGate", "SlidingWindowLimiter", "classify"]
