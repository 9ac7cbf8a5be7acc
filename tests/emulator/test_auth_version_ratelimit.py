from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from streams.emulator.clock import FakeClock
from streams.emulator.config import EmulatorConfig
from streams.emulator.runtime import Emulator
from tests.emulator.conftest import error_of, make_client


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic test-token"},
        {"Authorization": "Bearer"},
    ],
)
async def test_bad_credentials_are_401_without_rate_headers(app: Starlette, headers: dict[str, str]) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://e") as raw:
        r = await raw.get("/me", headers=headers)
    assert r.status_code == 401
    assert error_of(r) == ("unauthorized", "Access Token Invalid")
    assert "x-ratelimit-limit" not in r.headers


async def test_me_answers_for_a_valid_token(client: httpx.AsyncClient, emu: Emulator) -> None:
    r = await client.get("/me")
    assert r.status_code == 200
    assert r.json()["app"]["id_code"] == emu.config.workspace_id


async def test_every_configured_token_is_accepted(clock: FakeClock) -> None:
    from streams.emulator.app import create_app

    app = create_app(EmulatorConfig(tokens=["a", "b"]), clock=clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://e") as raw:
        for token, status in (("a", 200), ("b", 200), ("test-token", 401)):
            r = await raw.get("/me", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == status


@pytest.mark.parametrize(
    ("version", "fragment"), [("3.0", "not valid"), ("banana", "not valid"), ("2.11", "not emulated")]
)
async def test_unknown_or_unserved_version_is_rejected(app: Starlette, version: str, fragment: str) -> None:
    async with make_client(app, version) as c:
        r = await c.get("/me")
    assert r.status_code == 400
    code, message = error_of(r)
    assert code == "intercom_version_invalid"
    assert fragment in message


async def test_default_version_applies_without_header(client: httpx.AsyncClient) -> None:
    r = await client.post("/contacts", json={"external_id": "u1", "owner_id": 7})
    assert r.status_code == 200
    assert r.json()["owner_id"] == 7  # 2.10: integer


async def test_216_only_route_under_210(client: httpx.AsyncClient) -> None:
    r = await client.get("/contacts/find_by_external_id/u1")
    assert r.status_code == 400
    assert error_of(r)[0] == "intercom_version_invalid"


async def test_rate_limit_headers_and_429(app: Starlette, emu: Emulator, clock: FakeClock) -> None:
    emu.rate_limiter.configure(limit=3, window_s=10)
    clock.now = 1_700_000_005.0
    async with make_client(app) as c:
        seen = [await c.get("/me") for _ in range(4)]
    assert [r.status_code for r in seen] == [200, 200, 200, 429]
    assert [r.headers["X-RateLimit-Remaining"] for r in seen] == ["2", "1", "0", "0"]
    assert {r.headers["X-RateLimit-Limit"] for r in seen} == {"3"}
    assert {r.headers["X-RateLimit-Reset"] for r in seen} == {"1700000010"}
    assert error_of(seen[-1]) == ("rate_limit_exceeded", "Exceeded rate limit of 3 in 10_seconds")


async def test_rate_window_resets_and_is_per_token(app: Starlette, emu: Emulator, clock: FakeClock) -> None:
    emu.config.tokens.append("other")
    emu.rate_limiter.configure(limit=1, window_s=10)
    async with make_client(app) as c, make_client(app, Authorization="Bearer other") as other:
        assert (await c.get("/me")).status_code == 200
        assert (await c.get("/me")).status_code == 429
        assert (await other.get("/me")).status_code == 200  # separate budget
        clock.advance(10)
        r = await c.get("/me")
        assert r.status_code == 200
        assert r.headers["X-RateLimit-Remaining"] == "0"


async def test_duplicate_events_count_against_the_limit(app: Starlette, emu: Emulator) -> None:
    async with make_client(app) as c:
        await c.post("/contacts", json={"external_id": "u1"})
        emu.rate_limiter.configure(limit=2, window_s=10)
        event = {"event_name": "x", "created_at": 1, "user_id": "u1"}
        assert (await c.post("/events", json=event)).status_code == 202
        assert (await c.post("/events", json=event)).status_code == 202
        assert (await c.post("/events", json=event)).status_code == 429


async def test_unlimited_sends_no_rate_headers(client: httpx.AsyncClient) -> None:
    for _ in range(100):
        r = await client.get("/me")
        assert r.status_code == 200
    assert "x-ratelimit-limit" not in r.headers


async def test_rate_limit_changes_live_via_admin(app: Starlette) -> None:
    async with make_client(app) as c:
        r = await c.put("/_emulator/config", json={"rate_limit": 1, "rate_window_s": 60})
        assert r.json()["rate_limit"] == 1
        assert (await c.get("/me")).headers["X-RateLimit-Limit"] == "1"
        assert (await c.get("/me")).status_code == 429
        await c.put("/_emulator/config", json={"rate_limit": 0})
        assert (await c.get("/me")).status_code == 200
