"""The emulator's own control surface under /_emulator (no auth, not part of Intercom)."""

from __future__ import annotations

import math
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from streams.emulator import snapshot
from streams.emulator.faults import KINDS, Fault
from streams.emulator.runtime import Emulator
from streams.emulator.validation import loads
from streams.emulator.workspaces import Workspaces


def _emu(request: Request) -> Emulator:
    # The workspace the middleware picked by token; the default one for in-process callers.
    emu: Emulator = request.scope.get("state", {}).get("emulator") or request.app.state.emulator
    return emu


def _bad(message: str) -> Response:
    return JSONResponse({"error": message}, status_code=400)


async def _json(request: Request) -> Any:
    try:
        return loads(await request.body() or b"{}")
    except ValueError:
        return None


async def requests(request: Request) -> Response:
    try:
        since = int(request.query_params.get("since", "0"))
    except ValueError:
        return _bad("since must be an integer")
    return JSONResponse({"requests": _emu(request).log.since(since)})


async def reset(request: Request) -> Response:
    _emu(request).reset()
    return JSONResponse({"reset": True})


async def state(request: Request) -> Response:
    emu = _emu(request)
    if request.method == "PUT":
        try:
            snapshot.load(emu, await _json(request))
        except snapshot.SnapshotError as exc:
            return _bad(str(exc))
    return JSONResponse(snapshot.dump(emu))


async def create_workspace(request: Request) -> Response:
    """A workspace of its own for a new token (given, or made up here): isolated state and log."""
    body = await _json(request)
    if not isinstance(body, dict):
        return _bad("body must be a JSON object")
    token = body.get("token") or f"tok_{secrets.token_hex(12)}"
    if not isinstance(token, str) or not token.strip() or " " in token:
        return _bad("token must be a non-empty string without spaces")
    workspaces: Workspaces = request.app.state.workspaces
    try:
        workspace = workspaces.create(token)
    except ValueError as exc:
        return _bad(str(exc))
    return JSONResponse({"token": token, "workspace_id": workspace.config.workspace_id})


async def delete_workspace(request: Request) -> Response:
    """Drop the bearer token's workspace: the token answers 401 from now on."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    workspaces: Workspaces = request.app.state.workspaces
    try:
        removed = workspaces.revoke(token.strip()) if scheme.lower() == "bearer" else False
    except ValueError as exc:
        return _bad(str(exc))
    if not removed:
        return JSONResponse({"error": "no workspace has this token"}, status_code=404)
    return JSONResponse({"deleted": True})


async def add_fault(request: Request) -> Response:
    body = await _json(request)
    if not isinstance(body, dict) or not isinstance(body.get("path"), str):
        return _bad("body must be an object with a 'path'")
    kind = body.get("kind", "status")
    if kind not in KINDS:
        return _bad(f"kind must be one of {KINDS}")
    try:
        count = int(body.get("count", 1))
        status = int(body.get("status", 503))
        delay = float(body.get("delay_s", 0) or 0)
    except (TypeError, ValueError):
        return _bad("count, status and delay_s must be numbers")
    if count < 1 or not 0 <= delay < math.inf or not 100 <= status <= 599:
        return _bad("count must be >= 1, delay_s >= 0 and status a valid HTTP status")
    method = body.get("method")
    emu = _emu(request)
    emu.faults.script(
        body["path"], method if isinstance(method, str) else None, count, Fault(kind, status, delay)
    )
    return JSONResponse({"faults": emu.faults.scripted()})


async def list_faults(request: Request) -> Response:
    return JSONResponse({"faults": _emu(request).faults.scripted()})


async def clear_faults(request: Request) -> Response:
    _emu(request).faults.clear()
    return JSONResponse({"faults": []})


async def config(request: Request) -> Response:
    emu = _emu(request)
    if request.method == "PUT":
        body = await _json(request)
        if not isinstance(body, dict):
            return _bad("body must be a JSON object")
        known = {
            "rate_limit",
            "rate_window_s",
            "search_lag_s",
            "fault_rate",
            "auto_create_attributes",
            "company_lookup_shape",
            "latency_min_s",
            "latency_max_s",
            "workspace_rate_limit",
        }
        unknown = set(body) - known
        if unknown:
            return _bad(f"unknown settings: {sorted(unknown)}")
        try:
            if "rate_limit" in body or "rate_window_s" in body:
                limit = int(body.get("rate_limit", emu.rate_limiter.limit))
                window = float(body.get("rate_window_s", emu.rate_limiter.window_s))
                if limit < 0 or not 0 < window < math.inf:
                    return _bad("rate_limit must be >= 0 and rate_window_s > 0")
                emu.rate_limiter.configure(limit=limit, window_s=window)
                emu.config.rate_limit, emu.config.rate_window_s = limit, window
            if "workspace_rate_limit" in body:
                shared = int(body["workspace_rate_limit"])
                if shared < 0:
                    return _bad("workspace_rate_limit must be >= 0")
                emu.rate_limiter.configure(workspace_limit=shared)
                emu.config.workspace_rate_limit = shared
            if "latency_min_s" in body or "latency_max_s" in body:
                low = float(body.get("latency_min_s", emu.latency.min_s))
                high = float(body.get("latency_max_s", max(low, emu.latency.max_s)))
                if not 0 <= low <= high < math.inf:
                    return _bad("latency must satisfy 0 <= latency_min_s <= latency_max_s")
                emu.latency.configure(low, high)
                emu.config.latency_min_s, emu.config.latency_max_s = low, high
            if "search_lag_s" in body:
                lag = float(body["search_lag_s"])
                if not 0 <= lag < math.inf:
                    return _bad("search_lag_s must be a finite number >= 0")
                emu.set_search_lag(lag)
            if "fault_rate" in body:
                rate = float(body["fault_rate"])
                if not 0 <= rate <= 1:
                    return _bad("fault_rate must be between 0 and 1")
                emu.set_fault_rate(rate)
            if "auto_create_attributes" in body:
                emu.config.auto_create_attributes = bool(body["auto_create_attributes"])
            if "company_lookup_shape" in body:
                if body["company_lookup_shape"] not in ("list", "single"):
                    return _bad("company_lookup_shape must be 'list' or 'single'")
                emu.config.company_lookup_shape = body["company_lookup_shape"]
        except (TypeError, ValueError):
            return _bad("settings must be numbers")
    c = emu.config
    return JSONResponse(
        {
            "rate_limit": c.rate_limit,
            "rate_window_s": c.rate_window_s,
            "search_lag_s": c.search_lag_s,
            "fault_rate": c.fault_rate,
            "api_version": c.api_version,
            "auto_create_attributes": c.auto_create_attributes,
            "company_lookup_shape": c.company_lookup_shape,
            "latency_min_s": c.latency_min_s,
            "latency_max_s": c.latency_max_s,
            "workspace_rate_limit": emu.rate_limiter.workspace_limit,
        }
    )


routes = [
    Route("/_emulator/requests", requests, methods=["GET"]),
    Route("/_emulator/reset", reset, methods=["POST"]),
    Route("/_emulator/state", state, methods=["GET", "PUT"]),
    Route("/_emulator/workspaces", create_workspace, methods=["POST"]),
    Route("/_emulator/workspace", delete_workspace, methods=["DELETE"]),
    Route("/_emulator/faults", add_fault, methods=["POST"]),
    Route("/_emulator/faults", list_faults, methods=["GET"]),
    Route("/_emulator/faults", clear_faults, methods=["DELETE"]),
    Route("/_emulator/config", config, methods=["GET", "PUT"]),
]
