"""Intercom's `error.list` envelope and the exception handlers raise to produce it."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.responses import JSONResponse


class ApiError(Exception):
    """An Intercom-style error answer; raise it anywhere inside a route."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str | None,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}


def error_body(code: str, message: str | None, field: str | None = None) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        err["field"] = field
    return {"type": "error.list", "request_id": str(uuid.uuid4()), "errors": [err]}


def error_response(exc: ApiError) -> JSONResponse:
    return JSONResponse(
        error_body(exc.code, exc.message, exc.field), status_code=exc.status, headers=exc.headers
    )


def not_found(message: str = "Resource Not Found", code: str = "not_found") -> ApiError:
    return ApiError(404, code, message)


def contact_not_found() -> ApiError:
    return ApiError(404, "not_found", "Contact Not Found")


def user_not_found() -> ApiError:
    return ApiError(404, "not_found", "User Not Found")


def company_not_found() -> ApiError:
    return ApiError(404, "company_not_found", "Company Not Found")
