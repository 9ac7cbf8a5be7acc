"""page/screen, alias, delete, anonymous visitors and consent: the policies around the core mapping.

page / screen  → ignored (``page_ignored``) or a track event named by a template
alias          → one ``alias`` operation keyed by previousId (where that id's table entry lives)
delete         → ``delete_contact`` (or ``unsuppress`` with context.intercom_stream.unsuppress)
anonymous-only → a lead (created on first use), the anonymousId as external_id, or skipped
consent        → events denying (or not granting) a required category are not sent
"""

from __future__ import annotations

from typing import Any

from streams.errors import InvalidEventError
from streams.events import SegmentEvent, parse_event
from streams.mapping.fields import as_bool, as_text, lookup
from streams.mapping.identify import contact_ref
from streams.mapping.options import MappingOptions
from streams.mapping.plan import Action, ContactRef, Filtered, Operation, Report
from streams.mapping.track import plan_track


def page_event_name(event: SegmentEvent, options: MappingOptions) -> str:
    """``"Viewed {name} Page"`` with the page's name (``name``, else ``properties.name``, else
    ``category``); without any, the placeholder is left out (``"Viewed Page"``)."""
    name = (
        as_text(event.get("name")) or as_text(event.properties.get("name")) or as_text(event.get("category"))
    )
    template = options.page_event_template if event.type == "page" else options.screen_event_template
    return " ".join(template.replace("{name}", name or "").split())


def plan_page(event: SegmentEvent, options: MappingOptions) -> tuple[list[Operation], list[Report]]:
    if options.page_policy == "ignore":
        raise Filtered(f"{event.type}_ignored", f"{event.type} events are ignored (page_policy=ignore)")
    raw = {**event.raw, "type": "track", "event": page_event_name(event, options)}
    return plan_track(parse_event(raw), options)  # allow/deny lists and the name guard apply


def plan_alias(event: SegmentEvent, options: MappingOptions) -> tuple[list[Operation], list[Report]]:
    previous = as_text(event.get("previousId"))
    user_id = as_text(event.get("userId"))
    if not previous or not user_id:
        raise InvalidEventError("invalid_event", "alias event needs both previousId and userId")
    if previous == user_id:
        raise Filtered("alias_noop", f"alias of {user_id!r} to itself")
    return [Operation(Action.ALIAS, {"user_id": user_id}, ContactRef(user_id=previous))], []


def alias_key(event: SegmentEvent) -> str | None:
    """An alias is performed where previousId's state lives: its plan is keyed by previousId."""
    return as_text(event.get("previousId")) if event.type == "alias" else None


def is_unsuppress(event: SegmentEvent) -> bool:
    return as_bool(lookup(event, "context.intercom_stream.unsuppress")) is True


def plan_delete(event: SegmentEvent, options: MappingOptions) -> tuple[list[Operation], list[Report]]:
    ref = contact_ref(event)
    if is_unsuppress(event):
        return [Operation(Action.UNSUPPRESS, {}, ref)], []
    return [Operation(Action.DELETE_CONTACT, {}, ref)], []


def is_anonymous(event: SegmentEvent) -> bool:
    """Only an anonymousId: Intercom can know this visitor only as a lead (or by a policy)."""
    return event.type not in ("alias", "delete") and contact_ref(event).is_lead


def as_user(event: SegmentEvent) -> SegmentEvent:
    """``anonymous_policy=external_id``: the anonymousId is sent as the user id (RudderStack's option)."""
    return parse_event({**event.raw, "userId": event.anonymous_id})


def _names(value: Any) -> set[str]:
    if isinstance(value, str):
        return {part.strip().lower() for part in value.split(",") if part.strip()}
    if isinstance(value, list | tuple):
        return {text.lower() for text in (as_text(v) for v in value) if text}
    return set()


def consent_problem(event: SegmentEvent, options: MappingOptions) -> str | None:
    """Why the event may not be sent under ``consent_categories``, or None.

    Read from ``context.consentManagement`` (``allowedConsentIds`` / ``deniedConsentIds``, also
    ``allowedCategories`` / ``deniedCategories``) and Segment's ``context.consent.categoryPreferences``
    (``{category: bool}``). Every required category must be allowed and none denied. Deletion requests
    are never held back by consent."""
    required = {c.lower() for c in options.consent_categories}
    if not required or event.type == "delete":
        return None
    manager = event.context.get("consentManagement")
    manager = manager if isinstance(manager, dict) else {}
    allowed = _names(manager.get("allowedConsentIds")) | _names(manager.get("allowedCategories"))
    denied = _names(manager.get("deniedConsentIds")) | _names(manager.get("deniedCategories"))
    preferences = lookup(event, "context.consent.categoryPreferences")
    if isinstance(preferences, dict):
        for name, value in preferences.items():
            (allowed if as_bool(value) is True else denied).add(str(name).lower())
    refused = sorted(required & denied)
    if refused:
        return f"consent denied for {', '.join(refused)}"
    missing = sorted(required - allowed)
    if missing:
        return f"no consent given for {', '.join(missing)}"
    return None
