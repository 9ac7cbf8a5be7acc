"""Standard data attributes, custom attribute name rules and typed value checks."""

from __future__ import annotations

import re
from typing import Any

from streams.emulator.errors import ApiError
from streams.emulator.models import DataAttribute
from streams.emulator.store import Store

_STANDARD: dict[str, list[tuple[str, str, str, bool]]] = {
    # (name, data_type, label, api_writable)
    "contact": [
        ("name", "string", "Name", True),
        ("email", "string", "Email", True),
        ("phone", "string", "Phone", True),
        ("external_id", "string", "User ID", True),
        ("role", "string", "Role", True),
        ("owner_id", "integer", "Owner", True),
        ("avatar", "string", "Avatar", True),
        ("created_at", "date", "Created at", False),
        ("updated_at", "date", "Updated at", False),
        ("signed_up_at", "date", "Signed up", True),
        ("last_seen_at", "date", "Last seen", True),
        ("unsubscribed_from_emails", "boolean", "Unsubscribed from emails", True),
        ("location.country", "string", "Country", False),
        ("location.region", "string", "Region", False),
        ("location.city", "string", "City", False),
        ("browser", "string", "Browser", False),
        ("os", "string", "OS", False),
    ],
    "company": [
        ("name", "string", "Company name", True),
        ("company_id", "string", "Company ID", True),
        ("plan.name", "string", "Plan", True),
        ("monthly_spend", "float", "Monthly Spend", True),
        ("size", "integer", "Company size", True),
        ("website", "string", "Company website", True),
        ("industry", "string", "Company industry", True),
        ("remote_created_at", "date", "Company created at", True),
        ("created_at", "date", "Created at", False),
        ("last_request_at", "date", "Company last seen", False),
        ("session_count", "integer", "Company web sessions", False),
        ("user_count", "integer", "People", False),
    ],
}

# Names a custom attribute may not take (standard ones, in either spelling).
_RESERVED = {
    model: {n.split(".")[0].lower() for n, *_ in attrs} | {"id", "type", "user_id", "custom_attributes"}
    for model, attrs in _STANDARD.items()
}

MODEL_WORDS = {"contact": "people", "company": "company"}
DATA_TYPES = ("string", "integer", "float", "boolean", "datetime", "date")
# Letters/digits of any script, currency symbols, hyphens, plus underscores and spaces (seen in
# real workspaces); dots, brackets and other punctuation are refused.
_NAME_RE = re.compile(r"^[\w\- \u20a0-\u20cf$£¥€]+$")


def standard_attributes(model: str) -> list[DataAttribute]:
    return [
        DataAttribute(model=model, name=n, data_type=t, custom=False, label=label, api_writable=w)
        for n, t, label, w in _STANDARD[model]
    ]


def check_new_name(store: Store, model: str, name: str) -> None:
    if not name.strip() or not _NAME_RE.match(name):
        raise ApiError(
            400,
            "parameter_invalid",
            "Your name for this attribute must only contain alphanumeric characters, currency symbols, "
            "and hyphens",
            field="name",
        )
    if name.lower() in _RESERVED[model]:
        raise ApiError(
            400,
            "parameter_invalid",
            f"'{name.capitalize()}' is one of our standard attributes for your {MODEL_WORDS[model]} data. "
            "Please use a different name.",
            field="name",
        )
    for (m, existing), _attr in store.data_attributes.items():
        if existing.lower() == name.lower():
            raise ApiError(
                400,
                "parameter_invalid",
                f"You already have '{name}' in your {MODEL_WORDS[m]} data. To save this as new "
                f"{MODEL_WORDS[model]} data, use a different name.",
                field="name",
            )


def _matches(data_type: str, value: Any, options: list[str]) -> bool:
    if value is None:
        return True  # null clears the attribute
    if data_type == "string":
        return isinstance(value, str)
    if data_type == "options":
        return isinstance(value, str) and value in options
    if data_type == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if data_type == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if data_type == "boolean":
        return isinstance(value, bool)
    if data_type in ("date", "datetime"):
        return isinstance(value, int) and not isinstance(value, bool)
    return False


def _infer_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    return "string"


def check_custom_attributes(store: Store, model: str, values: dict[str, Any], *, auto_create: bool) -> None:
    """Reject unknown or mistyped custom attributes the way Intercom does (400 parameter_invalid)."""
    for name, value in values.items():
        if isinstance(value, dict | list):
            raise ApiError(
                400,
                "parameter_invalid",
                f"Custom attribute '{name}' must be a string, number, boolean or null",
                field=f"custom_attributes.{name}",
            )
        attr = store.custom_attribute(model, name)
        if attr is None:
            if not auto_create or value is None:
                raise ApiError(400, "parameter_invalid", f"Custom attribute '{name}' does not exist")
            now = store.now()
            store.data_attributes[(model, name)] = DataAttribute(
                model=model,
                name=name,
                data_type=_infer_type(value),
                custom=True,
                id=store.new_attr_id(),
                label=name,
                created_at=now,
                updated_at=now,
            )
            continue
        if not _matches(attr.data_type, value, attr.options):
            expected = "one of its options" if attr.data_type == "options" else f"a {attr.data_type}"
            raise ApiError(
                400,
                "parameter_invalid",
                f"Custom attribute '{name}' must be {expected}",
                field=f"custom_attributes.{name}",
            )
