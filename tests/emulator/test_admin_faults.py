from __future__ import annotations

import json

import httpx
import pytest
from starlette.applications import Starlette

from streams.emulator.config import EmulatorConfig
from streams.emulator.faults import Faults
from streams.emulator.runtime import Emulator
from streams.emulator.server import running_emulator
from tests.emulator.conftest import AUTH, TOKEN, create_user, make_client


async def test_request_log(client: httpx.AsyncClient) -> None:
    await create_user(client, external_id="u1")
    await client.get("/contacts/ffffffffffffffffffffffff")
    await client.get("/_emulator/state")  # admin calls are not logged
    log = (await client.get("/_emulator/requests")).json()["requests"]
    assert [(e["method"], e["path"], e["status"]) for e in log] == [
        ("POST", "/contacts", 200),
        ("GET", "/contacts/ffffffffffffffffffffffff", 404),
    ]
    assert log[0]["request_body"] == {"role": "user", "external_id": "u1"}
    assert log[0]["response_body"]["external_id"] == "u1"
    assert log[1]["response_body"]["errors"][0]["code"] == "not_found"
    assert set(log[0]) == {
        "seq",
        "time",
        "method",
        "path",
        "query",
        "status",
        "request_body",
        "response_body",
    }
    assert TOKEN not in json.dumps(log)  # the Authorization header is never logged
    later = (await client.get("/_emulator/requests", params={"since": log[0]["seq"]})).json()["requests"]
    assert [e["seq"] for e in later] == [log[1]["seq"]]


async def test_request_log_time_is_the_receipt_time(client: httpx.AsyncClient, emu: Emulator) -> None:
    """``time`` is the emulator clock when the request arrived, before it was handled (the benchmarks
    measure publish → Intercom-call latency with it)."""
    readings = iter(range(1_700_000_000, 1_700_001_000))
    emu.clock = lambda: float(next(readings))  # every reading later than the one before
    await create_user(client, external_id="u1")
    entry = (await client.get("/_emulator/requests")).json()["requests"][0]
    contact = emu.store.contacts[entry["response_body"]["id"]]
    assert entry["time"] == 1_700_000_000  # the first reading: taken on arrival
    assert entry["time"] < contact.created_at  # and before the contact was made


async def test_log_is_a_ring_buffer(clock: object) -> None:
    from streams.emulator.app import create_app

    app = create_app(EmulatorConfig(rate_limit=0, request_log_size=3))
    async with make_client(app) as c:
        for _ in range(5):
            await c.get("/me", params={"n": "x"})
        log = (await c.get("/_emulator/requests")).json()["requests"]
    assert [e["seq"] for e in log] == [3, 4, 5]
    assert log[0]["query"] == "n=x"


async def test_state_and_reset(client: httpx.AsyncClient, emu: Emulator) -> None:
    user = await create_user(client, external_id="u1", email="a@b.c")
    await client.post(
        "/events", json={"event_name": "x", "created_at": 1, "user_id": "u1", "metadata": {"a": 1}}
    )
    await client.post(f"/contacts/{user['id']}/archive")
    await client.post("/companies", json={"company_id": "acme"})
    await client.post("/tags", json={"name": "VIP"})
    await client.post("/data_attributes", json={"name": "tier", "model": "contact", "data_type": "string"})
    state = (await client.get("/_emulator/state")).json()
    assert [c["id"] for c in state["contacts"]] == [user["id"]] and state["contacts"][0]["archived"] is True
    assert [c["company_id"] for c in state["companies"]] == ["acme"]
    ev = state["events"][0]
    assert {
        k: ev[k] for k in ("event_name", "created_at", "user_id", "email", "intercom_user_id", "type")
    } == {
        "event_name": "x",
        "created_at": 1,
        "user_id": "u1",
        "email": "a@b.c",
        "intercom_user_id": user["id"],
        "type": "event",
    }
    assert ev["metadata"] == {"a": 1} and ev["id"]
    assert [t["name"] for t in state["tags"]] == ["VIP"]
    assert [a["name"] for a in state["data_attributes"]] == ["tier"]
    emu.rate_limiter.configure(limit=5)
    await client.get("/me")
    await client.post("/_emulator/faults", json={"path": "/me", "status": 500})
    assert (await client.post("/_emulator/reset")).status_code == 200
    state = (await client.get("/_emulator/state")).json()
    assert all(state[k] == [] for k in ("contacts", "companies", "events", "tags", "data_attributes"))
    assert (await client.get("/_emulator/requests")).json()["requests"] == []
    r = await client.get("/me")  # the scripted fault is gone and the window restarted
    assert r.status_code == 200 and r.headers["X-RateLimit-Remaining"] == "4"


