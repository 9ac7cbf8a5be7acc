"""The official OpenAPI descriptions (shipped in ./openapi), parsed once and turned into validators.

A few component schemas are wrong in ways the real API is not (intercom-api.md §10); those are
patched here, in one place, so request and response validation agree on the same corrected spec.
"""

from __future__ import annotations

import copy
import os
import re
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema.exceptions import ValidationError, best_match
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

OPENAPI_DIR = Path(__file__).parent / "openapi"
_load_lock = threading.Lock()

# Every value the header accepts in the 2.16 description; the emulator serves 2.10 and 2.16 only.
KNOWN_VERSIONS = frozenset(
    [f"1.{i}" for i in range(5)] + [f"2.{i}" for i in range(17)] + ["Preview", "Unstable"]
)


def _spec_dir() -> Path:
    env = os.environ.get("INTERCOM_OPENAPI_DIR")
    return Path(env) if env else OPENAPI_DIR


def _patch(doc: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of `doc` whose broken component schemas are corrected (only those are copied)."""
    schemas = dict(doc["components"]["schemas"])

    def edit(name: str) -> dict[str, Any]:
        schemas[name] = copy.deepcopy(schemas[name])
        return schemas[name]

    # §10.1: metadata allows numbers, rich links and money; the prose rules are enforced in events.py.
    edit("create_data_event_request")["properties"]["metadata"] = {"type": "object"}
    # §10.2: company custom attributes are typed by their data attribute, not strings only.
    for name in ("create_or_update_company_request", "update_company_request", "company"):
        if name in schemas:
            edit(name)["properties"]["custom_attributes"] = {"type": "object"}
    # §10.7: `IN []` matches both array branches of the 2.10 oneOf; accept it (anyOf). The value is
    # declared nullable, but OAS 3.0 `nullable` has no effect without `type`, so allow null explicitly.
    value = edit("single_filter_search_request")["properties"]["value"]
    value["anyOf"] = [*value.pop("oneOf"), {"enum": [None]}]
    patched = dict(doc)
    patched["components"] = dict(doc["components"], schemas=schemas)
    return patched


@lru_cache(maxsize=4)
def load_document(version: str) -> dict[str, Any]:
    with _load_lock:
        path = _spec_dir() / f"{version}-api.intercom.io.yaml"
        with path.open("rb") as fh:
            raw = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        return _patch(raw)


def _uri(version: str) -> str:
    return f"urn:intercom-openapi:{version}"


@lru_cache(maxsize=4)
def _registry(version: str) -> Registry:
    resource: Resource[Any] = Resource.from_contents(load_document(version), default_specification=DRAFT4)
    return Registry().with_resource(_uri(version), resource)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def pointer(*tokens: str) -> str:
    return "/" + "/".join(_escape(t) for t in tokens)


_validators: dict[tuple[str, str], Any] = {}
_validators_lock = threading.Lock()


def validator(version: str, ptr: str) -> Any:
    key = (version, ptr)
    with _validators_lock:
        v = _validators.get(key)
        if v is None:
            v = OAS30Validator({"$ref": f"{_uri(version)}#{ptr}"}, registry=_registry(version))
            _validators[key] = v
        return v


def schema_pointer(name: str) -> str:
    return pointer("components", "schemas", name)


def first_error(version: str, ptr: str, instance: Any) -> ValidationError | None:
    return best_match(validator(version, ptr).iter_errors(instance))


def operation(version: str, template: str, method: str) -> dict[str, Any] | None:
    return load_document(version)["paths"].get(template, {}).get(method.lower())


def request_body_pointer(version: str, template: str, method: str) -> str | None:
    op = operation(version, template, method)
    if not op or "requestBody" not in op:
        return None
    if "schema" not in op["requestBody"].get("content", {}).get("application/json", {}):
        return None
    return pointer("paths", template, method.lower(), "requestBody", "content", "application/json", "schema")


def response_pointer(version: str, template: str, method: str, status: int) -> str | None:
    op = operation(version, template, method)
    if not op:
        return None
    resp = op.get("responses", {}).get(str(status))
    if not resp or "schema" not in resp.get("content", {}).get("application/json", {}):
        return None
    return pointer(
        "paths", template, method.lower(), "responses", str(status), "content", "application/json", "schema"
    )


@lru_cache(maxsize=4)
def _templates(version: str) -> list[tuple[re.Pattern[str], str]]:
    out = []
    for template in load_document(version)["paths"]:
        regex = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        out.append((re.compile(regex), template))
    # Literal segments win over parameters: /contacts/search before /contacts/{id}.
    out.sort(key=lambda item: item[1].count("{"))
    return out


def match_template(version: str, method: str, path: str) -> str | None:
    for regex, template in _templates(version):
        if regex.match(path) and operation(version, template, method):
            return template
    return None
