"""identify → upsert_contact (PUT when the sink knows or finds the contact, else POST), then the
companies named in the traits: upsert_company + attach_company, or detach_company for ``remove: true``.

The table below is the whole contact mapping: Intercom field ← the first non-empty path.
"""

from __future__ import annotations

from typing import Any

from streams.events import SegmentEvent
from streams.mapping.attributes import clean, compact, without
from streams.mapping.company import company_from_trait
from streams.mapping.fields import (
    Field,
    apply_table,
    as_bool,
    as_int,
    as_text,
    first,
    intercom_paths,
    lookup,
    traits_paths,
)
from streams.mapping.options import MappingOptions
from streams.mapping.plan import Action, ContactRef, Operation, Report
from streams.mapping.timestamps import event_seconds, to_unix_seconds


def _role(value: Any) -> str | None:
    text = as_text(value)
    return text.lower() if text and text.lower() in ("user", "lead") else None


_paths = traits_paths

# ``external_id`` is where RudderStack's rETL and lookup users put the id (often only in context.traits).
USER_ID_PATHS = ["userId", *_paths("userId", "id", "external_id")]
EMAIL_PATHS = [*_paths("email"), "properties.email"]

CONTACT_FIELDS: tuple[Field, ...] = (
    Field("external_id", USER_ID_PATHS, as_text),
    Field("email", _paths("email"), as_text),
    Field("phone", _paths("phone"), as_text),
    Field("name", _paths("name"), as_text),  # else "first last", see _full_name
    Field("avatar", _paths("avatar", "avatarURL", "avatar_URL", "avatarUrl", "avatar_url"), as_text),
    Field("role", _paths("role"), _role),  # else user with an external_id, lead without
    Field("owner_id", _paths("ownerId", "owner_id"), as_int),  # int under 2.10, string under 2.16
    Field("signed_up_at", _paths("createdAt", "created_at", "signedUpAt", "signed_up_at"), to_unix_seconds),
    # Never moved when context.active is false; the update_last_seen option fills in the event time.
    Field("last_seen_at", _paths("lastSeenAt", "last_seen_at"), to_unix_seconds),
    Field(
        "unsubscribed_from_emails",
        [
            *_paths("unsubscribedFromEmails", "unsubscribed_from_emails"),
            "context.Intercom.unsubscribedFromEmails",
            *intercom_paths("unsubscribedFromEmails", "unsubscribed"),
        ],
        as_bool,
    ),
)

FIRST_NAMES = ("firstName", "firstname", "first_name")
LAST_NAMES = ("lastName", "lastname", "last_name")

# Traits that map to standard fields (or identity) and must never become custom attributes,
# removed even when their value is falsy (a leaked ``unsubscribedFromEmails: false`` is a 400).
RESERVED_TRAITS = frozenset(
    {
        "userId", "id", "external_id", "anonymousId", "email", "phone", "name", *FIRST_NAMES, *LAST_NAMES,
        "avatar", "avatarURL", "avatar_URL", "avatarUrl", "avatar_url", "role", "ownerId", "owner_id",
        "createdAt", "created_at", "signedUpAt", "signed_up_at", "lastSeenAt", "last_seen_at",
        "unsubscribedFromEmails", "unsubscribed_from_emails", "company", "companies", "timestamp",
        "originalTimestamp",
    }
)  # fmt: skip

# Segment's "collect context": attribute name ← context path.
CONTEXT_ATTRIBUTES: tuple[tuple[str, str], ...] = (
    ("device_type", "context.device.type"),
    ("device_manufacturer", "context.device.manufacturer"),
    ("device_model", "context.device.model"),
    ("os_name", "context.os.name"),
    ("os_version", "context.os.version"),
    ("app_name", "context.app.name"),
    ("app_version", "context.app.version"),
)

# integrations.Intercom.lookup may name a Segment trait; the search needs the Intercom field.
LOOKUP_FIELDS = {"userId": "external_id", "user_id": "external_id", "external_id": "external_id",
                 "email": "email", "phone": "phone", "name": "name"}  # fmt: skip


def _full_name(event: SegmentEvent) -> str | None:
    first_name = as_text(event.trait(*FIRST_NAMES))
    last_name = as_text(event.trait(*LAST_NAMES))
    return " ".join(part for part in (first_name, last_name) if part) or None


def lookup_override(event: SegmentEvent) -> tuple[str, str] | None:
    """``integrations.Intercom.lookup: "phone"`` → ``("phone", <the phone>)``, when both are there.
    The value is read like every trait (``traits``, then ``context.traits``); ``external_id`` is the
    user id, as in the contact body."""
    name = as_text(first(event, intercom_paths("lookup")))
    if not name:
        return None
    field = LOOKUP_FIELDS.get(name, name)
    found = first(event, USER_ID_PATHS) if field == "external_id" else event.trait(name, field)
    value = as_text(found)
    return None if value is None else (field, value)


