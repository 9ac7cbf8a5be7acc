from __future__ import annotations

import httpx
import pytest

from streams.emulator.runtime import Emulator
from tests.emulator.conftest import create_attribute, create_user, error_of


async def test_create_user_and_lead(client: httpx.AsyncClient) -> None:
    user = await create_user(client, external_id="u1", email="Ann@Example.com", name="Ann")
    assert user["type"] == "contact" and user["role"] == "user"
    assert len(user["id"]) == 24 and int(user["id"], 16) >= 0
    assert user["email_domain"] == "Example.com"
    lead = (await client.post("/contacts", json={"role": "lead"})).json()
    assert lead["role"] == "lead" and lead["external_id"] is None


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "only a name"}, "parameter_not_found"),  # anyOf email|external_id|role
        ({"role": "admin", "email": "a@b.c"}, "parameter_invalid"),
        ({"role": "user"}, "parameter_invalid"),  # a user needs email or external_id
        ({"email": 5}, "parameter_invalid"),
        ({"external_id": "u1", "owner_id": "12"}, "parameter_invalid"),  # 2.10 owner_id is an integer
        ({"external_id": "u1", "nickname": "x"}, "bad_request"),
    ],
)
async def test_create_rejects_invalid_bodies(
    client: httpx.AsyncClient, body: dict[str, object], code: str
) -> None:
    r = await client.post("/contacts", json=body)
    assert r.status_code == 400
    assert error_of(r)[0] == code


async def test_unknown_top_level_key_message(client: httpx.AsyncClient) -> None:
    r = await client.post("/contacts", json={"external_id": "u1", "test": 1})
    assert error_of(r) == ("bad_request", "bad 'test' parameter")


@pytest.mark.parametrize("clash", [{"external_id": "u1"}, {"email": "ANN@example.com"}])
async def test_duplicate_create_is_409_with_id(client: httpx.AsyncClient, clash: dict[str, str]) -> None:
    first = await create_user(client, external_id="u1", email="ann@example.com")
    r = await client.post("/contacts", json={"role": "user", **clash})
    assert r.status_code == 409
    assert error_of(r) == (
        "conflict",
        f"A contact matching those details already exists with id={first['id']}",
    )


async def test_duplicate_of_archived_contact(client: httpx.AsyncClient) -> None:
    first = await create_user(client, external_id="u1")
    assert (await client.post(f"/contacts/{first['id']}/archive")).json() == {
        "type": "contact",
        "id": first["id"],
        "external_id": "u1",
        "archived": True,
    }
    r = await client.post("/contacts", json={"external_id": "u1"})
    assert r.status_code == 409
    assert (
        error_of(r)[1] == f"An archived contact matching those details already exists with id={first['id']}"
    )
    r = await client.post(f"/contacts/{first['id']}/unarchive")
    assert r.json()["archived"] is False


async def test_lead_may_share_a_users_email(client: httpx.AsyncClient) -> None:
    await create_user(client, external_id="u1", email="a@b.c")
    r = await client.post("/contacts", json={"role": "lead", "email": "a@b.c"})
    assert r.status_code == 200


async def test_owner_id_type_follows_version(client16: httpx.AsyncClient) -> None:
    r = await client16.post("/contacts", json={"external_id": "u1", "owner_id": "12"})
    assert r.status_code == 200 and r.json()["owner_id"] == "12"
    r = await client16.post("/contacts", json={"external_id": "u2", "owner_id": 12})
    assert r.status_code == 400


async def test_email_verified_needs_email_on_216(
    client: httpx.AsyncClient, client16: httpx.AsyncClient, emu: Emulator
) -> None:
    r = await client16.post("/contacts", json={"external_id": "u1", "email_verified": True})
    assert r.status_code == 400
    r = await client16.post("/contacts", json={"email": "a@b.c", "email_verified": True})
    assert r.status_code == 200 and emu.store.contacts[r.json()["id"]].email_verified is True
    r = await client.post("/contacts", json={"email": "b@b.c", "email_verified": True})
    assert r.status_code == 400 and error_of(r)[0] == "bad_request"  # not a 2.10 field


async def test_update_is_partial(client: httpx.AsyncClient, emu: Emulator) -> None:
    c = await create_user(client, external_id="u1", email="a@b.c", name="Ann")
    emu.clock.advance(5)  # type: ignore[attr-defined]
    r = await client.put(f"/contacts/{c['id']}", json={"phone": "+100"})
    body = r.json()
    assert r.status_code == 200
    assert (body["name"], body["email"], body["phone"]) == ("Ann", "a@b.c", "+100")
    assert body["updated_at"] == c["updated_at"] + 5


async def test_update_errors(client: httpx.AsyncClient) -> None:
    a = await create_user(client, external_id="u1")
    await create_user(client, external_id="u2")
    r = await client.put("/contacts/000000000000000000000000", json={"name": "x"})
    assert r.status_code == 404 and error_of(r) == ("not_found", "Contact Not Found")
    r = await client.put(f"/contacts/{a['id']}", json={"role": "lead"})
    assert error_of(r) == ("client_error", "Contact with user role can't be converted to a lead")
    r = await client.put(f"/contacts/{a['id']}", json={"external_id": "u2"})
    assert r.status_code == 409
    r = await client.put(f"/contacts/{a['id']}", json={"signed_up_at": "yesterday"})
    assert r.status_code == 400


async def test_lead_can_become_user(client: httpx.AsyncClient) -> None:
    lead = (await client.post("/contacts", json={"role": "lead"})).json()
    r = await client.put(f"/contacts/{lead['id']}", json={"role": "user", "external_id": "u9"})
    assert r.json()["role"] == "user"


