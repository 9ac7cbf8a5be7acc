"""Contacts: create, read, update, delete, list, search, archive, merge."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from streams.emulator import context as ctx
from streams.emulator import render, search
from streams.emulator.attributes import check_custom_attributes
from streams.emulator.errors import ApiError, contact_not_found
from streams.emulator.models import Contact
from streams.emulator.paging import cursor_page
from streams.emulator.store import MergeRecord, Store

_PROFILE_FIELDS = (
    "external_id",
    "email",
    "phone",
    "name",
    "avatar",
    "owner_id",
    "signed_up_at",
    "last_seen_at",
    "unsubscribed_from_emails",
    "email_verified",
)


def load_contact(request: Request, contact_id: str, *, merged_gone: bool = False) -> Contact:
    """The contact, or 404; with `merged_gone` a merged-away id answers 410 under 2.16."""
    store = ctx.store(request)
    c = store.contacts.get(contact_id)
    if c is not None:
        return c
    if merged_gone and contact_id in store.merged and ctx.version(request) == "2.16":
        raise _gone(store, contact_id)
    raise contact_not_found()


def _gone(store: Store, contact_id: str) -> ApiError:
    canonical = store.canonical_id(contact_id) or contact_id
    return ApiError(
        410,
        "contact_merged",
        "This contact has been merged. See the 'Link' header for the canonical contact.",
        headers={"Link": f'</contacts/{canonical}>; rel="canonical"'},
    )


def _render(request: Request, c: Contact) -> dict[str, Any]:
    emu = ctx.emulator(request)
    return render.contact(c, emu.store, ctx.version(request), emu.config.workspace_id)


def _check_role(role: Any) -> str:
    if role not in ("user", "lead"):
        raise ApiError(400, "parameter_invalid", "role must be one of: user, lead", field="role")
    return str(role)


def _check_owner(body: dict[str, Any]) -> None:
    owner = body.get("owner_id")
    if owner is not None and not str(owner).isdigit():
        raise ApiError(400, "parameter_invalid", "The owner specified is not a member of the workspace")


def _set_profile(c: Contact, body: dict[str, Any]) -> None:
    for key in _PROFILE_FIELDS:
        if key in body:
            setattr(c, key, body[key])
    c.unsubscribed_from_emails = bool(c.unsubscribed_from_emails)
    # Stored as a string; rendered as an int (2.10) or a string (2.16).
    c.owner_id = None if c.owner_id is None else str(c.owner_id)


def _check_email_verified(request: Request, body: dict[str, Any]) -> None:
    if "email_verified" in body and "email" not in body:
        raise ApiError(400, "parameter_invalid", "email_verified can only be set together with email")


def _conflict(store: Store, c: Contact | None) -> None:
    if c is None:
        return
    prefix = "An archived contact" if c.archived else "A contact"
    raise ApiError(409, "conflict", f"{prefix} matching those details already exists with id={c.id}")


def _duplicate(
    store: Store, role: str, external_id: Any, email: Any, exclude: str | None = None
) -> Contact | None:
    """The contact a create (or update) clashes with. The external_id is the identity: its holder is
    named before a user that only shares the email (Intercom's 409 carries one id, never the field)."""
    others = [c for c in store.contacts.values() if c.id != exclude]
    if external_id is not None:
        for c in others:
            if c.external_id == external_id:
                return c
    # Leads may share an email with a user; two users may not.
    if role == "user" and email:
        for c in others:
            if c.role == "user" and c.email and c.email.casefold() == str(email).casefold():
                return c
    return None


async def create_contact(request: Request) -> Response:
    body = await ctx.body(request)
    role = _check_role(body.get("role", "user"))
    if role == "user" and not body.get("external_id") and not body.get("email"):
        raise ApiError(400, "parameter_invalid", "A user must have an email or an external_id")
    _check_email_verified(request, body)
    _check_owner(body)
    emu = ctx.emulator(request)
    store = emu.store
    with store.lock:
        _conflict(store, _duplicate(store, role, body.get("external_id"), body.get("email")))
        custom = body.get("custom_attributes") or {}
        check_custom_attributes(store, "contact", custom, auto_create=emu.config.auto_create_attributes)
        now = store.now()
        c = Contact(id=store.new_hex_id(), role=role, created_at=now, updated_at=now, seq=store.next_seq())
        _set_profile(c, body)
        c.custom_attributes = {k: v for k, v in custom.items() if v is not None}
        store.contacts[c.id] = c
        store.reindex(c)
        return ctx.json(_render(request, c))


async def get_contact(request: Request) -> Response:
    with ctx.store(request).lock:
        c = load_contact(request, request.path_params["id"], merged_gone=True)
        return ctx.json(_render(request, c))


async def update_contact(request: Request) -> Response:
    body = await ctx.body(request)
    _check_email_verified(request, body)
    _check_owner(body)
    emu = ctx.emulator(request)
    store = emu.store
    with store.lock:
        c = load_contact(request, request.path_params["id"])
        role = _check_role(body.get("role", c.role))
        if c.role == "user" and role == "lead":
            raise ApiError(400, "client_error", "Contact with user role can't be converted to a lead")
        if role == "user" and not body.get("external_id", c.external_id) and not body.get("email", c.email):
            raise ApiError(400, "parameter_invalid", "A user must have an email or an external_id")
        _conflict(store, _duplicate(store, role, body.get("external_id"), body.get("email"), exclude=c.id))
        custom = body.get("custom_attributes") or {}
        check_custom_attributes(store, "contact", custom, auto_create=emu.config.auto_create_attributes)
        c.role = role
        _set_profile(c, body)
        for key, value in custom.items():
            if value is None:
                c.custom_attributes.pop(key, None)
            else:
                c.custom_attributes[key] = value
        c.updated_at = store.now()
        store.reindex(c)
        return ctx.json(_render(request, c))


async def delete_contact(request: Request) -> Response:
    store = ctx.store(request)
    with store.lock:
        c = load_contact(request, request.path_params["id"])
        del store.contacts[c.id]
        store.reindex(c, remove=True)
        return ctx.json({**render.contact_reference(c), "deleted": True})


async def archive_contact(request: Request) -> Response:
    return _set_archived(request, True)


async def unarchive_contact(request: Request) -> Response:
    return _set_archived(request, False)


def _set_archived(request: Request, archived: bool) -> Response:
    store = ctx.store(request)
    with store.lock:
        c = load_contact(request, request.path_params["id"])
        c.archived = archived
        c.updated_at = store.now()
        store.reindex(c)
        return ctx.json({**render.contact_reference(c), "archived": archived})


def _list_response(request: Request, contacts: list[Contact], per_page: int, cursor: str | None) -> Response:
    chunk, pages = cursor_page(contacts, per_page, cursor)
    return ctx.json(
        {
            "type": "list",
            "data": [_render(request, c) for c in chunk],
            "total_count": len(contacts),
            "pages": pages,
        }
    )


async def list_contacts(request: Request) -> Response:
    per_page = ctx.query_int(request, "per_page", 50)
    store = ctx.store(request)
    with store.lock:
        contacts = sorted(
            (c for c in store.contacts.values() if not c.archived), key=lambda c: (c.created_at, c.seq)
        )
        return _list_response(request, contacts, per_page, request.query_params.get("starting_after"))


async def search_contacts(request: Request) -> Response:
    version = ctx.version(request)
    raw = await ctx.body(request, validate=False)
    sort = raw.get("sort") if isinstance(raw, dict) else None
    if (
        version == "2.16"
        and isinstance(sort, dict)
        and sort.get("order") not in (None, "ascending", "descending")
    ):
        raise ApiError(
            400,
            "invalid_sort_order",
            f"Invalid sort order '{sort.get('order')}'. Must be one of: ascending, descending",
        )
    ctx.check(request, raw)
    body = raw
    store = ctx.store(request)
    with store.lock:
        predicate = search.compile_query(store, body["query"], version)
        hits = [c for c in store.searchable() if predicate(c)]
        if version == "2.16" and isinstance(sort, dict) and sort.get("field"):
            search.field_type(store, sort["field"], version)
            hits.sort(
                key=search.sort_key(sort["field"]), reverse=sort.get("order", "descending") == "descending"
            )
        else:
            hits.sort(key=lambda c: (c.created_at, c.seq))
        paging = body.get("pagination") or {}
        return _list_response(request, hits, paging.get("per_page") or 50, paging.get("starting_after"))


async def merge_contacts(request: Request) -> Response:
    body = await ctx.body(request)
    version = ctx.version(request)
    store = ctx.store(request)
    with store.lock:
        source = store.contacts.get(body["from"])
        target = store.contacts.get(body["into"])
        if source is None or target is None:
            raise contact_not_found()
        if source.id == target.id:
            raise ApiError(400, "parameter_invalid", "Cannot merge a contact into itself")
        if source.role != "lead" or target.role != "user":
            raise ApiError(400, "parameter_invalid", "Only a lead can be merged, and only into a user")
        if version == "2.16" and not body.get("skip_duplicate_validation"):
            same_email = bool(
                source.email and target.email and source.email.casefold() == target.email.casefold()
            )
            same_phone = bool(source.phone and source.phone == target.phone)
            if not (same_email or same_phone):
                raise ApiError(
                    400,
                    "invalid_merge",
                    "Contacts can only be merged when they are duplicates (matching email or phone). "
                    "Pass skip_duplicate_validation=true to override this check.",
                )
        for key in ("email", "phone", "name", "avatar", "owner_id", "signed_up_at", "last_seen_at"):
            if getattr(target, key) is None and getattr(source, key) is not None:
                setattr(target, key, getattr(source, key))
        target.custom_attributes = {**source.custom_attributes, **target.custom_attributes}
        for tag_id, applied in source.tags.items():
            target.tags.setdefault(tag_id, applied)
        for company_id in source.company_ids:
            if company_id not in target.company_ids:
                target.company_ids.append(company_id)
        for event in store.events:
            if event.contact_id == source.id:
                event.contact_id = target.id
        target.updated_at = store.now()
        store.merged[source.id] = MergeRecord(into=target.id, external_id=source.external_id)
        del store.contacts[source.id]
        store.reindex(source, remove=True)
        store.reindex(target)
        return ctx.json(_render(request, target))


async def find_by_external_id(request: Request) -> Response:
    ctx.require_version(request, "2.16")
    external_id = request.path_params["external_id"]
    store = ctx.store(request)
    with store.lock:
        for c in store.contacts.values():
            if c.role == "user" and c.external_id == external_id:
                return ctx.json(_render(request, c))
        for merged_id, rec in store.merged.items():
            if rec.external_id == external_id:
                raise _gone(store, merged_id)
        raise contact_not_found()


routes = [
    Route("/contacts", create_contact, methods=["POST"]),
    Route("/contacts", list_contacts, methods=["GET"]),
    Route("/contacts/search", search_contacts, methods=["POST"]),
    Route("/contacts/merge", merge_contacts, methods=["POST"]),
    Route("/contacts/find_by_external_id/{external_id}", find_by_external_id, methods=["GET"]),
    Route("/contacts/{id}", get_contact, methods=["GET"]),
    Route("/contacts/{id}", update_contact, methods=["PUT"]),
    Route("/contacts/{id}", delete_contact, methods=["DELETE"]),
    Route("/contacts/{id}/archive", archive_contact, methods=["POST"]),
    Route("/contacts/{id}/unarchive", unarchive_contact, methods=["POST"]),
]
