"""group → upsert_company (POST /companies), tag_company per tag, then attach_company for the user.

The company field table lives in ``company.py`` (identify's ``traits.company`` shares it).
"""

from __future__ import annotations

from typing import Any

from streams.errors import InvalidEventError
from streams.events import SegmentEvent
from streams.mapping.company import company_body
from streams.mapping.fields import as_text
from streams.mapping.identify import contact_ref
from streams.mapping.options import MappingOptions
from streams.mapping.plan import Action, Operation, Report


def company_tags(traits: dict[str, Any]) -> list[str]:
    """``tags: ["a", "b"]`` or ``tags: "a, b"`` → unique tag names, in order."""
    raw = traits.get("tags")
    items = raw.split(",") if isinstance(raw, str) else raw if isinstance(raw, list) else []
    names = [text for text in (as_text(item) for item in items) if text]
    return list(dict.fromkeys(names))


def plan_group(
    event: SegmentEvent, options: MappingOptions | None = None
) -> tuple[list[Operation], list[Report]]:
    options = options or MappingOptions()
    company_id = as_text(event.get("groupId")) or as_text(event.traits.get("groupId"))
    if not company_id:
        raise InvalidEventError("invalid_event", "group event has no groupId")
    body, reports = company_body(event.traits, company_id, options)
    operations = [Operation(Action.UPSERT_COMPANY, body, company_id=company_id)]
    operations += [
        Operation(Action.TAG_COMPANY, {"name": tag}, company_id=company_id)
        for tag in company_tags(event.traits)
    ]
    operations.append(Operation(Action.ATTACH_COMPANY, {}, contact_ref(event), company_id=company_id))
    return operations, reports