def contact_ref(event: SegmentEvent) -> ContactRef:
    user_id = as_text(first(event, USER_ID_PATHS))
    email = as_text(first(event, EMAIL_PATHS))
    override = lookup_override(event) if event.type == "identify" else None
    if override is not None:
        return ContactRef(user_id, email, event.anonymous_id, lookup=override[0], lookup_value=override[1])
    return ContactRef(user_id=user_id, email=email, anonymous_id=event.anonymous_id)


def custom_attributes(event: SegmentEvent, options: MappingOptions) -> tuple[dict[str, Any], list[Report]]:
    traits = without(event.merged_traits(), RESERVED_TRAITS)
    if options.collect_context:
        for name, path in CONTEXT_ATTRIBUTES:
            value = lookup(event, path)
            if value is not None and value != "" and name not in traits:
                traits[name] = value
    return clean(traits, options, where="contact")


def contact_body(
    event: SegmentEvent, options: MappingOptions | None = None
) -> tuple[dict[str, Any], list[Report]]:
    options = options or MappingOptions()
    body = apply_table(event, CONTACT_FIELDS)
    if "name" not in body:
        body["name"] = _full_name(event)
    body.setdefault("role", "user" if body.get("external_id") else "lead")
    if "owner_id" in body and options.api_version != "2.10":
        body["owner_id"] = str(body["owner_id"])
    if lookup(event, "context.active") is False:
        body.pop("last_seen_at", None)  # a background update is not the user being seen
    elif options.update_last_seen and "last_seen_at" not in body:
        body["last_seen_at"] = event_seconds(event.raw)
    body["custom_attributes"], reports = custom_attributes(event, options)
    return compact(body), reports


def _trait_companies(event: SegmentEvent) -> list[Any]:
    company = event.trait("company")
    companies = event.trait("companies")
    return ([] if company is None else [company]) + (companies if isinstance(companies, list) else [])


def _tag_names(value: Any) -> list[str]:
    items = value.split(",") if isinstance(value, str) else value if isinstance(value, list) else []
    return [text for text in (as_text(item) for item in items) if text]


def contact_tags(event: SegmentEvent) -> tuple[list[str], list[str]]:
    """``integrations.Intercom.tags`` (names, or ``{name, untag: true}`` objects as in Intercom's own
    untag form) and ``integrations.Intercom.untags`` → (names to tag, names to untag), in order."""
    tag: list[str] = []
    untag: list[str] = []
    raw = first(event, intercom_paths("tags"))
    for item in raw if isinstance(raw, list) else _tag_names(raw):
        if isinstance(item, dict):
            name = as_text(item.get("name"))
            if name:
                (untag if as_bool(item.get("untag")) else tag).append(name)
        else:
            tag.extend(_tag_names([item]))
    untag.extend(_tag_names(first(event, intercom_paths("untags", "removeTags"))))
    return list(dict.fromkeys(tag)), list(dict.fromkeys(untag))


def tag_operations(event: SegmentEvent, ref: ContactRef) -> list[Operation]:
    """Contact tags, addressed like the contact, or by ``integrations.Intercom.contactId`` (an
    Intercom id) when given."""
    tag, untag = contact_tags(event)
    contact_id = as_text(first(event, intercom_paths("contactId", "contact_id", "intercomId")))
    extra = {"contact_id": contact_id} if contact_id else {}
    return [Operation(Action.TAG_CONTACT, {"name": name, **extra}, ref) for name in tag] + [
        Operation(Action.UNTAG_CONTACT, {"name": name, **extra}, ref) for name in untag
    ]


def plan_identify(
    event: SegmentEvent, options: MappingOptions | None = None
) -> tuple[list[Operation], list[Report]]:
    options = options or MappingOptions()
    ref = contact_ref(event)
    body, reports = contact_body(event, options)
    operations = [Operation(Action.UPSERT_CONTACT, body, ref)]
    for value in _trait_companies(event):
        company = company_from_trait(value, options)
        if company is None:
            continue
        reports.extend(company.reports)
        if company.remove:
            operations.append(Operation(Action.DETACH_COMPANY, {}, ref, company_id=company.company_id))
        else:
            operations += [
                Operation(Action.UPSERT_COMPANY, company.body, company_id=company.company_id),
                Operation(Action.ATTACH_COMPANY, {}, ref, company_id=company.company_id),
            ]
    operations += tag_operations(event, ref)
    return operations, reports
