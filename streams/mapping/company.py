"""A company body from a traits object: shared by group (the group's traits) and identify
(``traits.company`` / ``traits.companies``, the Segment classic behaviour)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from streams.mapping.attributes import clean, compact, without
from streams.mapping.fields import Field, apply_table, as_int, as_text
from streams.mapping.options import MappingOptions
from streams.mapping.plan import Report
from streams.mapping.timestamps import to_unix_seconds

# Paths are relative to the company's traits object.
COMPANY_FIELDS: tuple[Field, ...] = (
    Field("name", ["name"], as_text),
    Field("plan", ["plan"], as_text),
    Field("size", ["employees", "size"], as_int),
    Field("website", ["website"], as_text),
    Field("industry", ["industry"], as_text),
    Field("monthly_spend", ["monthlySpend", "monthly_spend"], as_int),
    Field(
        "remote_created_at",
        ["createdAt", "created_at", "remoteCreatedAt", "remote_created_at"],
        to_unix_seconds,
    ),
)

# Mapped to standard fields, identity or tags: never custom attributes (removed even when falsy).
RESERVED_COMPANY_TRAITS = frozenset(
    {"name", "plan", "employees", "size", "website", "industry", "monthlySpend", "monthly_spend",
     "createdAt", "created_at", "remoteCreatedAt", "remote_created_at", "id", "company_id", "groupId",
     "email", "tags", "remove", "userCount", "sessionCount", "segments"}
)  # fmt: skip


@dataclass(frozen=True)
class CompanyWrite:
    company_id: str
    body: dict[str, Any]
    remove: bool
    reports: tuple[Report, ...]


def stable_company_id(name: str) -> str:
    """A string company (``company: "Acme"``) gets the id Segment classic and RudderStack give it: the
    MD5 hex digest of its name, so switching tools keeps the same Intercom companies."""
    return hashlib.md5(name.encode(), usedforsecurity=False).hexdigest()


def company_body(
    traits: Mapping[str, Any], company_id: str, options: MappingOptions
) -> tuple[dict[str, Any], list[Report]]:
    body = apply_table(traits, COMPANY_FIELDS)
    body["company_id"] = company_id
    attributes, reports = clean(without(traits, RESERVED_COMPANY_TRAITS), options, where="company")
    body["custom_attributes"] = attributes
    return compact(body), reports


def company_from_trait(value: Any, options: MappingOptions) -> CompanyWrite | None:
    """One entry of ``traits.company`` / ``traits.companies``: an object with an id or a name, or a
    plain string (its name). Anything else names no company."""
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, Mapping):
        return None
    company_id = as_text(value.get("id")) or as_text(value.get("company_id"))
    name = as_text(value.get("name"))
    if company_id is None:
        if name is None:
            return None
        company_id = stable_company_id(name)
    remove = value.get("remove") is True or value.get("remove") == "true"
    body, reports = company_body(value, company_id, options)
    return CompanyWrite(company_id, body, remove, tuple(reports))
