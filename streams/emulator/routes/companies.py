"""Companies: upsert, lookup, list, update, delete, and attaching contacts."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from streams.emulator import context as ctx
from streams.emulator import render, validation
from streams.emulator.attributes import check_custom_attributes
from streams.emulator.errors import ApiError, company_not_found, user_not_found
from streams.emulator.models import Company, Contact
from streams.emulator.paging import numbered_page
from streams.emulator.routes.contacts import load_contact

MAX_COMPANIES_PER_CONTACT = 1000
_FIELDS = ("name", "plan", "size", "website", "industry", "monthly_spend", "remote_created_at")


def _render(request: Request, co: Company) -> dict[str, Any]:
    emu = ctx.emulator(request)
    return render.company(co, emu.store, emu.config.workspace_id)


def _load(request: Request, company_id: str) -> Company:
    co = ctx.store(request).companies.get(company_id)
    if co is None:
        raise company_not_found()
    return co


def _apply(request: Request, co: Company, body: dict[str, Any]) -> None:
    emu = ctx.emulator(request)
    custom = body.get("custom_attributes") or {}
    check_custom_attributes(emu.store, "company", custom, auto_create=emu.config.auto_create_attributes)
    for key in _FIELDS:
        if key in body:
            setattr(co, key, body[key])
    for key, value in custom.items():
        if value is None:
            co.custom_attributes.pop(key, None)
        else:
            co.custom_attributes[key] = value
    now = emu.store.now()
    if body.get("update_last_request_at"):
        co.last_request_at = now
    co.updated_at = now


async def upsert_company(request: Request) -> Response:
    body = await ctx.body(request)
    if body is None:
        body = {}
    external = body.get("company_id")
    if not external:
        raise ApiError(400, "parameter_not_found", "company_id not specified", field="company_id")
    store = ctx.store(request)
    with store.lock:
        existing = store.company_by_external.get(external)
        if existing is not None:
            co = store.companies[existing]
        else:
            now = store.now()
            co = Company(id=store.new_hex_id(), company_id=external, created_at=now, updated_at=now)
        _apply(request, co, body)  # validates custom attributes before anything is stored
        store.companies[co.id] = co
        store.company_by_external[external] = co.id
        return ctx.json(_render(request, co))


async def retrieve_companies(request: Request) -> Response:
    emu = ctx.emulator(request)
    store = emu.store
    q = request.query_params
    with store.lock:
        if "company_id" in q or "name" in q:
            if "company_id" in q:
                found = [store.companies[i] for i in [store.company_by_external.get(q["company_id"])] if i]
            else:
                found = [
                    co
                    for co in store.companies.values()
                    if (co.name or "").casefold() == q["name"].casefold()
                ]
            if not found:
                raise company_not_found()
            if emu.config.company_lookup_shape == "single":
                return ctx.json(_render(request, found[0]))
            return _list(request, found, 1, 15)
        page = ctx.query_int(request, "page", 1)
        per_page = ctx.query_int(request, "per_page", 15)
        companies = [co for co in store.companies.values() if store.company_user_count(co.id) > 0]
        if "tag_id" in q:
            companies = [co for co in companies if q["tag_id"] in co.tag_ids]
        if "segment_id" in q:
            companies = []  # no segments are emulated
        return _list(request, sorted(companies, key=lambda co: co.created_at), page, per_page)


def _list(request: Request, companies: list[Company], page: int, per_page: int) -> Response:
    chunk, pages = numbered_page(companies, page, per_page)
    return ctx.json(
        {
            "type": "list",
            "data": [_render(request, co) for co in chunk],
            "total_count": len(companies),
            "pages": pages,
        }
    )


async def list_all_companies(request: Request) -> Response:
    page = ctx.query_int(request, "page", 1)
    per_page = ctx.query_int(request, "per_page", 20)
    order = request.query_params.get("order", "desc")
    store = ctx.store(request)
    with store.lock:
        companies = [co for co in store.companies.values() if store.company_user_count(co.id) > 0]
        companies.sort(key=lambda co: (co.last_request_at or 0, co.created_at), reverse=order != "asc")
        # Intercom serves at most 10,000 companies through this endpoint.
        return _list(request, companies[:10_000], page, per_page)


async def get_company(request: Request) -> Response:
    with ctx.store(request).lock:
        return ctx.json(_render(request, _load(request, request.path_params["id"])))


async def update_company(request: Request) -> Response:
    if ctx.version(request) == "2.16":
        body = await ctx.body(request)
    else:
        # 2.10 declares no body for this operation; apply the 2.16 rules so typos are still caught.
        body = await ctx.body(request, validate=False)
        validation.validate("2.16", "/components/schemas/update_company_request", body)
    store = ctx.store(request)
    with store.lock:
        co = _load(request, request.path_params["id"])
        _apply(request, co, body or {})
        return ctx.json(_render(request, co))


async def delete_company(request: Request) -> Response:
    store = ctx.store(request)
    with store.lock:
        co = _load(request, request.path_params["id"])
        for c in store.contacts.values():
            if co.id in c.company_ids:
                c.company_ids.remove(co.id)
                store.reindex(c)
        del store.companies[co.id]
        store.company_by_external.pop(co.company_id, None)
        return ctx.json({"id": co.id, "object": "company", "deleted": True})


async def company_contacts(request: Request) -> Response:
    page = ctx.query_int(request, "page", 1)
    per_page = ctx.query_int(request, "per_page", 50)
    store = ctx.store(request)
    with store.lock:
        co = _load(request, request.path_params["id"])
        contacts = [c for c in store.contacts.values() if co.id in c.company_ids]
        chunk, pages = numbered_page(contacts, page, per_page)
        emu = ctx.emulator(request)
        data = [render.contact(c, store, ctx.version(request), emu.config.workspace_id) for c in chunk]
        return ctx.json({"type": "list", "data": data, "total_count": len(contacts), "pages": pages})


def _contact_for_attach(request: Request) -> Contact:
    try:
        return load_contact(request, request.path_params["contact_id"])
    except ApiError:
        raise user_not_found() from None


async def attach_company(request: Request) -> Response:
    raw = await ctx.body(request, validate=False)
    if not isinstance(raw, dict) or not raw.get("id"):
        raise ApiError(400, "parameter_not_found", "company not specified", field="id")
    ctx.check(request, raw)
    body = raw
    store = ctx.store(request)
    with store.lock:
        c = _contact_for_attach(request)
        co = _load(request, body["id"])
        if co.id not in c.company_ids:
            if len(c.company_ids) >= MAX_COMPANIES_PER_CONTACT:
                raise ApiError(
                    400,
                    "contact_company_limit_exceeded",
                    "Contact has reached the maximum of 1000 company associations",
                )
            c.company_ids.append(co.id)
            c.updated_at = store.now()
            store.reindex(c)
        return ctx.json(_render(request, co))


async def detach_company(request: Request) -> Response:
    store = ctx.store(request)
    with store.lock:
        c = _contact_for_attach(request)
        co = store.companies.get(request.path_params["id"])
        if co is None or co.id not in c.company_ids:
            raise company_not_found()
        c.company_ids.remove(co.id)
        c.updated_at = store.now()
        store.reindex(c)
        return ctx.json(_render(request, co))


async def contact_companies(request: Request) -> Response:
    page = ctx.query_int(request, "page", 1)
    per_page = ctx.query_int(request, "per_page", 15)
    store = ctx.store(request)
    with store.lock:
        c = _contact_for_attach(request)
        companies = [store.companies[i] for i in c.company_ids if i in store.companies]
        chunk, pages = numbered_page(companies, page, per_page)
        data = [_render(request, co) for co in chunk]
        return ctx.json({"type": "list", "companies": data, "total_count": len(companies), "pages": pages})


routes = [
    Route("/companies", upsert_company, methods=["POST"]),
    Route("/companies", retrieve_companies, methods=["GET"]),
    Route("/companies/list", list_all_companies, methods=["POST"]),
    Route("/companies/{id}", get_company, methods=["GET"]),
    Route("/companies/{id}", update_company, methods=["PUT"]),
    Route("/companies/{id}", delete_company, methods=["DELETE"]),
    Route("/companies/{id}/contacts", company_contacts, methods=["GET"]),
    Route("/contacts/{contact_id}/companies", attach_company, methods=["POST"]),
    Route("/contacts/{contact_id}/companies", contact_companies, methods=["GET"]),
    Route("/contacts/{contact_id}/companies/{id}", detach_company, methods=["DELETE"]),
]
