"""Data attributes: list standard + custom, create, update/archive."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from streams.emulator import context as ctx
from streams.emulator import render, validation
from streams.emulator.attributes import DATA_TYPES, check_new_name, standard_attributes
from streams.emulator.errors import ApiError
from streams.emulator.models import DataAttribute


def _options(raw: object) -> list[str]:
    """Options arrive as [{value}] (2.16, legacy docs) or, per the 2.10 schema, as strings."""
    out: list[str] = []
    for item in raw if isinstance(raw, list) else []:
        value = item.get("value") if isinstance(item, dict) else item
        if not isinstance(value, str) or not value:
            raise ApiError(
                400, "parameter_invalid", "Each option needs a non-empty string value", field="options"
            )
        out.append(value)
    return out


async def list_attributes(request: Request) -> Response:
    model = request.query_params.get("model")
    include_archived = request.query_params.get("include_archived") == "true"
    version = ctx.version(request)
    if model == "conversation":
        if version == "2.16":
            raise ApiError(
                422, "parameter_invalid", "model=conversation is no longer supported on this version"
            )
        return ctx.json({"type": "list", "data": []})  # no conversation attributes are emulated
    if model not in (None, "contact", "company"):
        raise ApiError(400, "parameter_invalid", "model must be one of contact, company", field="model")
    models = [model] if model else ["contact", "company"]
    store = ctx.store(request)
    with store.lock:
        data = []
        for m in models:
            data += [render.data_attribute(a) for a in standard_attributes(m)]
            data += [
                render.data_attribute(a)
                for (am, _), a in store.data_attributes.items()
                if am == m and (include_archived or not a.archived)
            ]
        return ctx.json({"type": "list", "data": data})


async def create_attribute(request: Request) -> Response:
    raw = await ctx.body(request, validate=False)
    if isinstance(raw, dict):
        if raw.get("model") not in (None, "contact", "company"):
            raise ApiError(
                400, "parameter_invalid", "The Data Attribute model field must be either contact or company"
            )
        allowed = (*DATA_TYPES, "options")
        if "data_type" in raw and raw["data_type"] not in allowed:
            raise ApiError(400, "parameter_invalid", "Data Type isn't an option", field="data_type")
        if raw.get("data_type") == "options" and ctx.version(request) == "2.10":
            # The 2.10 schema has no options type, but Intercom has long accepted it (legacy docs):
            # validate everything else against 2.10.
            stand_in = {k: v for k, v in raw.items() if k != "options"}
            validation.validate_operation_body(
                "2.10", "POST", "/data_attributes", {**stand_in, "data_type": "string"}
            )
        else:
            ctx.check(request, raw)
    else:
        ctx.check(request, raw)
    body = raw
    options = _options(body.get("options"))
    if body["data_type"] == "options" and len(options) < 2:
        raise ApiError(
            400, "parameter_invalid", "You must have at least two options on a list type data attribute"
        )
    store = ctx.store(request)
    with store.lock:
        check_new_name(store, body["model"], body["name"])
        now = store.now()
        attr = DataAttribute(
            model=body["model"],
            name=body["name"],
            data_type=body["data_type"],
            custom=True,
            id=store.new_attr_id(),
            label=body["name"],
            description=body.get("description") or "",
            options=options,
            messenger_writable=bool(body.get("messenger_writable", False)),
            created_at=now,
            updated_at=now,
        )
        store.data_attributes[(attr.model, attr.name)] = attr
        return ctx.json(render.data_attribute(attr))


async def update_attribute(request: Request) -> Response:
    body = await ctx.body(request)
    store = ctx.store(request)
    with store.lock:
        try:
            wanted = int(request.path_params["id"])
        except ValueError:
            wanted = -1
        attr = next((a for a in store.data_attributes.values() if a.id == wanted), None)
        if attr is None:
            raise ApiError(404, "field_not_found", "We couldn't find that data attribute to update")
        if "options" in body:
            options = _options(body["options"])
            if attr.data_type != "options":
                raise ApiError(
                    400, "parameter_invalid", "Options can only be set on a list type data attribute"
                )
            if len(options) < 2:
                raise ApiError(
                    400,
                    "parameter_invalid",
                    "You must have at least two options on a list type data attribute",
                )
            attr.options = options
        for key in ("archived", "messenger_writable", "description"):
            if key in body:
                setattr(attr, key, body[key])
        attr.updated_at = store.now()
        return ctx.json(render.data_attribute(attr))


routes = [
    Route("/data_attributes", list_attributes, methods=["GET"]),
    Route("/data_attributes", create_attribute, methods=["POST"]),
    Route("/data_attributes/{id}", update_attribute, methods=["PUT"]),
]
