"""Request parsing and validation against the selected version's OpenAPI request schemas."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from jsonschema.exceptions import ValidationError

from streams.emulator import spec
from streams.emulator.errors import ApiError


def _no_constants(name: str) -> Any:
    # NaN and Infinity are not JSON; accepting them would make answers unserialisable later.
    raise ValueError(f"{name} is not valid JSON")


def loads(raw: bytes) -> Any:
    """Strict JSON: no NaN/Infinity; pathological nesting is a parse error, not a crash."""
    try:
        return json.loads(raw, parse_constant=_no_constants)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def parse_json(raw: bytes) -> Any:
    if not raw.strip():
        return {}
    try:
        return loads(raw)
    except ValueError:  # includes UnicodeDecodeError
        raise ApiError(
            400, "parameter_invalid", "There was a problem parsing the request body as JSON"
        ) from None


def _resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = doc
        for token in node["$ref"].lstrip("#/").split("/"):
            target = target[token.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


@lru_cache(maxsize=256)
def allowed_keys(version: str, ptr: str) -> frozenset[str] | None:
    """Top-level property names a body schema declares (through oneOf/anyOf/allOf), or None if the
    schema is not an object schema with declared properties."""
    doc = spec.load_document(version)
    node = _resolve(doc, {"$ref": "#" + ptr})
    keys: set[str] = set()

    def collect(n: dict[str, Any]) -> None:
        n = _resolve(doc, n)
        keys.update(n.get("properties", {}))
        for combinator in ("oneOf", "anyOf", "allOf"):
            for sub in n.get(combinator, []):
                collect(sub)

    collect(node)
    return frozenset(keys) if keys else None


def _describe(err: ValidationError) -> ApiError:
    field = ".".join(str(p) for p in err.absolute_path) or None
    if err.validator == "required":
        missing = err.message.split("'")[1] if "'" in err.message else err.message
        name = f"{field}.{missing}" if field else missing
        return ApiError(400, "parameter_not_found", f"'{name}' parameter is required", field=name)
    if err.validator == "anyOf" and all("required" in b for b in err.validator_value):
        sets = [list(b["required"]) for b in err.validator_value]
        common = [k for k in sets[0] if all(k in s for s in sets)]
        alternatives = [k for s in sets for k in s if k not in common]
        message = (
            f"{', '.join(common)} and one of {', '.join(alternatives)} are required"
            if common
            else f"one of {', '.join(alternatives)} is required"
        )
        return ApiError(400, "parameter_not_found", message, field=field)
    where = f"'{field}'" if field else "request body"
    return ApiError(400, "parameter_invalid", f"{where}: {err.message}", field=field)


def validate(version: str, ptr: str, body: Any, *, reject_unknown: bool = True) -> None:
    """Raise an Intercom-style 400 if `body` does not satisfy the schema at `ptr`.

    The spec never sets additionalProperties:false, yet Intercom rejects unknown top-level keys
    (intercom-api.md §10.4); `reject_unknown` enforces that."""
    if reject_unknown and isinstance(body, dict):
        allowed = allowed_keys(version, ptr)
        if allowed is not None:
            for key in body:
                if key not in allowed:
                    raise ApiError(400, "bad_request", f"bad '{key}' parameter", field=key)
    err = spec.first_error(version, ptr, body)
    if err is not None:
        raise _describe(err)


def validate_operation_body(version: str, method: str, path: str, body: Any) -> None:
    template = spec.match_template(version, method, path)
    if template is None:
        return
    ptr = spec.request_body_pointer(version, template, method)
    if ptr is not None:
        validate(version, ptr, body)


def validate_schema(version: str, schema_name: str, body: Any) -> None:
    validate(version, spec.schema_pointer(schema_name), body)
