from __future__ import annotations

from typing import Any

import httpx
import pytest

from streams.emulator.runtime import Emulator
from tests.emulator.conftest import create_attribute, create_user, error_of


async def upsert(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    r = await client.post("/companies", json=fields)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_upsert_by_company_id(client: httpx.AsyncClient) -> None:
    first = await upsert(client, company_id="acme", name="Acme", plan="pro", size=10, monthly_spend=99)
    assert (first["type"], first["company_id"], first["plan"]["name"]) == ("company", "acme", "pro")
    assert len(first["id"]) == 24
    again = await upsert(client, company_id="acme", industry="Rockets")
    assert again["id"] == first["id"]
    assert (again["name"], again["industry"], again["size"]) == ("Acme", "Rockets", 10)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"name": "No id"}, 400, "parameter_not_found"),
        ({"company_id": "a", "test": 1}, 400, "bad_request"),
        ({"company_id": "a", "size": "big"}, 400, "parameter_invalid"),
        ({"company_id": "a", "custom_attributes": {"seats": 3}}, 400, "parameter_invalid"),
    ],
)
async def test_upsert_errors(client: httpx.AsyncClient, body: dict[str, Any], status: int, code: str) -> None:
    r = await client.post("/companies", json=body)
    assert r.status_code == status
    assert error_of(r)[0] == code


async def test_bad_key_message(client: httpx.AsyncClient) -> None:
    r = await client.post("/companies", json={"company_id": "a", "test": 1})
    assert error_of(r) == ("bad_request", "bad 'test' parameter")


async def test_typed_custom_attributes(client: httpx.AsyncClient) -> None:
    await create_attribute(client, "seats", "integer", model="company")
    co = await upsert(client, company_id="a", custom_attributes={"seats": 5})
    assert co["custom_attributes"] == {"seats": 5}
    r = await client.post("/companies", json={"company_id": "a", "custom_attributes": {"seats": "five"}})
    assert r.status_code == 400
    # A contact attribute of the same name does not exist on companies.
    r = await client.post("/contacts", json={"external_id": "u", "custom_attributes": {"seats": 1}})
    assert error_of(r) == ("parameter_invalid", "Custom attribute 'seats' does not exist")


async def test_retrieve_list_shape(client: httpx.AsyncClient) -> None:
    co = await upsert(client, company_id="acme", name="Acme")
    for params in ({"company_id": "acme"}, {"name": "acme"}):
        body = (await client.get("/companies", params=params)).json()
        assert body["type"] == "list" and [c["id"] for c in body["data"]] == [co["id"]]
    r = await client.get("/companies", params={"company_id": "nope"})
    assert r.status_code == 404 and error_of(r) == ("company_not_found", "Company Not Found")


async def test_retrieve_single_shape(client: httpx.AsyncClient, emu: Emulator) -> None:
    # Real clients must accept both shapes; the admin switch makes the other one testable.
    emu.config.company_lookup_shape = "single"
    co = await upsert(client, company_id="acme", name="Acme")
    body = (await client.get("/companies", params={"company_id": "acme"})).json()
    assert body["type"] == "company" and body["id"] == co["id"]


async def test_get_update_delete_by_id(client: httpx.AsyncClient, client16: httpx.AsyncClient) -> None:
    co = await upsert(client, company_id="acme", name="Acme")
    assert (await client.get(f"/companies/{co['id']}")).json()["company_id"] == "acme"
    r = await client.get("/companies/ffffffffffffffffffffffff")
    assert error_of(r) == ("company_not_found", "Company Not Found")
    r = await client16.put(f"/companies/{co['id']}", json={"name": "Acme Inc"})
    assert r.json()["name"] == "Acme Inc"
    r = await client.put(f"/companies/{co['id']}", json={"company_id": "changed"})
    assert r.status_code == 400  # company_id cannot change
    user = await create_user(client, external_id="u1")
    await client.post(f"/contacts/{user['id']}/companies", json={"id": co["id"]})
    r = await client.delete(f"/companies/{co['id']}")
    assert r.json() == {"id": co["id"], "object": "company", "deleted": True}
    assert (await client.get(f"/contacts/{user['id']}")).json()["companies"]["data"] == []


async def test_attach_detach_and_lists(client: httpx.AsyncClient) -> None:
    co = await upsert(client, company_id="acme")
    user = await create_user(client, external_id="u1")
    hidden = (await client.get("/companies")).json()
    assert hidden["data"] == []  # companies without contacts are not listed
    r = await client.post(f"/contacts/{user['id']}/companies", json={"id": co["id"]})
    assert r.status_code == 200 and r.json()["user_count"] == 1
    again = await client.post(f"/contacts/{user['id']}/companies", json={"id": co["id"]})
    assert again.json()["user_count"] == 1  # attaching twice is harmless
    listed = (await client.get(f"/contacts/{user['id']}/companies")).json()
    assert [c["id"] for c in listed["companies"]] == [co["id"]]
    assert [c["id"] for c in (await client.get("/companies")).json()["data"]] == [co["id"]]
    members = (await client.get(f"/companies/{co['id']}/contacts")).json()
    assert [c["id"] for c in members["data"]] == [user["id"]]
    assert [c["id"] for c in (await client.post("/companies/list")).json()["data"]] == [co["id"]]
    r = await client.delete(f"/contacts/{user['id']}/companies/{co['id']}")
    assert r.status_code == 200 and r.json()["user_count"] == 0
    r = await client.delete(f"/contacts/{user['id']}/companies/{co['id']}")
    assert error_of(r)[0] == "company_not_found"


async def test_attach_errors(client: httpx.AsyncClient, emu: Emulator) -> None:
    co = await upsert(client, company_id="acme")
    user = await create_user(client, external_id="u1")
    r = await client.post(f"/contacts/{user['id']}/companies", json={})
    assert error_of(r) == ("parameter_not_found", "company not specified")
    r = await client.post(f"/contacts/{user['id']}/companies", json={"id": "ffffffffffffffffffffffff"})
    assert r.status_code == 404 and error_of(r)[0] == "company_not_found"
    r = await client.post("/contacts/ffffffffffffffffffffffff/companies", json={"id": co["id"]})
    assert error_of(r) == ("not_found", "User Not Found")
    # The 1000-company cap: fill the contact's associations directly, then one more attach fails.
    emu.store.contacts[user["id"]].company_ids = [f"{i:024x}" for i in range(1000)]
    r = await client.post(f"/contacts/{user['id']}/companies", json={"id": co["id"]})
    assert error_of(r) == (
        "contact_company_limit_exceeded",
        "Contact has reached the maximum of 1000 company associations",
    )


async def test_paging_companies(client: httpx.AsyncClient) -> None:
    user = await create_user(client, external_id="u1")
    for i in range(4):
        co = await upsert(client, company_id=f"c{i}")
        await client.post(f"/contacts/{user['id']}/companies", json={"id": co["id"]})
    body = (await client.get("/companies", params={"per_page": 3, "page": 2})).json()
    assert body["total_count"] == 4 and [c["company_id"] for c in body["data"]] == ["c3"]
    assert body["pages"]["total_pages"] == 2
