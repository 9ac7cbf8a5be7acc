"""The only module that speaks HTTP to Intercom (httpx). One shared client, keep-alive, timeouts."""

from __future__ import annotations

import json
from typing import Any

import httpx

from streams.errors import RetryableDeliveryError
from streams.intercom.gate import RateLimitGate
from streams.intercom.responses import classify
from streams.observability.health import HealthState
from streams.observability.metrics import observe_request

USER_AGENT = "intercom-stream/0.1"


class IntercomClient:
    """Calls Intercom and raises the DeliveryError subclass ``classify`` picks for a failure.

    The token lives only in the client's default headers: it is never part of a message,
    an exception or a log line.

    Every call first passes ``gate``, the app-wide pacing by Intercom's ``X-RateLimit-*`` headers
    (one per client, i.e. per token, shared by every partition using the client); every answer's
    headers update it. ``adapt_to_rate_headers=False`` turns it off.

    ``health`` (the worker's): any answer but 401/403 ends its auth pause.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        api_version: str,
        *,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        gate: RateLimitGate | None = None,
        adapt_to_rate_headers: bool = True,
        health: HealthState | None = None,
    ) -> None:
        self.health = health
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={
                "Authorization": f"Bearer {token}",
                "Intercom-Version": api_version,
                "Accept": "application/json",
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
            },
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0)),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
            transport=transport,
        )
        self.last_rate_headers: dict[str, str] = {}
        self.gate = gate if gate is not None else (RateLimitGate() if adapt_to_rate_headers else None)

    async def request(self, method: str, path: str, body: Any = None) -> Any:
        if self.gate is None:
            return await self._send(method, path, body)
        await self.gate.acquire()  # outside the metrics: a held call is not yet in flight
        try:
            return await self._send(method, path, body)
        finally:
            self.gate.finished()

    @observe_request  # metrics: requests, latency, in-flight, 429s; clears the auth pause on success
    async def _send(self, method: str, path: str, body: Any = None) -> Any:
        what = f"{method} {path}"
        try:
            response = await self._http.request(
                method,
                path,
                content=None if body is None else json.dumps(body, separators=(",", ":"), allow_nan=False),
            )
        except httpx.TimeoutException as exc:
            # ``from None``: the httpx error holds the request, headers (the token) included.
            raise RetryableDeliveryError(
                f"Intercom did not answer in time: {type(exc).__name__} ({what})", cause=type(exc).__name__
            ) from None
        except httpx.RequestError as exc:  # connection, protocol, decoding errors: no usable answer
            raise RetryableDeliveryError(
                f"could not reach Intercom: {type(exc).__name__} ({what})", cause=type(exc).__name__
            ) from None
        self.last_status = response.status_code
        self.last_rate_headers = {
            k: v for k, v in response.headers.items() if k.lower().startswith("x-ratelimit-")
        }
        if self.gate is not None:
            self.gate.update(response.headers)
        parsed = _json_or_none(response)
        error = classify(response.status_code, parsed, response.headers, what)
        if error is not None:
            raise error
        return parsed

    async def aclose(self) -> None:
        await self._http.aclose()


def _json_or_none(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return {"text": response.text[:500]}
