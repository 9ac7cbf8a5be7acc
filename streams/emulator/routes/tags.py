"""Tags: the four-form POST /tags, tag CRUD, and per-contact tagging."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from streams.emulator import context as ctx
from streams.emulator import render, validation
from streams.emulator.errors import ApiError, company_not_found, not_found, user_not_found
from streams.emulator.models import Company, Tag
from streams.emulator.routes.contacts import load_contact
from streams.emulator.store import Store

_ALLOWED = {"name", "id", "users", "companies"}


def _form(body: dict[str, Any]) -> str:
    """Pick the body form by its keys: the spec's oneOf cannot (intercom-api.md §10.3)."""
    if "users" in body:
        return "tag_multiple_users_request"
    if "companies" in body:
        items = body["companies"]
        if isinstance(items, list) and any(isinstance(i, dict) and i.get("untag") is True for i in items):
            return "untag_company_request"
        return "tag_company_request"
    return "create_or_update_tag_request"


def _find_or_create(store: Store, name: str) -> Tag:
    tag = store.tag_by_name(name)
    if tag is None:
        tag = Tag(id=store.new_tag_id(), name=name)
        store.tags[tag.id] = tag
    return tag


def _company_ref(store: Store, ref: Any) -> Company | None:
    if not isinstance(ref, dict):
        return None
    if ref.get("id"):
        return store.companies.get(str(ref["id"]))
    if ref.get("company_id"):
        internal = store.company_by_external.get(str(ref["company_id"]))
        return store.companies.get(internal) if internal else None
    return None


async def create_tag(request: Request) -> Response:
    body = await ctx.body(request, validate=False)
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"].strip():
        raise ApiError(400, "parameter_invalid", "invalid tag parameters")
    for key in body:
        if key not in _ALLOWED:
            raise ApiError(400, "bad_request", f"bad '{key}' parameter", field=key)
    version = ctx.version(request)
    form = _form(body)
    validation.validate(version, f"/components/schemas/{form}", body, reject_unknown=False)
    skip_missing = version == "2.16"  # 2.16 skips unknown entities; 2.10 answers 404
    store = ctx.store(request)
    with store.lock:
        extra: dict[str, Any] = {}
        if form == "create_or_update_tag_request" and body.get("id"):
            tag = store.tags.get(str(body["id"]))
            if tag is None:
                raise not_found()
            clash = store.tag_by_name(body["name"])
            if clash is not None and clash.id != tag.id:
                raise ApiError(400, "parameter_invalid", f"A tag named '{body['name']}' already exists")
            tag.name = body["name"]
        elif form == "tag_multiple_users_request":
            contacts = [(u.get("id") if isinstance(u, dict) else None) for u in body["users"]]
            found = [store.contacts.get(str(i)) if i else None for i in contacts]
            if not skip_missing and any(c is None for c in found):
                raise user_not_found()
            tag = _find_or_create(store, body["name"])
            now = store.now()
            for c in found:
                if c is not None:
                    c.tags.setdefault(tag.id, now)
                    store.reindex(c)
            extra["users"] = [
                {"id": str(i), "tagged": c is not None} for i, c in zip(contacts, found, strict=True)
            ]
        elif form in ("tag_company_request", "untag_company_request"):
            refs = body["companies"]
            found_companies = [_company_ref(store, r) for r in refs]
            if not skip_missing and any(co is None for co in found_companies):
                raise company_not_found()
            tag = _find_or_create(store, body["name"])
            results = []
            for ref, co in zip(refs, found_companies, strict=True):
                untag = isinstance(ref, dict) and ref.get("untag") is True
                if co is not None:
                    if untag and tag.id in co.tag_ids:
                        co.tag_ids.remove(tag.id)
                    elif not untag and tag.id not in co.tag_ids:
                        co.tag_ids.append(tag.id)
                ref_id = co.id if co else str((ref or {}).get("id") or (ref or {}).get("company_id"))
                results.append({"id": ref_id, "tagged": co is not None and not untag})
            extra["companies"] = results
        else:
            tag = _find_or_create(store, body["name"])
        out = render.tag_basic(tag)
        if version == "2.16":
            out.update(extra)
        return ctx.json(out)


async def list_tags(request: Request) -> Response:
    store = ctx.store(request)
    with store.lock:
        return ctx.json({"type": "list", "data": [render.tag_basic(t) for t in store.tags.values()]})


async def get_tag(request: Request) -> Response:
    store = ctx.store(request)
    with store.lock:
        tag = store.tags.get(request.path_params["id"])
        if tag is None:
            raise not_found()
        return ctx.json(render.tag_basic(tag))


async def delete_tag(request: Request) -> Response:
    store = ctx.store(request)
    with store.lock:
        tag = store.tags.pop(request.path_params["id"], None)
        if tag is None:
            raise not_found()
        for c in store.contacts.values():
            if c.tags.pop(tag.id, None) is not None:
                store.reindex(c)
        for co in store.companies.values():
            if tag.id in co.tag_ids:
                co.tag_ids.remove(tag.id)
        return Response(status_code=200)


async def contact_tags(request: Request) -> Response:
    store = ctx.store(request)
    with store.lock:
        c = _contact(request)
        data = [render.applied_tag(store.tags[t], at) for t, at in c.tags.items() if t in store.tags]
        return ctx.json({"type": "list", "data": data})


def _contact(request: Request) -> Any:
    try:
        return load_contact(request, request.path_params["contact_id"])
    except ApiError:
        raise user_not_found() from None


async def tag_contact(request: Request) -> Response:
    body = await ctx.body(request)
    store = ctx.store(request)
    with store.lock:
        c = _contact(request)
        tag = store.tags.get(str(body["id"]))
        if tag is None:
            raise not_found()
        applied = c.tags.setdefault(tag.id, store.now())
        store.reindex(c)
        return ctx.json(render.applied_tag(tag, applied))


async def untag_contact(request: Request) -> Response:
    store = ctx.store(request)
    with store.lock:
        c = _contact(request)
        tag = store.tags.get(request.path_params["id"])
        if tag is None or tag.id not in c.tags:
            raise not_found()
        applied = c.tags.pop(tag.id)
        store.reindex(c)
        return ctx.json(render.applied_tag(tag, applied))


routes = [
    Route("/tags", create_tag, methods=["POST"]),
    Route("/tags", list_tags, methods=["GET"]),
    Route("/tags/{id}", get_tag, methods=["GET"]),
    Route("/tags/{id}", delete_tag, methods=["DELETE"]),
    Route("/contacts/{contact_id}/tags", contact_tags, methods=["GET"]),
    Route("/contacts/{contact_id}/tags", tag_contact, methods=["POST"]),
    Route("/contacts/{contact_id}/tags/{id}", untag_contact, methods=["DELETE"]),
]
