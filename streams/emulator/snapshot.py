"""A workspace's state to and from JSON: the shape ``GET /_emulator/state`` answers is the shape
``--state FILE`` and ``PUT /_emulator/state`` load, so a dump loads back as the same workspace."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from streams.emulator import render
from streams.emulator.models import Company, Contact, DataAttribute, Event, Tag
from streams.emulator.runtime import Emulator
from streams.emulator.store import MergeRecord, Store

_CONTACT_FIELDS = ("external_id", "email", "phone", "name", "signed_up_at", "last_seen_at")
_COMPANY_FIELDS = ("name", "size", "website", "industry", "monthly_spend", "remote_created_at")


class SnapshotError(ValueError):
    """A state file that does not have the shape ``GET /_emulator/state`` answers."""


def dump(emu: Emulator) -> dict[str, Any]:
    store, version, workspace = emu.store, emu.config.api_version, emu.config.workspace_id
    with store.lock:
        return {
            "contacts": [
                {**render.contact(c, store, version, workspace), "archived": c.archived}
                for c in store.contacts.values()
            ],
            "companies": [render.company(co, store, workspace) for co in store.companies.values()],
            "events": [render.event(e) for e in store.events],
            "event_names": sorted(store.event_names),
            "tags": [render.tag_basic(t) for t in store.tags.values()],
            "data_attributes": [render.data_attribute(a) for a in store.data_attributes.values()],
            "merged": {k: v.into for k, v in store.merged.items()},
        }


def dump_file(emu: Emulator, path: Path) -> None:
    path.write_text(json.dumps(dump(emu), indent=2, sort_keys=True) + "\n")


def load_file(emu: Emulator, path: Path) -> None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SnapshotError(f"cannot read state file {path}: {exc}") from exc
    load(emu, data)


def load(emu: Emulator, data: Any) -> None:
    """Replace the workspace's state by ``data``; on a bad shape nothing is changed."""
    if not isinstance(data, dict):
        raise SnapshotError("state must be a JSON object")
    try:
        _fill(Store(clock=emu.store.clock, seed=emu.config.seed), data)  # a dry run: fails before any change
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SnapshotError(f"state has an unexpected shape: {type(exc).__name__}: {exc}") from exc
    store = emu.store
    with store.lock:
        store.reset()
        lag, store.search_lag_s = store.search_lag_s, 0.0  # loaded contacts existed before: searchable now
        try:
            _fill(store, data)
        finally:
            store.search_lag_s = lag


def _fill(store: Store, data: dict[str, Any]) -> None:
    for a in data.get("data_attributes", []):
        if a.get("custom"):
            attr = _attribute(a)
            store.data_attributes[(attr.model, attr.name)] = attr
            store.reserve_ids(attr_id=attr.id)
    for t in data.get("tags", []):
        store.tags[str(t["id"])] = Tag(id=str(t["id"]), name=str(t["name"]))
        store.reserve_ids(tag_id=str(t["id"]))
    for co in data.get("companies", []):
        company = _company(co)
        store.companies[company.id] = company
        store.company_by_external[company.company_id] = company.id
    for c in data.get("contacts", []):
        contact = _contact(c, store.next_seq())
        store.contacts[contact.id] = contact
        store.reindex(contact)
    for e in data.get("events", []):
        event = _event(e)
        store.events.append(event)
        store.event_keys.add((event.contact_id, event.event_name, event.created_at))
        store.event_names.add(event.event_name)
    store.event_names.update(str(n) for n in data.get("event_names", []))
    for source, into in data.get("merged", {}).items():
        store.merged[str(source)] = MergeRecord(into=str(into), external_id=None)


def _attribute(a: dict[str, Any]) -> DataAttribute:
    return DataAttribute(
        model=str(a["model"]), name=str(a["name"]), data_type=str(a["data_type"]), custom=True,
        id=int(a["id"]) if a.get("id") is not None else None, label=a.get("label"),
        description=str(a.get("description") or ""), options=list(a.get("options") or []),
        archived=bool(a.get("archived", False)),
        created_at=a.get("created_at"), updated_at=a.get("updated_at"),
    )  # fmt: skip


def _company(co: dict[str, Any]) -> Company:
    plan = co.get("plan")
    company = Company(
        id=str(co["id"]), company_id=str(co["company_id"]),
        created_at=int(co.get("created_at") or 0), updated_at=int(co.get("updated_at") or 0),
        plan=plan.get("name") if isinstance(plan, dict) else plan,
        custom_attributes=dict(co.get("custom_attributes") or {}),
        tag_ids=[str(t["id"]) for t in (co.get("tags") or {}).get("tags", [])],
    )  # fmt: skip
    for key in _COMPANY_FIELDS:
        setattr(company, key, co.get(key))
    return company


def _contact(c: dict[str, Any], seq: int) -> Contact:
    avatar = c.get("avatar")
    contact = Contact(
        id=str(c["id"]), role=str(c.get("role", "user")),
        created_at=int(c.get("created_at") or 0), updated_at=int(c.get("updated_at") or 0),
        avatar=avatar.get("image_url") if isinstance(avatar, dict) else avatar,
        owner_id=c.get("owner_id"),
        unsubscribed_from_emails=bool(c.get("unsubscribed_from_emails", False)),
        custom_attributes=dict(c.get("custom_attributes") or {}),
        archived=bool(c.get("archived", False)),
        tags={str(t["id"]): int(c.get("created_at") or 0) for t in _refs(c.get("tags"))},
        company_ids=[str(r["id"]) for r in _refs(c.get("companies"))],
        seq=seq,
    )  # fmt: skip
    for key in _CONTACT_FIELDS:
        setattr(contact, key, c.get(key))
    contact.email = c.get("email") or None  # rendered as "" when unset
    return contact


def _refs(listing: Any) -> list[dict[str, Any]]:
    if isinstance(listing, dict):
        return list(listing.get("data") or [])
    return list(listing or [])


def _event(e: dict[str, Any]) -> Event:
    return Event(
        id=str(e["id"]), event_name=str(e["event_name"]), created_at=int(e["created_at"]),
        contact_id=str(e["intercom_user_id"]), user_id=e.get("user_id"), email=e.get("email"),
        metadata=dict(e.get("metadata") or {}),
    )  # fmt: skip
