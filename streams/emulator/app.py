"""The ASGI application: routes, Intercom-style error handling and the intercepting middleware."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from streams.emulator import admin
from streams.emulator.clock import Clock, system_clock
from streams.emulator.config import EmulatorConfig
from streams.emulator.errors import ApiError, error_body, error_response
from streams.emulator.middleware import ADMIN_PREFIX, InterceptMiddleware
from streams.emulator.routes import companies, contacts, data_attributes, events, me, tags
from streams.emulator.workspaces import Workspaces


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith(ADMIN_PREFIX):
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
    if exc.status_code in (404, 405):
        # Intercom answers 404 both for unknown paths and for methods a path does not support.
        message = "Resource Not Found" if exc.status_code == 404 else f"Unsupported method {request.method}"
        return JSONResponse(error_body("not_found", message), status_code=404)
    return JSONResponse(error_body("client_error", str(exc.detail)), status_code=exc.status_code)


async def _crash(request: Request, exc: Exception) -> Response:
    # A bug in the emulator: still answer in Intercom's envelope so clients parse it.
    return JSONResponse(error_body("server_error", f"Emulator error: {type(exc).__name__}"), status_code=500)


def create_app(config: EmulatorConfig | None = None, *, clock: Clock = system_clock) -> Starlette:
    workspaces = Workspaces(config or EmulatorConfig(), clock=clock)
    routes = [
        *admin.routes,
        *me.routes,
        *contacts.routes,
        *companies.routes,
        *tags.routes,
        *events.routes,
        *data_attributes.routes,
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(InterceptMiddleware, workspaces=workspaces)],
        exception_handlers={ApiError: _api_error, HTTPException: _http_error, Exception: _crash},
    )
    app.state.emulator = workspaces.default  # the configured tokens' workspace
    app.state.workspaces = workspaces
    return app
