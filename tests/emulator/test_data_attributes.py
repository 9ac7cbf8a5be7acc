from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.emulator.conftest import create_attribute, error_of


async def test_list_standard_and_custom_per_model(client: httpx.AsyncClient) -> None:
    await create_attribute(client, "tier", "string")
    await create_attribute(client, "seats", "integer", model="company")
    contact = (await client.get("/data_attributes", params={"model": "contact"})).json()["data"]
    names = {(a["name"], a["custom"]) for a in contact}
    assert ("email", False) in names and ("tier", True) in names and ("seats", True) not in names
    tier = next(a for a in contact if a["name"] == "tier")
    assert tier["full_name"] == "custom_attributes.tier" and isinstance(tier["id"], int)
    both = (await client.get("/data_attributes")).json()["data"]
    assert {a["model"] for a in both} == {"contact", "company"}


async def test_conversation_model_by_version(client: httpx.AsyncClient, client16: httpx.AsyncClient) -> None:
    assert (await client.get("/data_attributes", params={"model": "conversation"})).status_code == 200
    r = await client16.get("/data_attributes", params={"model": "conversation"})
    assert r.status_code == 422 and error_of(r)[0] == "parameter_invalid"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "a.b", "model": "contact", "data_type": "string"}, "must only contain alphanumeric"),
        ({"name": "email", "model": "contact", "data_type": "string"}, "standard attributes for your people"),
        ({"name": "x", "model": "conversation", "data_type": "string"}, "must be either contact or company"),
        ({"name": "x", "model": "contact", "data_type": "text"}, "Data Type isn't an option"),
        ({"name": "x", "model": "contact"}, "required"),
        (
            {"name": "x", "model": "contact", "data_type": "options", "options": [{"value": "a"}]},
            "two options",
        ),
    ],
)
async def test_create_errors(client: httpx.AsyncClient, body: dict[str, Any], message: str) -> None:
    r = await client.post("/data_attributes", json=body)
    assert r.status_code == 400
    assert message in error_of(r)[1]


async def test_duplicate_names_across_models(client: httpx.AsyncClient) -> None:
    await create_attribute(client, "tier", "string", model="company")
    r = await client.post(
        "/data_attributes", json={"name": "tier", "model": "contact", "data_type": "string"}
    )
    assert error_of(r) == (
        "parameter_invalid",
        "You already have 'tier' in your company data. To save this as new people data, "
        "use a different name.",
    )


@pytest.mark.parametrize("version", ["2.10", "2.16"])
async def test_list_attribute_options(client: httpx.AsyncClient, version: str) -> None:
    body = {
        "name": "plan",
        "model": "contact",
        "data_type": "options",
        "options": [{"value": "a"}, {"value": "b"}],
    }
    r = await client.post("/data_attributes", json=body, headers={"Intercom-Version": version})
    assert r.status_code == 200, r.text
    assert r.json()["options"] == ["a", "b"]
    ok = await client.post("/contacts", json={"external_id": "u1", "custom_attributes": {"plan": "a"}})
    assert ok.status_code == 200
    bad = await client.post("/contacts", json={"external_id": "u2", "custom_attributes": {"plan": "z"}})
    assert bad.status_code == 400


async def test_update_and_archive(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/data_attributes", json={"name": "tier", "model": "contact", "data_type": "string"}
    )
    attr_id = r.json()["id"]
    r = await client.put(f"/data_attributes/{attr_id}", json={"description": "Plan tier"})
    assert r.json()["description"] == "Plan tier"
    r = await client.put(f"/data_attributes/{attr_id}", json={"data_type": "integer"})
    assert error_of(r)[0] == "bad_request"  # the data type cannot be changed through the API
    r = await client.put(f"/data_attributes/{attr_id}", json={"archived": True})
    assert r.json()["archived"] is True
    r = await client.post("/contacts", json={"external_id": "u1", "custom_attributes": {"tier": "x"}})
    assert error_of(r) == ("parameter_invalid", "Custom attribute 'tier' does not exist")
    listed = (await client.get("/data_attributes", params={"model": "contact"})).json()["data"]
    assert "tier" not in {a["name"] for a in listed}
    archived = (
        await client.get("/data_attributes", params={"model": "contact", "include_archived": "true"})
    ).json()
    assert "tier" in {a["name"] for a in archived["data"]}
    r = await client.put(f"/data_attributes/{attr_id}", json={"archived": False})
    assert (
        await client.post("/contacts", json={"external_id": "u1", "custom_attributes": {"tier": "x"}})
    ).is_success
    r = await client.put("/data_attributes/999999", json={"archived": True})
    assert error_of(r) == ("field_not_found", "We couldn't find that data attribute to update")