async def test_get_and_delete(client: httpx.AsyncClient) -> None:
    c = await create_user(client, external_id="u1")
    assert (await client.get(f"/contacts/{c['id']}")).json()["external_id"] == "u1"
    r = await client.delete(f"/contacts/{c['id']}")
    assert r.json() == {"type": "contact", "id": c["id"], "external_id": "u1", "deleted": True}
    assert (await client.get(f"/contacts/{c['id']}")).status_code == 404
    assert (await client.delete(f"/contacts/{c['id']}")).status_code == 404


async def test_list_pages_with_cursor(client: httpx.AsyncClient) -> None:
    ids = [(await create_user(client, external_id=f"u{i}"))["id"] for i in range(5)]
    seen: list[str] = []
    r = await client.get("/contacts", params={"per_page": 2})
    while True:
        body = r.json()
        assert body["total_count"] == 5 and body["pages"]["total_pages"] == 3
        seen += [c["id"] for c in body["data"]]
        nxt = body["pages"].get("next")
        if not nxt:
            break
        r = await client.get("/contacts", params={"per_page": 2, "starting_after": nxt["starting_after"]})
    assert sorted(seen) == sorted(ids) and len(seen) == 5
    assert (await client.get("/contacts", params={"starting_after": "garbage!"})).status_code == 400


async def test_custom_attributes(client: httpx.AsyncClient) -> None:
    r = await client.post("/contacts", json={"external_id": "u1", "custom_attributes": {"plan_tier": "gold"}})
    assert r.status_code == 400
    assert error_of(r) == ("parameter_invalid", "Custom attribute 'plan_tier' does not exist")
    await create_attribute(client, "plan_tier", "string")
    await create_attribute(client, "seats", "integer")
    r = await client.post("/contacts", json={"external_id": "u1", "custom_attributes": {"seats": "many"}})
    assert r.status_code == 400 and error_of(r)[0] == "parameter_invalid"
    c = await create_user(client, external_id="u1", custom_attributes={"plan_tier": "gold", "seats": 3})
    assert c["custom_attributes"] == {"plan_tier": "gold", "seats": 3}
    r = await client.put(f"/contacts/{c['id']}", json={"custom_attributes": {"seats": None}})
    assert r.json()["custom_attributes"] == {"plan_tier": "gold"}


async def test_auto_create_attributes_flag(client: httpx.AsyncClient, emu: Emulator) -> None:
    emu.config.auto_create_attributes = True
    c = await create_user(client, external_id="u1", custom_attributes={"score": 1.5})
    assert c["custom_attributes"] == {"score": 1.5}
    attrs = (await client.get("/data_attributes", params={"model": "contact"})).json()["data"]
    assert {"name": "score", "data_type": "float"}.items() <= next(
        a for a in attrs if a["name"] == "score"
    ).items()


async def test_merge_lead_into_user_210(client: httpx.AsyncClient) -> None:
    user = await create_user(client, external_id="u1")
    lead = (await client.post("/contacts", json={"role": "lead", "email": "l@x.io", "name": "Lee"})).json()
    r = await client.post("/contacts/merge", json={"from": lead["id"], "into": user["id"]})
    assert r.status_code == 200
    assert (r.json()["id"], r.json()["email"], r.json()["name"]) == (user["id"], "l@x.io", "Lee")
    gone = await client.get(f"/contacts/{lead['id']}")
    assert gone.status_code == 404
    r = await client.post("/contacts/merge", json={"from": lead["id"], "into": user["id"]})
    assert r.status_code == 404
    listed = (await client.get("/contacts")).json()
    assert [c["id"] for c in listed["data"]] == [user["id"]]


async def test_merge_rules(client: httpx.AsyncClient) -> None:
    a = await create_user(client, external_id="u1")
    b = await create_user(client, external_id="u2")
    r = await client.post("/contacts/merge", json={"from": a["id"], "into": b["id"]})
    assert r.status_code == 400  # only leads can be merged
    r = await client.post("/contacts/merge", json={"from": a["id"]})
    assert error_of(r)[0] == "parameter_not_found"


async def test_merge_216_validation_and_410(client16: httpx.AsyncClient) -> None:
    user = await create_user(client16, external_id="u1", email="same@x.io")
    lead = (await client16.post("/contacts", json={"role": "lead", "email": "other@x.io"})).json()
    r = await client16.post("/contacts/merge", json={"from": lead["id"], "into": user["id"]})
    assert r.status_code == 400 and error_of(r)[0] == "invalid_merge"
    r = await client16.post(
        "/contacts/merge", json={"from": lead["id"], "into": user["id"], "skip_duplicate_validation": True}
    )
    assert r.status_code == 200
    gone = await client16.get(f"/contacts/{lead['id']}")
    assert gone.status_code == 410
    assert error_of(gone)[0] == "contact_merged"
    assert gone.headers["Link"] == f'</contacts/{user["id"]}>; rel="canonical"'


async def test_merge_chain_link_follows_hops(client16: httpx.AsyncClient, emu: Emulator) -> None:
    # Intercom only merges leads into users, so build a two-hop chain directly in the store.
    from streams.emulator.store import MergeRecord

    target = await create_user(client16, external_id="u1")
    emu.store.merged["a" * 24] = MergeRecord(into="b" * 24, external_id=None)
    emu.store.merged["b" * 24] = MergeRecord(into=target["id"], external_id=None)
    r = await client16.get(f"/contacts/{'a' * 24}")
    assert r.headers["Link"] == f'</contacts/{target["id"]}>; rel="canonical"'


async def test_find_by_external_id(client16: httpx.AsyncClient) -> None:
    user = await create_user(client16, external_id="u1")
    r = await client16.get("/contacts/find_by_external_id/u1")
    assert r.status_code == 200 and r.json()["id"] == user["id"]
    assert (await client16.get("/contacts/find_by_external_id/nobody")).status_code == 404
