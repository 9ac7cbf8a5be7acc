from __future__ import annotations

from typing import Any

import httpx
import pytest

from streams.emulator.runtime import Emulator
from tests.emulator.conftest import create_user, error_of


def event(**fields: Any) -> dict[str, Any]:
    return {"event_name": "ordered", "created_at": 1_700_000_000, "user_id": "u1", **fields}


async def test_accepted_for_user_id_email_and_id(client: httpx.AsyncClient, emu: Emulator) -> None:
    user = await create_user(client, external_id="u1", email="a@b.c")
    for n, ident in enumerate(({"user_id": "u1"}, {"email": "A@b.c"}, {"id": user["id"]})):
        body = {"event_name": "seen", "created_at": 1_700_000_000 + n, **ident}
        r = await client.post("/events", json=body)
        assert r.status_code == 202 and r.content == b""
    assert [e.contact_id for e in emu.store.events] == [user["id"]] * 3


@pytest.mark.parametrize(
    "body",
    [
        {"event_name": "x", "user_id": "u1"},
        {"created_at": 1, "user_id": "u1"},
        {"event_name": "x", "created_at": 1},
        {"event_name": "x", "created_at": "yesterday", "user_id": "u1"},
    ],
)
async def test_required_fields(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    await create_user(client, external_id="u1")
    r = await client.post("/events", json=body)
    assert r.status_code == 400


async def test_unknown_user_is_404(client: httpx.AsyncClient) -> None:
    r = await client.post("/events", json=event(user_id="ghost"))
    assert r.status_code == 404 and error_of(r) == ("not_found", "User Not Found")


async def test_lead_by_email_is_not_found(client: httpx.AsyncClient) -> None:
    await client.post("/contacts", json={"role": "lead", "email": "lead@x.io"})
    r = await client.post("/events", json={"event_name": "x", "created_at": 1, "email": "lead@x.io"})
    assert r.status_code == 404  # leads must be addressed by id


async def test_names_are_normalised_and_deduplicated(client: httpx.AsyncClient, emu: Emulator) -> None:
    await create_user(client, external_id="u1")
    for name in ("Completed.Order", "completed-order", "COMPLETED$ORDER"):
        assert (await client.post("/events", json=event(event_name=name))).status_code == 202
    assert [e.event_name for e in emu.store.events] == ["completed-order"]
    assert (
        await client.post("/events", json=event(event_name="completed-order", created_at=2))
    ).status_code == 202
    assert len(emu.store.events) == 2


async def test_metadata_rules(client: httpx.AsyncClient, emu: Emulator) -> None:
    await create_user(client, external_id="u1")
    metadata = {
        "text": "hi",
        "count": 3,
        "ratio": 0.5,
        "paid": True,
        "shipped_date": 1_700_000_000,
        "link": "https://example.com",
        "article": {"url": "https://example.com/a", "value": "Read"},
        "price": {"amount": 34999, "currency": "eur"},
        "k9": "x",
        "k10": "x",
        "k11": "dropped",
        "k12": {"nested": {"not": "checked"}},
    }
    assert (await client.post("/events", json=event(metadata=metadata))).status_code == 202
    stored = emu.store.events[0].metadata
    assert list(stored) == list(metadata)[:10]


@pytest.mark.parametrize(
    "metadata",
    [
        {"nested": {"a": 1}},
        {"list": [1, 2]},
        {"when_date": "tomorrow"},
        {"price": {"amount": -5, "currency": "usd"}},
        {"price": {"amount": 1.5, "currency": "usd"}},
        {"article": {"url": "not a url", "value": "x"}},
        {"bad.key": 1},
        {"bad$key": 1},
    ],
)
async def test_invalid_metadata(client: httpx.AsyncClient, metadata: dict[str, Any]) -> None:
    await create_user(client, external_id="u1")
    r = await client.post("/events", json=event(metadata=metadata))
    assert r.status_code == 400 and error_of(r)[0] == "parameter_invalid"


async def test_120_active_event_names(client: httpx.AsyncClient) -> None:
    await create_user(client, external_id="u1")
    for i in range(120):
        assert (await client.post("/events", json=event(event_name=f"name-{i}"))).status_code == 202
    r = await client.post("/events", json=event(event_name="one-too-many"))
    assert r.status_code == 422
    assert error_of(r) == ("422", "Cannot have more than 120 active event names")
    # An existing name is still fine.
    assert (await client.post("/events", json=event(event_name="name-5", created_at=5))).status_code == 202


async def test_list_events(client: httpx.AsyncClient) -> None:
    user = await create_user(client, external_id="u1", email="a@b.c")
    await client.post("/events", json=event(created_at=100, metadata={"n": 1}))
    await client.post("/events", json=event(created_at=200))
    await client.post("/events", json=event(event_name="other", created_at=150))
    body = (await client.get("/events", params={"type": "user", "user_id": "u1"})).json()
    assert body["type"] == "event.list"
    assert [(e["event_name"], e["created_at"]) for e in body["events"]] == [
        ("ordered", 200),
        ("other", 150),
        ("ordered", 100),
    ]
    assert body["events"][-1]["metadata"] == {"n": 1} and body["events"][0]["intercom_user_id"] == user["id"]
    summary = (
        await client.get(
            "/events", params={"type": "user", "intercom_user_id": user["id"], "summary": "true"}
        )
    ).json()
    assert summary["type"] == "event.summary"
    assert {e["name"]: e["count"] for e in summary["events"]} == {"ordered": 2, "other": 1}
    r = await client.get("/events", params={"type": "user", "email": "nobody@x.io"})
    assert r.status_code == 404
    assert (await client.get("/events", params={"user_id": "u1"})).status_code == 400


async def test_event_restores_an_archived_user(client: httpx.AsyncClient) -> None:
    user = await create_user(client, external_id="u1")
    await client.post(f"/contacts/{user['id']}/archive")
    assert (await client.post("/events", json=event())).status_code == 202
    r = await client.post("/contacts", json={"external_id": "u1"})
    assert "An archived contact" not in error_of(r)[1]