async def test_scripted_status_faults(client: httpx.AsyncClient) -> None:
    await create_user(client, external_id="u1")
    r = await client.post(
        "/_emulator/faults", json={"path": "/events", "method": "POST", "status": 503, "count": 3}
    )
    assert r.json()["faults"][0]["remaining"] == 3
    event = {"event_name": "x", "created_at": 1, "user_id": "u1"}
    assert (await client.get("/events", params={"type": "user", "user_id": "u1"})).status_code == 200
    statuses = [(await client.post("/events", json=event)).status_code for _ in range(4)]
    assert statuses == [503, 503, 503, 202]
    assert (await client.get("/_emulator/faults")).json()["faults"] == []


async def test_wildcard_paths_and_clear(client: httpx.AsyncClient) -> None:
    await client.post("/_emulator/faults", json={"path": "/contacts*", "status": 502, "count": 5})
    r = await client.get("/contacts/abc")
    assert r.status_code == 502 and r.json()["type"] == "error.list"
    assert "x-ratelimit-limit" not in r.headers
    assert (await client.get("/me")).status_code == 200
    await client.delete("/_emulator/faults")
    assert (await client.get("/contacts")).status_code == 200


async def test_slow_and_timeout_kinds_in_process(client: httpx.AsyncClient) -> None:
    await client.post("/_emulator/faults", json={"path": "/me", "kind": "slow", "delay_s": 0.01})
    assert (await client.get("/me")).status_code == 200
    await client.post("/_emulator/faults", json={"path": "/me", "kind": "timeout", "delay_s": 0.01})
    assert (await client.get("/me")).status_code == 504


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"path": 5},
        {"path": "/me", "kind": "melt"},
        {"path": "/me", "count": 0},
        {"path": "/me", "status": 42},
    ],
)
async def test_bad_fault_requests(client: httpx.AsyncClient, body: dict[str, object]) -> None:
    assert (await client.post("/_emulator/faults", json=body)).status_code == 400


async def test_config_endpoint(client: httpx.AsyncClient, emu: Emulator) -> None:
    r = await client.put("/_emulator/config", json={"search_lag_s": 2.5, "fault_rate": 0.25})
    assert (r.json()["search_lag_s"], r.json()["fault_rate"]) == (2.5, 0.25)
    assert emu.store.search_lag_s == 2.5 and emu.faults.rate == 0.25
    assert (await client.put("/_emulator/config", json={"bogus": 1})).status_code == 400
    assert (await client.put("/_emulator/config", json={"fault_rate": 3})).status_code == 400
    assert (await client.get("/_emulator/config")).json()["rate_limit"] == 0


def test_random_faults_are_reproducible_with_a_seed() -> None:
    def sequence(seed: int) -> list[tuple[str, int]]:
        faults = Faults(rate=0.5, seed=seed)
        out = []
        for _ in range(200):
            f = faults.next_fault("POST", "/events")
            out.append((f.kind, f.status) if f else ("none", 0))
        return out

    first = sequence(7)
    assert first == sequence(7)
    assert first != sequence(8)
    kinds = {k for k, _ in first}
    assert kinds == {"none", "status", "slow", "timeout", "drop"}
    assert {s for k, s in first if k == "status"} == {500, 502, 503, 504}


async def test_random_status_faults_over_http(app: Starlette, emu: Emulator) -> None:
    emu.set_fault_rate(1.0)
    # Only status faults here: the other kinds stall or cut connections (covered elsewhere).
    emu.faults._rng.random = iter([0.0, 0.1] * 50).__next__  # type: ignore[method-assign]
    async with make_client(app) as c:
        r = await c.get("/me")
    assert r.status_code in (500, 502, 503, 504)


def test_drop_and_timeout_over_a_real_socket() -> None:
    with (
        running_emulator(EmulatorConfig(rate_limit=0)) as base,
        httpx.Client(base_url=base, headers=AUTH, timeout=5) as c,
    ):
        assert c.get("/me").status_code == 200
        c.post("/_emulator/faults", json={"path": "/me", "kind": "drop"})
        with pytest.raises(httpx.TransportError):
            c.get("/me")
        c.post("/_emulator/faults", json={"path": "/me", "kind": "timeout", "delay_s": 2})
        with pytest.raises(httpx.ReadTimeout):
            c.get("/me", timeout=0.2)
        assert c.get("/me").status_code == 200
        log = c.get("/_emulator/requests").json()["requests"]
        assert [e["status"] for e in log][:2] == [200, 0]
