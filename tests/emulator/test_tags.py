from __future__ import annotations

import httpx
import pytest

from tests.emulator.conftest import create_user, error_of


async def test_create_is_find_or_create_case_insensitive(client: httpx.AsyncClient) -> None:
    a = (await client.post("/tags", json={"name": "VIP"})).json()
    b = (await client.post("/tags", json={"name": "vip"})).json()
    assert a == b == {"type": "tag", "id": a["id"], "name": "VIP"}
    assert a["id"].isdigit()
    r = await client.post("/tags", json={"id": a["id"], "name": "Very Important"})
    assert r.json()["name"] == "Very Important"
    assert (await client.get(f"/tags/{a['id']}")).json()["name"] == "Very Important"
    assert [t["id"] for t in (await client.get("/tags")).json()["data"]] == [a["id"]]


@pytest.mark.parametrize("body", [{"test": "x"}, {}, {"name": ""}, {"users": [{"id": "x"}]}])
async def test_invalid_tag_parameters(client: httpx.AsyncClient, body: dict[str, object]) -> None:
    r = await client.post("/tags", json=body)
    assert error_of(r) == ("parameter_invalid", "invalid tag parameters")


async def test_unknown_key_with_name(client: httpx.AsyncClient) -> None:
    r = await client.post("/tags", json={"name": "x", "colour": "red"})
    assert error_of(r) == ("bad_request", "bad 'colour' parameter")


async def test_tag_users_and_companies_210(client: httpx.AsyncClient) -> None:
    user = await create_user(client, external_id="u1")
    co = (await client.post("/companies", json={"company_id": "acme"})).json()
    r = await client.post("/tags", json={"name": "VIP", "users": [{"id": user["id"]}]})
    assert r.status_code == 200 and set(r.json()) == {"type", "id", "name"}
    tag_id = r.json()["id"]
    assert [t["id"] for t in (await client.get(f"/contacts/{user['id']}/tags")).json()["data"]] == [tag_id]
    r = await client.post("/tags", json={"name": "VIP", "companies": [{"company_id": "acme"}]})
    assert r.status_code == 200
    company = (await client.get(f"/companies/{co['id']}")).json()
    assert [t["id"] for t in company["tags"]["tags"]] == [tag_id]
    r = await client.post("/tags", json={"name": "VIP", "companies": [{"id": co["id"], "untag": True}]})
    assert r.status_code == 200
    assert (await client.get(f"/companies/{co['id']}")).json()["tags"]["tags"] == []
    # 2.10 answers 404 for entities that do not exist.
    r = await client.post("/tags", json={"name": "VIP", "users": [{"id": "ffffffffffffffffffffffff"}]})
    assert error_of(r) == ("not_found", "User Not Found")
    r = await client.post("/tags", json={"name": "VIP", "companies": [{"company_id": "nope"}]})
    assert error_of(r) == ("company_not_found", "Company Not Found")


async def test_216_skips_missing_entities(client16: httpx.AsyncClient) -> None:
    user = await create_user(client16, external_id="u1")
    missing = "ffffffffffffffffffffffff"
    r = await client16.post("/tags", json={"name": "VIP", "users": [{"id": user["id"]}, {"id": missing}]})
    assert r.status_code == 200
    assert r.json()["users"] == [{"id": user["id"], "tagged": True}, {"id": missing, "tagged": False}]
    r = await client16.post("/tags", json={"name": "VIP", "companies": [{"company_id": "nope"}]})
    assert r.json()["companies"] == [{"id": "nope", "tagged": False}]


async def test_contact_tag_untag(client: httpx.AsyncClient) -> None:
    user = await create_user(client, external_id="u1")
    tag = (await client.post("/tags", json={"name": "VIP"})).json()
    r = await client.post(f"/contacts/{user['id']}/tags", json={"id": tag["id"]})
    assert r.status_code == 200 and r.json()["id"] == tag["id"] and isinstance(r.json()["applied_at"], int)
    contact = (await client.get(f"/contacts/{user['id']}")).json()
    assert [t["id"] for t in contact["tags"]["data"]] == [tag["id"]]
    r = await client.delete(f"/contacts/{user['id']}/tags/{tag['id']}")
    assert r.status_code == 200
    assert (await client.delete(f"/contacts/{user['id']}/tags/{tag['id']}")).status_code == 404
    r = await client.post(f"/contacts/{user['id']}/tags", json={"id": "123"})
    assert r.status_code == 404
    r = await client.post("/contacts/ffffffffffffffffffffffff/tags", json={"id": tag["id"]})
    assert error_of(r) == ("not_found", "User Not Found")
    r = await client.post(f"/contacts/{user['id']}/tags", json={})
    assert r.status_code == 400


async def test_delete_tag_untags_everything(client: httpx.AsyncClient) -> None:
    user = await create_user(client, external_id="u1")
    tag = (await client.post("/tags", json={"name": "VIP", "users": [{"id": user["id"]}]})).json()
    r = await client.delete(f"/tags/{tag['id']}")
    assert r.status_code == 200
    assert (await client.get(f"/tags/{tag['id']}")).status_code == 404
    assert (await client.get(f"/contacts/{user['id']}")).json()["tags"]["data"] == []
    assert error_of(await client.delete(f"/tags/{tag['id']}")) == ("not_found", "Resource Not Found")
