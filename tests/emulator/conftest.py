from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from streams.emulator.app import create_app
from streams.emulator.clock import FakeClock
from streams.emulator.config import EmulatorConfig
from streams.emulator.runtime import Emulator
from tests.emulator import contract

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def config() -> EmulatorConfig:
    # Unlimited by default so tests that make many calls are not throttled; rate tests set it.
    return EmulatorConfig(rate_limit=0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(config: EmulatorConfig, clock: FakeClock) -> Starlette:
    return create_app(config, clock=clock)


@pytest.fixture
def emu(app: Starlette) -> Emulator:
    emulator: Emulator = app.state.emulator
    return emulator


def _checking_hook(default_version: str) -> Callable[[httpx.Response], Any]:
    async def hook(response: httpx.Response) -> None:
        await response.aread()
        request = response.request
        version = request.headers.get("Intercom-Version", default_version)
        if version in ("2.10", "2.16"):
            contract.check(version, request.method, request.url.path, response.status_code, response.content)

    return hook


def make_client(app: Starlette, version: str | None = None, **headers: str) -> httpx.AsyncClient:
    """An in-process client whose every answer is checked against the spec's response schema."""
    config: EmulatorConfig = app.state.emulator.config
    all_headers = {**AUTH, **headers}
    if version:
        all_headers["Intercom-Version"] = version
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://emulator",
        headers=all_headers,
        event_hooks={"response": [_checking_hook(config.api_version)]},
    )


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(app) as c:
        yield c


@pytest.fixture
async def client16(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(app, "2.16") as c:
        yield c


async def create_attribute(
    client: httpx.AsyncClient, name: str, data_type: str, model: str = "contact"
) -> None:
    r = await client.post("/data_attributes", json={"name": name, "model": model, "data_type": data_type})
    assert r.status_code == 200, r.text


async def create_user(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    r = await client.post("/contacts", json={"role": "user", **fields})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def error_of(response: httpx.Response) -> tuple[str, str]:
    body = response.json()
    assert body["type"] == "error.list"
    return body["errors"][0]["code"], body["errors"][0]["message"]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    stats = contract.STATS
    if stats.validated:
        print(
            f"\ncontract: {stats.validated} emulator answers validated against the spec, "
            f"{stats.skipped} skipped"
        )
