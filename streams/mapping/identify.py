"""identify → one upsert_contact operation (PUT when the sink knows or finds the contact, else POST)."""

from __future__ import annotations

from typing import Any

from streams.events import SegmentEvent
from streams.mapping.attributes import compact, flatten, without
from streams.mapping.fields import Field, apply_table, as_text, first, traits_paths
from streams.mapping.plan import Action, ContactRef, Operation
from streams.mapping.timestamps import to_unix_seconds

CONTACT_FIELDS: tuple[Field, ...] = (
    Field("email", traits_paths("email"), as_text),
    Field("phone", traits_paths("phone"), as_text),
    Field("name", traits_paths("name"), as_text),
    Field("avatar", traits_paths("avatar"), as_text),
    Field("signed_up_at", traits_paths("createdAt") + traits_paths("created_at"), to_unix_seconds),
    Field("last_seen_at", traits_paths("lastSeenAt"), to_unix_seconds),
    Field(
        "unsubscribed_from_emails",
        traits_paths("unsubscribedFromEmails"),
        lambda v: v if v in (True, False) else None,
    ),
)

# Traits that map to standard fields (or identity) and must never become custom attributes.
RESERVED_TRAITS = frozenset(
    {
        "userId", "id", "email", "phone", "name", "firstName", "lastName", "firstname", "lastname",
        "first_name", "last_name", "avatar", "createdAt", "created_at", "lastSeenAt", "role", "ownerId",
        "unsubscribedFromEmails", "company", "companies", "timestamp", "originalTimestamp",
    }
)  # fmt: skip


def _full_name(event: SegmentEvent) -> str | None:
    first_name = as_text(
        first(event, [p for k in ("firstName", "firstname", "first_name") for p in traits_paths(k)])
    )
    last_name = as_text(
        first(event, [p for k in ("lastName", "lastname", "last_name") for p in traits_paths(k)])
    )
    return " ".join(part for part in (first_name, last_name) if part) or None


def contact_body(event: SegmentEvent) -> dict[str, Any]:
    body = apply_table(event, CONTACT_FIELDS)
    if "name" not in body:
        body["name"] = _full_name(event)
    if event.user_id:
        body["external_id"] = event.user_id
        body["role"] = "user"
    else:
        body["role"] = "lead"
    attributes = flatten(without({**event.context_traits, **event.traits}, RESERVED_TRAITS))
    body["custom_attributes"] = attributes
    return compact(body)


def contact_ref(event: SegmentEvent) -> ContactRef:
    email = as_text(first(event, [*traits_paths("email"), "properties.email"]))
    return ContactRef(user_id=event.user_id, email=email, anonymous_id=event.anonymous_id)


def plan_identify(event: SegmentEvent) -> list[Operation]:
    return [Operation(Action.UPSERT_CONTACT, contact_body(event), contact_ref(event))]
