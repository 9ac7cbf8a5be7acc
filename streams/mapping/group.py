"""group → upsert_company (POST /companies) then attach_company (POST /contacts/{id}/companies)."""

from __future__ import annotations

from streams.errors import InvalidEventError
from streams.events import SegmentEvent
from streams.mapping.attributes import compact, flatten, without
from streams.mapping.fields import Field, apply_table, as_int, as_text
from streams.mapping.identify import contact_ref
from streams.mapping.plan import Action, Operation
from streams.mapping.timestamps import to_unix_seconds

COMPANY_FIELDS: tuple[Field, ...] = (
    Field("name", ["traits.name"], as_text),
    Field("plan", ["traits.plan"], as_text),
    Field("size", ["traits.employees", "traits.size"], as_int),
    Field("website", ["traits.website"], as_text),
    Field("industry", ["traits.industry"], as_text),
    Field("monthly_spend", ["traits.monthlySpend", "traits.monthly_spend"], as_int),
    Field("remote_created_at", ["traits.createdAt", "traits.created_at"], to_unix_seconds),
)

RESERVED_COMPANY_TRAITS = frozenset(
    {"name", "plan", "employees", "size", "website", "industry", "monthlySpend", "monthly_spend",
     "createdAt", "created_at", "id", "groupId", "email", "tags"}
)  # fmt: skip


def plan_group(event: SegmentEvent) -> list[Operation]:
    company_id = as_text(event.get("groupId")) or as_text(event.traits.get("groupId"))
    if not company_id:
        raise InvalidEventError("invalid_event", "group event has no groupId")
    body = apply_table(event, COMPANY_FIELDS)
    body["company_id"] = company_id
    body["custom_attributes"] = flatten(without(event.traits, RESERVED_COMPANY_TRAITS))
    return [
        Operation(Action.UPSERT_COMPANY, compact(body), company_id=company_id),
        Operation(Action.ATTACH_COMPANY, {}, contact_ref(event), company_id=company_id),
    ]
