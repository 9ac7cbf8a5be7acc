"""Property-based requests from the official spec against every operation the emulator serves:
whatever schemathesis generates, the emulator never answers with a server error."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from starlette.routing import Match

from streams.emulator import spec
from streams.emulator.app import create_app
from streams.emulator.config import EmulatorConfig
from tests.emulator import contract
from tests.emulator.conftest import AUTH

APP = create_app(EmulatorConfig(rate_limit=0, api_version="2.10"))


def _served(template: str, method: str) -> bool:
    path = re.sub(r"\{[^}]+\}", "x", template)
    scope = {"type": "http", "path": path, "method": method.upper(), "root_path": ""}
    for route in APP.router.routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return True
    return False


def served_schema(version: str) -> dict[str, Any]:
    """The version's spec, cut down to the operations the emulator implements."""
    doc = spec.load_document(version)
    paths: dict[str, Any] = {}
    for template, ops in doc["paths"].items():
        kept = {m: op for m, op in ops.items() if m == "parameters" or _served(template, m)}
        if set(kept) - {"parameters"}:
            paths[template] = kept
    return {**doc, "paths": paths, "servers": [{"url": "/"}]}


def test_the_cut_down_schema_covers_the_pipeline_operations() -> None:
    for version in ("2.10", "2.16"):
        paths = served_schema(version)["paths"]
        assert {"/contacts", "/contacts/search", "/companies", "/events", "/tags", "/data_attributes"} <= set(
            paths
        )
        assert len([m for ops in paths.values() for m in ops if m != "parameters"]) >= 30


SCHEMAS = {version: schemathesis.openapi.from_dict(served_schema(version)) for version in ("2.10", "2.16")}
for _schema in SCHEMAS.values():
    _schema.app = APP


def _run(case: Any, version: str) -> None:
    response = case.call(headers={**AUTH, "Intercom-Version": version})
    case.validate_response(response, checks=[not_a_server_error])
    # Whatever was generated, the answer must also match the spec's declared response schema.
    path = urlsplit(response.request.url).path
    contract.check(version, response.request.method, path, response.status_code, response.content)


_SETTINGS = settings(
    max_examples=4, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True
)


@pytest.mark.filterwarnings("ignore")
@SCHEMAS["2.10"].parametrize()
@_SETTINGS
def test_no_server_errors_210(case: Any) -> None:
    _run(case, "2.10")


@pytest.mark.filterwarnings("ignore")
@SCHEMAS["2.16"].parametrize()
@_SETTINGS
def test_no_server_errors_216(case: Any) -> None:
    _run(case, "2.16")
