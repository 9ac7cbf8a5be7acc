"""The emulator's own control surface under /_emulator (no auth, not part of Intercom)."""

from __future__ import annotations

import math
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from streams.emulator import render
from streams.emulator.faults import KINDS, Fault
from streams.emulator.runtime import Emulator
from streams.emulator.validation import loads


def _emu(request: Request) -> Emulator:
    emu: Emulator = request.app.state.emulator
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
    store = emu.store
    version = emu.config.api_version
    with store.lock:
        return JSONResponse(
            {
                "contacts": [
                    {**render.contact(c, store, version, emu.config.workspace_id), "archived": c.archived}
                    for c in store.contacts.values()
                ],
                "companies": [
                    render.company(co, store, emu.config.workspace_id) for co in store.companies.values()
                ],
                "events": [render.event(e) for e in store.events],
                "tags": [render.tag_basic(t) for t in store.tags.values()],
                "data_attributes": [render.data_attribute(a) for a in store.data_attributes.values()],
                "merged": {k: v.into for k, v in store.merged.items()},
            }
        )


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
        }
    )


routes = [
    Route("/_emulator/requests", requests, methods=["GET"]),
    Route("/_emulator/reset", reset, methods=["POST"]),
    Route("/_emulator/state", state, methods=["GET"]),
    Route("/_emulator/faults", add_fault, methods=["POST"]),
    Route("/_emulator/faults", list_faults, methods=["GET"]),
    Route("/_emulator/faults", clear_faults, methods=["DELETE"]),
    Route("/_emulator/config", config, methods=["GET", "PUT"]),
]
