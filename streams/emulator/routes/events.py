"""Data events: POST /events (202, dedup, metadata rules, 120-name cap) and GET /events."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from streams.emulator import context as ctx
from streams.emulator import render
from streams.emulator.errors import ApiError, user_not_found
from streams.emulator.models import Contact, Event
from streams.emulator.store import Store

MAX_EVENT_NAMES = 120
MAX_METADATA_KEYS = 10
_BAD_KEY = re.compile(r"[.$~`!@#%^&*'{}|\\\"\x00]")
_URL = re.compile(r"^https?://\S+$")


def normalise_name(name: str) -> str:
    """Event names are case-insensitive and '.'/'$' become '-' (legacy event model docs)."""
    return re.sub(r"[.$]", "-", name.strip()).lower()


def _metadata_error(key: str, why: str) -> ApiError:
    return ApiError(
        400, "parameter_invalid", f"Invalid metadata for key '{key}': {why}", field=f"metadata.{key}"
    )


def check_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """Keep the first 10 keys (the rest are ignored silently, like Intercom) and check their values."""
    kept = dict(list(metadata.items())[:MAX_METADATA_KEYS])
    for key, value in kept.items():
        if not key or _BAD_KEY.search(key):
            raise _metadata_error(key, "keys cannot contain '.', '$' or special characters")
        if key.endswith("_date"):
            if not isinstance(value, int) or isinstance(value, bool):
                raise _metadata_error(key, "keys ending in _date need a Unix timestamp")
            continue
        if value is None or isinstance(value, str | int | float | bool):
            continue
        if isinstance(value, dict):
            is_link = set(value) == {"url", "value"} and isinstance(value["url"], str)
            if is_link and _URL.match(value["url"]) and isinstance(value["value"], str):
                continue
            if set(value) == {"amount", "currency"}:
                amount, currency = value["amount"], value["currency"]
                if (
                    isinstance(amount, int)
                    and not isinstance(amount, bool)
                    and amount > 0
                    and isinstance(currency, str)
                ):
                    continue
                raise _metadata_error(key, "amount must be a positive integer in cents and currency a string")
        raise _metadata_error(
            key, "nested objects other than rich links and monetary amounts are not supported"
        )
    return kept


def _find_user(store: Store, body: dict[str, Any]) -> Contact | None:
    if body.get("id"):
        return store.contacts.get(str(body["id"]))
    if body.get("user_id"):
        return next((c for c in store.contacts.values() if c.external_id == body["user_id"]), None)
    email = str(body["email"]).casefold()
    return next(
        (c for c in store.contacts.values() if c.role == "user" and (c.email or "").casefold() == email), None
    )


async def create_event(request: Request) -> Response:
    body = await ctx.body(request)
    metadata = check_metadata(body.get("metadata") or {})
    name = normalise_name(body["event_name"])
    if not name:
        raise ApiError(400, "parameter_invalid", "event_name cannot be blank", field="event_name")
    store = ctx.store(request)
    with store.lock:
        contact = _find_user(store, body)
        if contact is None:
            raise user_not_found()
        key = (contact.id, name, int(body["created_at"]))
        if key in store.event_keys:
            return Response(status_code=202)  # duplicate: accepted and ignored
        if name not in store.event_names and len(store.event_names) >= MAX_EVENT_NAMES:
            raise ApiError(422, "422", "Cannot have more than 120 active event names")
        store.event_names.add(name)
        store.event_keys.add(key)
        if contact.archived:
            contact.archived = False  # an archived person who comes back is restored
            store.reindex(contact)
        store.events.append(
            Event(
                id=store.new_hex_id(),
                event_name=name,
                created_at=int(body["created_at"]),
                contact_id=contact.id,
                user_id=contact.external_id,
                email=contact.email,
                metadata=metadata,
            )
        )
        return Response(status_code=202)


async def list_events(request: Request) -> Response:
    q = request.query_params
    if q.get("type") != "user":
        raise ApiError(400, "parameter_invalid", "type must be 'user'", field="type")
    store = ctx.store(request)
    with store.lock:
        if q.get("intercom_user_id"):
            contact = store.contacts.get(q["intercom_user_id"])
        elif q.get("user_id"):
            contact = next((c for c in store.contacts.values() if c.external_id == q["user_id"]), None)
        elif q.get("email"):
            contact = next((c for c in store.contacts.values() if (c.email or "") == q["email"]), None)
        else:
            raise ApiError(
                400, "parameter_not_found", "one of intercom_user_id, user_id or email is required"
            )
        if contact is None:
            raise user_not_found()
        events = sorted((e for e in store.events if e.contact_id == contact.id), key=lambda e: -e.created_at)
        if q.get("summary") == "true":
            summary: dict[str, dict[str, Any]] = {}
            for e in sorted(events, key=lambda e: e.created_at):
                item = summary.setdefault(
                    e.event_name, {"name": e.event_name, "first": e.created_at, "count": 0}
                )
                item["last"] = e.created_at
                item["count"] += 1
            return ctx.json(
                {
                    "type": "event.summary",
                    "email": contact.email or "",
                    "intercom_user_id": contact.id,
                    "user_id": contact.external_id or "",
                    "events": [
                        {**s, "first": _iso(s["first"]), "last": _iso(s["last"])} for s in summary.values()
                    ],
                }
            )
        # Without summary=true Intercom answers an event.list (the spec only describes the summary).
        return ctx.json(
            {
                "type": "event.list",
                "events": [render.event(e) for e in events],
                "pages": {"next": None},
            }
        )


def _iso(ts: int) -> str:
    try:
        return dt.datetime.fromtimestamp(ts, tz=dt.UTC).isoformat().replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return str(ts)  # outside datetime's range; still report what was stored


routes = [
    Route("/events", create_event, methods=["POST"]),
    Route("/events", list_events, methods=["GET"]),
]
