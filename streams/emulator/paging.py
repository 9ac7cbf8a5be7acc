"""Opaque cursors and page envelopes (Intercom's `cursor_pages`)."""

from __future__ import annotations

import base64
import json
from typing import Any, TypeVar

from streams.emulator.errors import ApiError

T = TypeVar("T")
MAX_PER_PAGE = 150


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        offset = json.loads(base64.urlsafe_b64decode(padded))["o"]
        if not isinstance(offset, int) or offset < 0:
            raise ValueError
        return offset
    except (ValueError, KeyError, TypeError):
        raise ApiError(
            400, "parameter_invalid", "starting_after is not a valid cursor", field="starting_after"
        ) from None


def cursor_page(items: list[T], per_page: int, starting_after: str | None) -> tuple[list[T], dict[str, Any]]:
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    offset = decode_cursor(starting_after)
    chunk = items[offset : offset + per_page]
    total_pages = max(1, -(-len(items) // per_page))
    pages: dict[str, Any] = {
        "type": "pages",
        "page": offset // per_page + 1,
        "per_page": per_page,
        "total_pages": total_pages,
    }
    if offset + per_page < len(items):
        pages["next"] = {"per_page": per_page, "starting_after": encode_cursor(offset + per_page)}
    return chunk, pages


def numbered_page(items: list[T], page: int, per_page: int) -> tuple[list[T], dict[str, Any]]:
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    chunk = items[(page - 1) * per_page : page * per_page]
    total_pages = max(1, -(-len(items) // per_page))
    return chunk, {"type": "pages", "page": page, "per_page": per_page, "total_pages": total_pages}
