"""The only module that speaks HTTP to Intercom (httpx). One shared client, keep-alive, timeouts."""

from __future__ import annotations

import json
from typing import Any

import httpx

from streams.errors import RetryableDeliveryError
from streams.intercom.responses import classify
from streams.observability.metrics import observe_request

USER_AGENT = "intercom-stream/0.1"


class IntercomClient:
    """Calls Intercom and raises the DeliveryError subclass ``classify`` picks for a failure.

    The token lives only in the client's default headers: it is never part of a message,
    an exception or a log line.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        api_version: str,
        *,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
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

    @observe_request  # metrics: requests, latency, in-flight, 429s; clears the auth pause on success
    async def request(self, method: str, path: str, body: Any = None) -> Any:
        what = f"{method} {path}"
        try:
            response = await self._http.request(
                method, path, content=None if body is None else json.dumps(body, separators=(",", ":"))
            )
        except httpx.TimeoutException:
            raise RetryableDeliveryError(f"Intercom did not answer in time ({what})") from None
        except httpx.TransportError as exc:
            raise RetryableDeliveryError(f"could not reach Intercom: {type(exc).__name__} ({what})") from None
        self.last_status = response.status_code
        self.last_rate_headers = {
            k: v for k, v in response.headers.items() if k.lower().startswith("x-ratelimit-")
        }
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
