from __future__ import annotations

from typing import Any

import httpx
import pytest

from streams.emulator.clock import FakeClock
from streams.emulator.runtime import Emulator
from tests.emulator.conftest import create_attribute, create_user, error_of

DAY = 86400
T0 = 1_700_006_400  # 2023-11-15 00:00:00 UTC


async def search(client: httpx.AsyncClient, query: dict[str, Any], **extra: Any) -> httpx.Response:
    return await client.post("/contacts/search", json={"query": query, **extra})


async def ids(client: httpx.AsyncClient, query: dict[str, Any]) -> set[str]:
    r = await search(client, query)
    assert r.status_code == 200, r.text
    return {c["external_id"] for c in r.json()["data"]}


@pytest.fixture
async def people(client: httpx.AsyncClient) -> None:
    await create_attribute(client, "tier", "string")
    await create_attribute(client, "seats", "integer")
    await create_attribute(client, "vip", "boolean")
    await create_attribute(client, "renewal", "date")
    await create_user(
        client,
        external_id="ann",
        email="ann@acme.io",
        name="Ann Lee",
        signed_up_at=T0 + 3600,
        custom_attributes={"tier": "gold", "seats": 10, "vip": True, "renewal": T0 + DAY + 5},
    )
    await create_user(
        client,
        external_id="bob",
        email="bob@other.org",
        name="Bob",
        signed_up_at=T0 - DAY,
        custom_attributes={"tier": "silver", "seats": 2, "vip": False},
    )
    await create_user(client, external_id="cy", phone="+4412", unsubscribed_from_emails=True)


@pytest.mark.usefixtures("people")
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"field": "external_id", "operator": "=", "value": "ann"}, {"ann"}),
        ({"field": "email", "operator": "=", "value": "ANN@acme.io"}, {"ann"}),
        ({"field": "name", "operator": "!=", "value": "Bob"}, {"ann", "cy"}),
        ({"field": "external_id", "operator": "IN", "value": ["ann", "cy"]}, {"ann", "cy"}),
        ({"field": "external_id", "operator": "NIN", "value": ["ann"]}, {"bob", "cy"}),
        ({"field": "external_id", "operator": "IN", "value": []}, set()),
        ({"field": "email", "operator": "~", "value": "acme"}, {"ann"}),
        ({"field": "email", "operator": "!~", "value": "acme"}, {"bob", "cy"}),
        ({"field": "name", "operator": "^", "value": "an"}, {"ann"}),
        ({"field": "email", "operator": "$", "value": ".org"}, {"bob"}),
        ({"field": "email_domain", "operator": "=", "value": "other.org"}, {"bob"}),
        ({"field": "phone", "operator": "=", "value": None}, {"ann", "bob"}),
        ({"field": "phone", "operator": "!=", "value": None}, {"cy"}),
        ({"field": "unsubscribed_from_emails", "operator": "=", "value": True}, {"cy"}),
        ({"field": "custom_attributes.tier", "operator": "=", "value": "gold"}, {"ann"}),
        ({"field": "custom_attributes.seats", "operator": ">", "value": 2}, {"ann"}),
        ({"field": "custom_attributes.seats", "operator": ">=", "value": 2}, {"ann", "bob"}),
        ({"field": "custom_attributes.seats", "operator": "<=", "value": 2}, {"bob"}),
        ({"field": "custom_attributes.seats", "operator": "<", "value": 2}, set()),
        ({"field": "custom_attributes.vip", "operator": "=", "value": False}, {"bob"}),
        # Dates compare by calendar day (UTC): = is the whole day, > from the next day, < before the day.
        ({"field": "signed_up_at", "operator": "=", "value": T0 + 50_000}, {"ann"}),
        ({"field": "signed_up_at", "operator": ">", "value": T0 - DAY + 10}, {"ann"}),
        ({"field": "signed_up_at", "operator": "<", "value": T0 + 10}, {"bob"}),
        ({"field": "custom_attributes.renewal", "operator": "=", "value": T0 + DAY}, {"ann"}),
        (
            {
                "operator": "AND",
                "value": [
                    {"field": "role", "operator": "=", "value": "user"},
                    {
                        "operator": "OR",
                        "value": [
                            {"field": "external_id", "operator": "=", "value": "bob"},
                            {"field": "external_id", "operator": "=", "value": "cy"},
                        ],
                    },
                ],
            },
            {"bob", "cy"},
        ),
    ],
)
async def test_operators(client: httpx.AsyncClient, query: dict[str, Any], expected: set[str]) -> None:
    assert await ids(client, query) == expected


@pytest.mark.usefixtures("people")
@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ({"field": "created_at", "operator": "!=", "value": T0}, "not supported"),
        ({"field": "created_at", "operator": ">=", "value": T0}, "not supported"),
        ({"field": "created_at", "operator": "IN", "value": [T0]}, "not supported"),
        ({"field": "name", "operator": ">", "value": "a"}, "not supported"),
        ({"field": "custom_attributes.seats", "operator": "~", "value": 1}, "not supported"),
        ({"field": "tag_id", "operator": "IN", "value": ["1"]}, "not supported"),
        ({"field": "external_id", "operator": "IN", "value": "ann"}, "array"),
        ({"field": "custom_attributes.seats", "operator": "=", "value": "ten"}, "type integer"),
        ({"field": "name", "operator": "=", "value": 5}, "type string"),
        ({"field": "nope", "operator": "=", "value": "x"}, "not a searchable field"),
        ({"field": "custom_attributes.nope", "operator": "=", "value": "x"}, "does not exist"),
        ({"field": "name", "operator": "~", "value": None}, "null"),
    ],
)
async def test_misuse_is_400(client: httpx.AsyncClient, query: dict[str, Any], fragment: str) -> None:
    r = await search(client, query)
    assert r.status_code == 400
    assert fragment in error_of(r)[1]


