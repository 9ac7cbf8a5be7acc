"""Garbage in must give a clear Intercom-style error, never a 500 from the emulator itself."""

from __future__ import annotations

import httpx
import pytest

from tests.emulator.conftest import error_of

CID = "ffffffffffffffffffffffff"
WRITES = [
    ("POST", "/contacts"),
    ("PUT", f"/contacts/{CID}"),
    ("POST", "/contacts/search"),
    ("POST", "/contacts/merge"),
    ("POST", f"/contacts/{CID}/companies"),
    ("POST", f"/contacts/{CID}/tags"),
    ("POST", "/companies"),
    ("PUT", f"/companies/{CID}"),
    ("POST", "/events"),
    ("POST", "/tags"),
    ("POST", "/data_attributes"),
    ("PUT", "/data_attributes/1"),
]
GARBAGE = [
    b"{not json",
    b"\xff\xfe\x00garbage",
    b"[1, 2, 3]",
    b'"a string"',
    b"42",
    b"null",
    b'{"a": {"b": {"c": [1, {"d": null}]}}}',
    b'{"query": {"operator": "AND", "value": "nope"}}',
    b'{"name": ["x"], "email": {"y": 1}, "event_name": 5, "created_at": -1, "id": []}',
]


@pytest.mark.parametrize(("method", "path"), WRITES)
@pytest.mark.parametrize("payload", GARBAGE)
async def test_garbage_is_a_4xx_error_list(
    client: httpx.AsyncClient, method: str, path: str, payload: bytes
) -> None:
    r = await client.request(method, path, content=payload, headers={"Content-Type": "application/json"})
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert r.json()["type"] == "error.list"


async def test_malformed_json_is_parameter_invalid(client: httpx.AsyncClient) -> None:
    r = await client.post("/contacts", content=b"{oops", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and error_of(r)[0] == "parameter_invalid"


async def test_huge_body_is_413(client: httpx.AsyncClient) -> None:
    body = b'{"name": "' + b"x" * (1024 * 1024 + 10) + b'"}'
    r = await client.post("/contacts", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and error_of(r)[0] == "request_too_large"


@pytest.mark.parametrize(
    ("method", "path"),
    [("PATCH", "/contacts"), ("DELETE", "/companies"), ("GET", "/contacts/merge"), ("PUT", "/events")],
)
async def test_wrong_method_is_404_error_list(client: httpx.AsyncClient, method: str, path: str) -> None:
    r = await client.request(method, path)
    assert r.status_code == 404 and error_of(r)[0] == "not_found"


async def test_unknown_path(client: httpx.AsyncClient) -> None:
    r = await client.get("/nothing/here")
    assert r.status_code == 404 and error_of(r) == ("not_found", "Resource Not Found")


@pytest.mark.parametrize(
    "params", [{"per_page": "abc"}, {"per_page": "0"}, {"per_page": "-3"}, {"starting_after": "%%%"}]
)
async def test_bad_query_parameters(client: httpx.AsyncClient, params: dict[str, str]) -> None:
    r = await client.get("/contacts", params=params)
    assert r.status_code == 400 and error_of(r)[0] == "parameter_invalid"


async def test_huge_per_page_is_capped(client: httpx.AsyncClient) -> None:
    r = await client.get("/contacts", params={"per_page": "100000"})
    assert r.json()["pages"]["per_page"] == 150


@pytest.mark.parametrize(
    "payload",
    [b"[" * 200_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000, b'{"external_id": NaN}', b'{"x": Infinity}'],
)
async def test_pathological_json(client: httpx.AsyncClient, payload: bytes) -> None:
    r = await client.post("/contacts", content=payload, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and error_of(r)[0] == "parameter_invalid"
    log = (await client.get("/_emulator/requests")).json()["requests"]
    assert isinstance(log[-1]["request_body"], str)  # logged as text, not parsed


async def test_out_of_range_timestamps(client: httpx.AsyncClient) -> None:
    r = await client.post("/contacts", json={"external_id": "u1", "signed_up_at": 10**30})
    assert r.status_code == 200
    r = await client.post(
        "/contacts/search", json={"query": {"field": "signed_up_at", "operator": "=", "value": 10**30}}
    )
    assert r.status_code == 400
    assert (
        await client.post("/events", json={"event_name": "x", "created_at": 10**30, "user_id": "u1"})
    ).is_success
    r = await client.get("/events", params={"type": "user", "user_id": "u1", "summary": "true"})
    assert r.status_code == 200


async def test_owner_must_be_an_admin_id(client: httpx.AsyncClient, client16: httpx.AsyncClient) -> None:
    r = await client16.post("/contacts", json={"external_id": "u1", "owner_id": "someone"})
    assert error_of(r) == ("parameter_invalid", "The owner specified is not a member of the workspace")
    await client16.post("/contacts", json={"external_id": "u2", "owner_id": "7"})
    await client.post("/contacts", json={"external_id": "u3", "owner_id": 12})
    r = await client16.post(
        "/contacts/search",
        json={"query": {"field": "role", "operator": "=", "value": "user"}, "sort": {"field": "owner_id"}},
    )
    assert [c["owner_id"] for c in r.json()["data"]] == ["7", "12"]  # strings sort as strings


@pytest.mark.parametrize("body", [{"search_lag_s": -1}, {"rate_window_s": 0}, {"fault_rate": "x"}])
async def test_admin_config_rejects_nonsense(client: httpx.AsyncClient, body: dict[str, object]) -> None:
    assert (await client.put("/_emulator/config", json=body)).status_code == 400
