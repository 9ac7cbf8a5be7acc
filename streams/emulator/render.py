"""Intercom JSON shapes for stored records, per API version."""

from __future__ import annotations

import zlib
from typing import Any

from streams.emulator.models import Company, Contact, DataAttribute, Event, Tag
from streams.emulator.store import Store

_NULL_CONTACT_FIELDS = [
    "last_replied_at",
    "last_contacted_at",
    "last_email_opened_at",
    "last_email_clicked_at",
    "language_override",
    "browser",
    "browser_version",
    "browser_language",
    "os",
    "android_app_name",
    "android_app_version",
    "android_device",
    "android_os_version",
    "android_sdk_version",
    "android_last_seen_at",
    "ios_app_name",
    "ios_app_version",
    "ios_device",
    "ios_os_version",
    "ios_sdk_version",
    "ios_last_seen_at",
]


def owner_id(value: int | str | None, version: str) -> int | str | None:
    """2.10 declares owner_id an integer, 2.16 a string."""
    if value is None:
        return None
    if version == "2.10":
        return int(value)
    return str(value)


def contact(c: Contact, store: Store, version: str, workspace_id: str) -> dict[str, Any]:
    email = c.email or ""
    out: dict[str, Any] = {
        "type": "contact",
        "id": c.id,
        "workspace_id": workspace_id,
        "external_id": c.external_id,
        "role": c.role,
        "email": email,
        "email_domain": email.partition("@")[2] if "@" in email else "",
        "phone": c.phone,
        "name": c.name,
        "owner_id": owner_id(c.owner_id, version),
        "has_hard_bounced": False,
        "marked_email_as_spam": False,
        "unsubscribed_from_emails": c.unsubscribed_from_emails,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "signed_up_at": c.signed_up_at,
        "last_seen_at": c.last_seen_at,
    }
    out.update(dict.fromkeys(_NULL_CONTACT_FIELDS))
    out["custom_attributes"] = dict(c.custom_attributes)
    out["avatar"] = {"type": "avatar", "image_url": c.avatar} if c.avatar else None
    tag_refs = [{"type": "tag", "id": t, "url": f"/tags/{t}"} for t in c.tags if t in store.tags]
    out["tags"] = {
        "type": "list",
        "data": tag_refs,
        "url": f"/contacts/{c.id}/tags",
        "total_count": len(tag_refs),
        "has_more": False,
    }
    out["notes"] = {
        "type": "list",
        "data": [],
        "url": f"/contacts/{c.id}/notes",
        "total_count": 0,
        "has_more": False,
    }
    company_refs = [{"type": "company", "id": i, "url": f"/companies/{i}"} for i in c.company_ids]
    out["companies"] = {
        "type": "list",
        "data": company_refs,
        "url": f"/contacts/{c.id}/companies",
        "total_count": len(company_refs),
        "has_more": False,
    }
    out["location"] = {"type": "location", "country": None, "region": None, "city": None}
    out["social_profiles"] = {"type": "list", "data": []}
    return out


def contact_reference(c: Contact) -> dict[str, Any]:
    return {"type": "contact", "id": c.id, "external_id": c.external_id}


def tag_basic(t: Tag) -> dict[str, Any]:
    return {"type": "tag", "id": t.id, "name": t.name}


def applied_tag(t: Tag, applied_at: int | None) -> dict[str, Any]:
    return {**tag_basic(t), "applied_at": applied_at, "applied_by": {"type": "admin", "id": "1"}}


def company(co: Company, store: Store, workspace_id: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "company",
        "id": co.id,
        "app_id": workspace_id,
        "company_id": co.company_id,
        "created_at": co.created_at,
        "updated_at": co.updated_at,
        "monthly_spend": co.monthly_spend or 0,
        "session_count": 0,
        "user_count": store.company_user_count(co.id),
        "custom_attributes": dict(co.custom_attributes),
        "tags": {
            "type": "tag.list",
            "tags": [tag_basic(store.tags[t]) for t in co.tag_ids if t in store.tags],
        },
        "segments": {"type": "segment.list", "segments": []},
    }
    # These are non-nullable strings/ints in the spec; Intercom leaves them out when unset.
    for key in ("name", "website", "industry", "size", "remote_created_at", "last_request_at"):
        value = getattr(co, key)
        if value is not None:
            out[key] = value
    if co.plan is not None:
        out["plan"] = {"type": "plan", "id": str(zlib.crc32(co.plan.encode()) % 10**6), "name": co.plan}
    return out


def data_attribute(a: DataAttribute) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "data_attribute",
        "model": a.model,
        "name": a.name,
        "full_name": a.full_name,
        "label": a.label or a.name,
        "description": a.description,
        # The response enum has no datetime/options; Intercom reports both by their storage type.
        "data_type": {"datetime": "date", "options": "string"}.get(a.data_type, a.data_type),
        "api_writable": a.api_writable,
        "ui_writable": a.ui_writable,
        "messenger_writable": a.messenger_writable,
        "custom": a.custom,
        "archived": a.archived,
    }
    if a.custom:
        out.update(
            id=a.id, options=list(a.options), created_at=a.created_at, updated_at=a.updated_at, admin_id="1"
        )
    return out


def event(e: Event) -> dict[str, Any]:
    return {
        "type": "event",
        "id": e.id,
        "event_name": e.event_name,
        "created_at": e.created_at,
        "user_id": e.user_id,
        "email": e.email,
        "intercom_user_id": e.contact_id,
        "metadata": dict(e.metadata),
    }
