"""Per-request helpers shared by the route modules."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from streams.emulator import validation
from streams.emulator.errors import ApiError
from streams.emulator.runtime import Emulator
from streams.emulator.store import Store


def emulator(request: Request) -> Emulator:
    # The workspace the middleware picked by token; the default one for in-process callers.
    emu: Emulator = request.scope.get("state", {}).get("emulator") or request.app.state.emulator
    return emu


def store(request: Request) -> Store:
    return emulator(request).store


def version(request: Request) -> str:
    return str(request.scope.get("state", {}).get("intercom_version") or emulator(request).config.api_version)


def require_version(request: Request, minimum: str) -> None:
    if version(request) != minimum:
        raise ApiError(
            400, "intercom_version_invalid", "Requested resource is not available in current API version."
        )


async def body(request: Request, *, validate: bool = True) -> Any:
    """Parse the JSON body and (unless a route has checks to run first) validate it against this
    operation's request schema."""
    data = validation.parse_json(await request.body())
    if validate:
        check(request, data)
    return data


def check(request: Request, data: Any) -> None:
    validation.validate_operation_body(version(request), request.method, request.url.path, data)


def json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(data, status_code=status, headers=headers)


def query_int(request: Request, name: str, default: int, *, lo: int = 1, hi: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "parameter_invalid", f"{name} must be an integer", field=name) from None
    if value < lo or (hi is not None and value > hi):
        bound = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
        raise ApiError(400, "parameter_invalid", f"{name} must be {bound}", field=name)
    return value