def _leaf(i: int) -> dict[str, Any]:
    return {"field": "external_id", "operator": "=", "value": f"u{i}"}


async def test_group_limits(client: httpx.AsyncClient) -> None:
    assert (
        await search(client, {"operator": "OR", "value": [_leaf(i) for i in range(15)]})
    ).status_code == 200
    r = await search(client, {"operator": "OR", "value": [_leaf(i) for i in range(16)]})
    assert r.status_code == 400 and "at most 15" in error_of(r)[1]
    two_levels = {"operator": "AND", "value": [{"operator": "OR", "value": [_leaf(1), _leaf(2)]}]}
    assert (await search(client, two_levels)).status_code == 200
    three = {
        "operator": "AND",
        "value": [{"operator": "OR", "value": [{"operator": "AND", "value": [_leaf(1)]}]}],
    }
    r = await search(client, three)
    assert r.status_code == 400 and "levels deep" in error_of(r)[1]


async def test_schema_errors(client: httpx.AsyncClient) -> None:
    r = await client.post("/contacts/search", json={})
    assert error_of(r)[0] == "parameter_not_found"
    r = await search(client, {"field": "name", "operator": "LIKE", "value": "x"})
    assert r.status_code == 400


async def test_search_lags_behind_writes(client: httpx.AsyncClient, emu: Emulator, clock: FakeClock) -> None:
    emu.set_search_lag(5)
    c = await create_user(client, external_id="late", name="Old")
    query = {"field": "external_id", "operator": "=", "value": "late"}
    assert await ids(client, query) == set()
    # The race a search-then-create upsert hits: not found by search, yet create conflicts.
    assert (await client.post("/contacts", json={"external_id": "late"})).status_code == 409
    clock.advance(5)
    assert await ids(client, query) == {"late"}
    await client.put(f"/contacts/{c['id']}", json={"name": "New"})
    r = await search(client, query)
    assert r.json()["data"][0]["name"] == "Old"  # the old version is still what search sees
    clock.advance(5)
    assert (await search(client, query)).json()["data"][0]["name"] == "New"
    await client.delete(f"/contacts/{c['id']}")
    assert await ids(client, query) == {"late"}
    clock.advance(5)
    assert await ids(client, query) == set()


async def test_tag_and_archive_visibility(client: httpx.AsyncClient) -> None:
    a = await create_user(client, external_id="a")
    await create_user(client, external_id="b")
    tag = (await client.post("/tags", json={"name": "VIP"})).json()
    await client.post(f"/contacts/{a['id']}/tags", json={"id": tag["id"]})
    assert await ids(client, {"field": "tag_id", "operator": "=", "value": tag["id"]}) == {"a"}
    assert await ids(client, {"field": "tag_id", "operator": "!=", "value": tag["id"]}) == {"b"}
    await client.post(f"/contacts/{a['id']}/archive")
    assert await ids(client, {"field": "role", "operator": "=", "value": "user"}) == {"b"}


async def test_pagination_in_body(client: httpx.AsyncClient) -> None:
    for i in range(5):
        await create_user(client, external_id=f"p{i}")
    query = {"field": "role", "operator": "=", "value": "user"}
    r = await search(client, query, pagination={"per_page": 2})
    body = r.json()
    assert body["total_count"] == 5 and len(body["data"]) == 2 and body["pages"]["total_pages"] == 3
    cursor = body["pages"]["next"]["starting_after"]
    # A query-string cursor is ignored on search, like Intercom.
    same = await client.post("/contacts/search", params={"starting_after": cursor}, json={"query": query})
    assert same.json()["pages"]["page"] == 1
    r = await search(client, query, pagination={"per_page": 2, "starting_after": cursor})
    assert r.json()["pages"]["page"] == 2
    assert r.json()["data"][0]["external_id"] == "p2"


async def test_sort_216(client16: httpx.AsyncClient) -> None:
    for name in ("b", "c", "a"):
        await create_user(client16, external_id=name, name=name)
    query = {"field": "role", "operator": "=", "value": "user"}
    r = await search(client16, query, sort={"field": "name", "order": "ascending"})
    assert [c["name"] for c in r.json()["data"]] == ["a", "b", "c"]
    r = await search(client16, query, sort={"field": "name", "order": "desc"})
    assert error_of(r) == (
        "invalid_sort_order",
        "Invalid sort order 'desc'. Must be one of: ascending, descending",
    )


async def test_owner_id_search_type_per_version(
    client: httpx.AsyncClient, client16: httpx.AsyncClient
) -> None:
    await create_user(client, external_id="o", owner_id=5)
    assert await ids(client, {"field": "owner_id", "operator": "=", "value": 5}) == {"o"}
    assert await ids(client16, {"field": "owner_id", "operator": "=", "value": "5"}) == {"o"}
    assert (await search(client16, {"field": "owner_id", "operator": "=", "value": 5})).status_code == 400
