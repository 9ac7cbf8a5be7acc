"""The admin surface (/_emulator/*) answers as its OpenAPI description says, and the description
covers every admin route the app has (and no route it lacks)."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import httpx
import pytest
import yaml
from openapi_schema_validator import OAS30Validator
from starlette.applications import Starlette

from streams.emulator import admin

DESCRIPTION: dict[str, Any] = yaml.safe_load(
    files("streams.emulator").joinpath("openapi/emulator-admin.yaml").read_text()
)
SEEN: set[tuple[str, str, str]] = set()


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        section, name = node["$ref"].split("/")[-2:]
        node = DESCRIPTION["components"][section][name]
    return node


def _check(response: httpx.Response) -> None:
    method, path = response.request.method.lower(), response.request.url.path
    operation = DESCRIPTION["paths"][path][method]
    status = str(response.status_code)
    assert status in operation["responses"], f"{method.upper()} {path} answered {status}, not described"
    schema = _resolve(operation["responses"][status])["content"]["application/json"]["schema"]
    OAS30Validator({**schema, "components": DESCRIPTION["components"]}).validate(response.json())
    SEEN.add((method, path, status))


@pytest.fixture
async def admin_client(app: Starlette) -> Any:
    async def hook(response: httpx.Response) -> None:
        await response.aread()
        if response.request.url.path.startswith("/_emulator"):
            _check(response)

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://emulator", event_hooks={"response": [hook]}
    ) as c:
        yield c


def test_the_description_lists_exactly_the_admin_routes() -> None:
    described = {(p, m.upper()) for p, ops in DESCRIPTION["paths"].items() for m in ops}
    routed = {(r.path, m) for r in admin.routes for m in (r.methods or ()) if m != "HEAD"}
    assert described == routed


async def test_every_admin_operation_answers_as_described(admin_client: httpx.AsyncClient) -> None:
    c = admin_client
    made = (await c.post("/_emulator/workspaces", json={"token": "tok_own"})).json()
    own = {"Authorization": f"Bearer {made['token']}"}
    await c.post("/_emulator/workspaces", json={"token": "has space"})  # 400
    await c.post("/_emulator/workspaces", json={"token": "test-token"})  # 400: the default's token
    await c.post("/contacts", json={"role": "user", "external_id": "u1"}, headers=own)
    await c.get("/_emulator/requests", headers=own)
    await c.get("/_emulator/requests?since=x", headers=own)  # 400
    await c.get("/_emulator/requests", headers={"Authorization": "Bearer tok_nobody"})  # 404
    state = (await c.get("/_emulator/state", headers=own)).json()
    await c.put("/_emulator/state", json=state, headers=own)
    await c.put("/_emulator/state", json={"contacts": [{}]}, headers=own)  # 400
    await c.get("/_emulator/state", headers={"Authorization": "Bearer tok_nobody"})  # 404
    await c.put("/_emulator/state", json={}, headers={"Authorization": "Bearer tok_nobody"})  # 404
    await c.post("/_emulator/faults", json={"path": "/events", "count": 2}, headers=own)
    await c.post("/_emulator/faults", json={"path": "/events", "kind": "nope"}, headers=own)  # 400
    await c.get("/_emulator/faults", headers=own)
    await c.delete("/_emulator/faults", headers=own)
    await c.get("/_emulator/config", headers=own)
    await c.put("/_emulator/config", json={"latency_min_s": 0.01, "workspace_rate_limit": 5}, headers=own)
    await c.put("/_emulator/config", json={"nope": 1}, headers=own)  # 400
    await c.post("/_emulator/reset", headers=own)
    await c.delete("/_emulator/workspace", headers=own)
    await c.delete("/_emulator/workspace", headers=own)  # 404: already gone
    await c.delete("/_emulator/workspace", headers={"Authorization": "Bearer test-token"})  # 400
    for no_workspace in (
        c.post("/_emulator/reset", headers=own), c.get("/_emulator/faults", headers=own),
        c.post("/_emulator/faults", json={"path": "/x"}, headers=own),
        c.delete("/_emulator/faults", headers=own),
        c.get("/_emulator/config", headers=own), c.put("/_emulator/config", json={}, headers=own),
    ):  # fmt: skip
        await no_workspace
    described = {
        (m, p, s) for p, ops in DESCRIPTION["paths"].items() for m, op in ops.items() for s in op["responses"]
    }
    assert described - SEEN == set(), "described answers never exercised"
