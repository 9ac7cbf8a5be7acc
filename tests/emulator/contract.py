"""Checks every emulator answer against the response schema the spec declares for it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from streams.emulator import spec

# Answers where the emulator follows the real API rather than the spec, each with its reason,
# mapped to the schema to check instead (None: checked by the resource's own tests).
# - GET /events without summary=true: Intercom returns an `event.list`; the spec only describes the
#   summary form (test_events.py checks the list).
# - GET /companies?company_id= in "single" mode: Intercom's SDK override declares
#   oneOf [company, company_list]; the single form must be a valid `company`.
_DEVIATIONS: dict[tuple[str, str, str], str | None] = {
    ("GET", "/events", "event.list"): None,
    ("GET", "/companies", "company"): "company",
}


@dataclass
class ContractStats:
    validated: int = 0
    skipped: int = 0
    failures: list[str] = field(default_factory=list)


STATS = ContractStats()


def check(version: str, method: str, path: str, status: int, content: bytes) -> None:
    """Raise AssertionError if the answer breaks the spec for (version, method, path, status)."""
    if path.startswith("/_emulator"):
        return
    body: Any = json.loads(content) if content else None
    template = spec.match_template(version, method, path)
    if template is None:
        # Not an Intercom operation (unknown path): the answer must still be an error.list.
        ptr = spec.schema_pointer("error") if status >= 400 else None
    else:
        ptr = spec.response_pointer(version, template, method, status)
        if ptr is None and status >= 400:
            ptr = spec.schema_pointer("error")  # undeclared error statuses still use the envelope
    deviation = (method, template or "", body.get("type") if isinstance(body, dict) else "")
    if deviation in _DEVIATIONS:
        replacement = _DEVIATIONS[deviation]
        if replacement is None:
            STATS.skipped += 1
            return
        ptr = spec.schema_pointer(replacement)
    if ptr is None:
        STATS.skipped += 1
        return
    if body is None:
        raise AssertionError(f"{method} {path} -> {status}: empty body, spec declares a schema")
    err = spec.first_error(version, ptr, body)
    if err is not None:
        where = "/".join(str(p) for p in err.absolute_path)
        message = f"{version} {method} {path} -> {status}: {err.message} at {where!r}"
        STATS.failures.append(message)
        raise AssertionError(message)
    STATS.validated += 1
