"""The contact search query language (POST /contacts/search): parsing, type rules, evaluation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from streams.emulator.errors import ApiError
from streams.emulator.models import Contact
from streams.emulator.store import Store

Predicate = Callable[[Contact], bool]

MAX_DEPTH = 2
MAX_FILTERS = 15
_DATES = [
    "created_at",
    "signed_up_at",
    "updated_at",
    "last_seen_at",
    "last_contacted_at",
    "last_replied_at",
    "last_email_opened_at",
    "last_email_clicked_at",
    "ios_last_seen_at",
    "android_last_seen_at",
]
_ALWAYS_NULL_STRINGS = [
    "browser",
    "browser_version",
    "browser_language",
    "os",
    "location.country",
    "location.region",
    "location.city",
    "ios_app_name",
    "ios_app_version",
    "ios_device",
    "ios_os_version",
    "ios_sdk_version",
    "android_app_name",
    "android_app_version",
    "android_device",
    "android_os_version",
    "android_sdk_version",
    "language_override",
]
_STRINGS = [
    "id",
    "role",
    "name",
    "avatar",
    "email",
    "email_domain",
    "phone",
    "external_id",
    *_ALWAYS_NULL_STRINGS,
]
_BOOLEANS = ["unsubscribed_from_emails", "marked_email_as_spam", "has_hard_bounced"]

# Which operators each field type accepts (intercom-api.md §2.4).
_OPERATORS = {
    "string": {"=", "!=", "IN", "NIN", "~", "!~", "^", "$"},
    "integer": {"=", "!=", "IN", "NIN", ">", "<", ">=", "<="},
    "float": {"=", "!=", "IN", "NIN", ">", "<", ">=", "<="},
    "boolean": {"=", "!=", "IN", "NIN"},
    "date": {"=", ">", "<"},
    "tag": {"=", "!="},
    "segment": {"=", "!=", "IN", "NIN"},
}


def _bad(message: str) -> ApiError:
    return ApiError(400, "parameter_invalid", message, field="query")


def field_type(store: Store, field: str, version: str) -> str:
    if field.startswith("custom_attributes."):
        attr = store.custom_attribute("contact", field.partition(".")[2])
        if attr is None:
            raise _bad(f"Custom attribute '{field.partition('.')[2]}' does not exist")
        return {"options": "string", "datetime": "date"}.get(attr.data_type, attr.data_type)
    if field in _DATES:
        return "date"
    if field in _STRINGS or (field == "formatted_phone" and version == "2.16"):
        return "string"
    if field in _BOOLEANS:
        return "boolean"
    if field == "owner_id":
        return "integer" if version == "2.10" else "string"
    if field == "tag_id":
        return "tag"
    if field == "segment_id":
        return "segment"
    raise _bad(f"'{field}' is not a searchable field")


def _value_of(c: Contact, field: str) -> Any:
    if field.startswith("custom_attributes."):
        return c.custom_attributes.get(field.partition(".")[2])
    if field == "email_domain":
        return c.email.partition("@")[2] if c.email and "@" in c.email else None
    if field == "formatted_phone":
        return c.phone
    if field in _BOOLEANS:
        return c.unsubscribed_from_emails if field == "unsubscribed_from_emails" else False
    return getattr(c, field, None)


def _type_ok(kind: str, value: Any) -> bool:
    if value is None:
        return True
    if kind in ("string", "tag", "segment"):
        return isinstance(value, str)
    if kind in ("integer", "float", "date"):
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, bool)


def _day_bounds(ts: int) -> tuple[int, int]:
    # The emulated workspace's timezone is UTC.
    try:
        day = dt.datetime.fromtimestamp(ts, tz=dt.UTC).date()
    except (OverflowError, OSError, ValueError):
        raise _bad(f"{ts} is not a valid timestamp") from None
    start = int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())
    return start, start + 86400


def _norm(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _single(store: Store, node: dict[str, Any], version: str) -> Predicate:
    field, op, value = node.get("field"), node.get("operator"), node.get("value")
    if not isinstance(field, str) or not isinstance(op, str) or "value" not in node:
        raise _bad("Each filter needs field, operator and value")
    kind = field_type(store, field, version)
    if op not in _OPERATORS[kind]:
        raise _bad(f"Operator '{op}' is not supported for field '{field}'")
    if op in ("IN", "NIN"):
        if not isinstance(value, list):
            raise _bad(f"Operator '{op}' needs an array value")
        if not all(v is not None and _type_ok(kind, v) for v in value):
            raise _bad(f"Values for field '{field}' must be of type {kind}")
    elif isinstance(value, list) or not _type_ok(kind, value):
        raise _bad(f"Value for field '{field}' must be of type {kind}")
    elif value is None and op not in ("=", "!="):
        raise _bad(f"Operator '{op}' does not accept null")

    if kind == "tag":
        return lambda c: (value in c.tags) == (op == "=")
    if kind == "segment":
        # No segments are emulated: membership is always false.
        return lambda c: op in ("!=", "NIN")
    if kind == "date" and isinstance(value, int):
        start, end = _day_bounds(value)
        if op == "=":
            return lambda c: (v := _value_of(c, field)) is not None and start <= v < end
        if op == ">":
            return lambda c: (v := _value_of(c, field)) is not None and v >= end
        return lambda c: (v := _value_of(c, field)) is not None and v < start
    target = _norm(value)
    targets = {_norm(v) for v in value} if isinstance(value, list) else set()

    def check(c: Contact) -> bool:
        actual = _norm(_value_of(c, field))
        if field == "owner_id" and actual is not None:
            actual = int(actual) if kind == "integer" else str(actual)
        if op == "=":
            return bool(actual == target)
        if op == "!=":
            return bool(actual != target)
        if op == "IN":
            return actual in targets
        if op == "NIN":
            return actual not in targets
        if op == "!~":
            return actual is None or target not in actual
        if actual is None:
            return False
        if op == "~":
            return bool(target in actual)
        if op == "^":
            return bool(actual.startswith(target))
        if op == "$":
            return bool(actual.endswith(target))
        return {">": actual > target, "<": actual < target, ">=": actual >= target, "<=": actual <= target}[
            op
        ]

    return check


def compile_query(store: Store, node: Any, version: str, depth: int = 1) -> Predicate:
    if not isinstance(node, dict):
        raise _bad("query must be an object")
    if node.get("operator") in ("AND", "OR") and "field" not in node:
        if depth > MAX_DEPTH:
            raise _bad(f"Nested filters can be at most {MAX_DEPTH} levels deep")
        items = node.get("value")
        if not isinstance(items, list) or not items:
            raise _bad("AND/OR needs a non-empty array of filters")
        if len(items) > MAX_FILTERS:
            raise _bad(f"A group can have at most {MAX_FILTERS} filters")
        parts = [compile_query(store, item, version, depth + 1) for item in items]
        if node["operator"] == "AND":
            return lambda c: all(p(c) for p in parts)
        return lambda c: any(p(c) for p in parts)
    return _single(store, node, version)


def sort_key(field: str) -> Callable[[Contact], tuple[bool, Any]]:
    def key(c: Contact) -> tuple[bool, Any]:
        v = _norm(_value_of(c, field))
        return (v is None, v if v is not None else 0)

    return key
