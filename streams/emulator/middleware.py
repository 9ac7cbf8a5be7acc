"""Cross-cutting Intercom behaviour for every API call: body cap, auth, rate limit, version,
injected faults and the request log. Admin routes (/_emulator/...) bypass all of it."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from streams.emulator.config import SUPPORTED_VERSIONS
from streams.emulator.errors import error_body
from streams.emulator.faults import Fault
from streams.emulator.ratelimit import Decision
from streams.emulator.runtime import Emulator
from streams.emulator.spec import KNOWN_VERSIONS
from streams.emulator.validation import loads
from streams.emulator.workspaces import Workspaces

ADMIN_PREFIX = "/_emulator"
WORKSPACES_PATH = ADMIN_PREFIX + "/workspaces"
_LOG_BODY_LIMIT = 64 * 1024


class _BodyTooLarge(Exception):
    pass


class _ClientGone(Exception):
    """The client disconnected before its body was complete: a real server never sees the request."""


# What the request log shows for a request whose client went away mid-body (nginx's convention).
CLIENT_CLOSED_REQUEST = 499


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _loggable(raw: bytes) -> Any:
    if not raw:
        return None
    if len(raw) > _LOG_BODY_LIMIT:
        return f"<{len(raw)} bytes not logged>"
    try:
        return loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


class _Replay:
    """The request body read once (for the log and the size cap), handed to the app again."""

    def __init__(self, raw: bytes, receive: Receive) -> None:
        self._raw: bytes | None = raw
        self._receive = receive

    async def __call__(self) -> Message:
        if self._raw is None:
            return await self._receive()
        raw, self._raw = self._raw, None
        return {"type": "http.request", "body": raw, "more_body": False}


class _Exchange:
    """One API call: its request-log entry, the captured answer, and the rate headers it carries."""

    def __init__(self, emu: Emulator, scope: Scope, receive: Receive, send: Send) -> None:
        self.emu, self.scope, self._receive, self._send = emu, scope, receive, send
        self.entry: dict[str, Any] = {
            "time": emu.clock(),
            "method": scope["method"],
            "path": scope["path"],
            "query": scope.get("query_string", b"").decode("latin-1"),
            "status": 0,
            "request_body": None,
            "response_body": None,
        }
        self.decision: Decision | None = None
        self._captured: list[bytes] = []

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.entry["status"] = message["status"]
            if self.decision is not None:
                headers = list(message.get("headers", []))
                headers += [(k.lower().encode(), v.encode()) for k, v in self.decision.headers().items()]
                message = {**message, "headers": headers}
        elif message["type"] == "http.response.body":
            self._captured.append(message.get("body", b""))
        await self._send(message)

    async def reply(self, status: int, body: Any) -> None:
        await JSONResponse(body, status_code=status)(self.scope, self._receive, self.send)

    async def read_body(self) -> bytes | None:
        """The whole body, or None when the call is already answered (too large, client gone)."""
        limit = self.emu.config.max_body_bytes
        try:
            raw = await _read_body(self._receive, limit)
        except _BodyTooLarge:
            self.entry["request_body"] = "<body over size limit>"
            message = f"Request body is larger than the limit of {limit} bytes"
            await self.reply(413, error_body("request_too_large", message))
            return None
        except _ClientGone:
            self.entry["status"], self.entry["request_body"] = CLIENT_CLOSED_REQUEST, None
            return None  # nothing to answer, nothing changed
        self.entry["request_body"] = _loggable(raw)
        return raw

    async def admit(self, token: str) -> bool:
        """Rate limit and Intercom-Version; False when the call was refused (and answered)."""
        emu = self.emu
        self.decision = emu.rate_limiter.hit(token)
        if self.decision is not None and not self.decision.allowed:
            window = f"{emu.rate_limiter.window_s:g}_seconds"
            message = f"Exceeded rate limit of {self.decision.limit} in {window}"
            await self.reply(429, error_body("rate_limit_exceeded", message))
            return False
        version = _header(self.scope, b"intercom-version") or emu.config.api_version
        if version not in SUPPORTED_VERSIONS:
            message = (
                f"Intercom-Version {version} is not emulated; use one of {', '.join(SUPPORTED_VERSIONS)}"
                if version in KNOWN_VERSIONS
                else "The requested version is not valid."
            )
            await self.reply(400, error_body("intercom_version_invalid", message))
            return False
        self.scope.setdefault("state", {})["intercom_version"] = version
        return True

    def finish(self) -> None:
        body = b"".join(self._captured)
        self.entry["response_body"] = _loggable(body) if body else None
        self.emu.log.append(self.entry)


def _bearer(scope: Scope) -> str | None:
    scheme, _, token = (_header(scope, b"authorization") or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class InterceptMiddleware:
    """Picks the workspace by the bearer token (admin calls too: none means the default one)."""

    def __init__(self, app: ASGIApp, workspaces: Workspaces) -> None:
        self.app = app
        self.workspaces = workspaces

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _bearer(scope)
        workspace = self.workspaces.get(token) if token else None
        if scope["path"].startswith(ADMIN_PREFIX):
            if token and workspace is None and scope["path"] != WORKSPACES_PATH:
                await JSONResponse({"error": "no workspace has this token"}, status_code=404)(
                    scope, receive, send
                )
                return
            scope.setdefault("state", {})["emulator"] = workspace or self.workspaces.default
            await self.app(scope, receive, send)
            return
        await self._api_call(scope, receive, send, token, workspace)

    async def _api_call(
        self, scope: Scope, receive: Receive, send: Send, token: str | None, workspace: Emulator | None
    ) -> None:
        # Calls without a known token are logged in the default workspace, never in another's.
        emu = workspace or self.workspaces.default
        call = _Exchange(emu, scope, receive, send)
        try:
            raw = await call.read_body()
            if raw is None:
                return
            delay = emu.latency.next()
            if delay > 0:
                await asyncio.sleep(delay)
            if token is None or workspace is None:
                await call.reply(401, error_body("unauthorized", "Access Token Invalid"))
                return
            scope.setdefault("state", {})["emulator"] = workspace
            if not await call.admit(token):
                return
            fault = emu.faults.next_fault(scope["method"], scope["path"])
            if fault is not None:
                if fault.kind != "slow":
                    call.decision = None
                if await self._inject(fault, scope, call.send, call.entry):
                    return
            await self.app(scope, _Replay(raw, receive), call.send)
        finally:
            call.finish()

    async def _inject(self, fault: Fault, scope: Scope, send: Send, entry: dict[str, Any]) -> bool:
        """Apply a fault; True if it replaced the answer. Injected answers carry no rate headers:
        they model a gateway in front of Intercom, not Intercom itself."""
        if fault.delay_s > 0 or fault.kind == "timeout":
            await asyncio.sleep(fault.delay_s if fault.delay_s > 0 else 30.0)
        if fault.kind == "slow":
            return False
        if fault.kind == "drop":
            # Headers promise a body that never comes; the server then closes the connection.
            await send(
                {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"64")]}
            )
            await send({"type": "http.response.body", "body": b"{", "more_body": True})
            entry["status"] = 0
            return True
        status = 504 if fault.kind == "timeout" else fault.status
        await JSONResponse(
            error_body("server_error" if status < 502 else "service_unavailable", "Injected fault"),
            status_code=status,
        )(scope, _no_body, send)
        return True


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}
