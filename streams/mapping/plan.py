"""What the mapping produces: the Intercom operations one event needs, with symbolic references.

The transform cannot know Intercom ids that only the sink learns (a contact created a moment ago),
so operations name contacts and companies by *our* identifiers; the sink resolves them against its
tables (and Intercom, on a miss) just before calling. ``body`` is the Intercom request body.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Action(StrEnum):
    UPSERT_CONTACT = "upsert_contact"  # PUT /contacts/{id} if known or found, else POST /contacts
    TRACK_EVENT = "track_event"  # POST /events
    UPSERT_COMPANY = "upsert_company"  # POST /companies (upsert by company_id)
    ATTACH_COMPANY = "attach_company"  # POST /contacts/{id}/companies {id: <intercom company id>}
    DETACH_COMPANY = "detach_company"  # DELETE /contacts/{id}/companies/{intercom company id}
    TAG_COMPANY = "tag_company"  # POST /tags {name, companies: [{id}]} (skipped when already applied)
    CREATE_ATTRIBUTE = "create_attribute"  # POST /data_attributes (made by the sink's attribute policy)
    ENSURE_LEAD = "ensure_lead"  # POST /contacts {role: lead} unless the table knows the key (no call)
    MERGE_LEAD = "merge_lead"  # POST /contacts/merge {from: lead, into: user} when the key is a known lead
    ALIAS = "alias"  # merge (known lead) or PUT /contacts/{id} {external_id: new} (known user)
    DELETE_CONTACT = "delete_contact"  # DELETE /contacts/{id}, then forget and suppress the user
    UNSUPPRESS = "unsuppress"  # lift a suppression (no Intercom call)
    TAG_CONTACT = "tag_contact"  # POST /tags {name} (once), POST /contacts/{id}/tags {id}
    UNTAG_CONTACT = "untag_contact"  # DELETE /contacts/{id}/tags/{tag id}
    LEARN_CONTACT = "learn_contact"  # the key now names contact body.id (after an alias); no call
    # The key's own early contact body.young folded into body.into, which takes the key as external_id
    # (an alias whose new id was identified first; streams/delivery/fold.py)
    FOLD_CONTACT = "fold_contact"


@dataclass(frozen=True)
class ContactRef:
    """How to find a contact: by the user key in the table, else by search on these fields."""

    user_id: str | None = None
    email: str | None = None
    anonymous_id: str | None = None
    lookup: str = "external_id_or_email"
    # With ``integrations.Intercom.lookup``: the one contact field to search by, and its value.
    lookup_value: str | None = None

    @property
    def is_lead(self) -> bool:
        return self.user_id is None and self.anonymous_id is not None and self.email is None


@dataclass(frozen=True)
class Operation:
    action: Action
    body: dict[str, Any] = field(default_factory=dict)
    contact: ContactRef | None = None
    company_id: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "action": self.action.value,
            # allow_nan=False: a body that is not strict JSON fails here, never on Intercom's side.
            "body": json.dumps(self.body, separators=(",", ":"), sort_keys=True, allow_nan=False),
            "contact": None if self.contact is None else self.contact.__dict__.copy(),
            "company_id": self.company_id,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Operation:
        contact = record.get("contact")
        return cls(
            action=Action(record["action"]),
            body=json.loads(record["body"]),
            contact=None if contact is None else ContactRef(**contact),
            company_id=record.get("company_id"),
        )


@dataclass(frozen=True)
class Report:
    """Something the event asked for that Intercom will not get as sent (a dropped attribute, a
    truncated value, metadata over the key limit). The event is still delivered; the sink turns each
    report into a dead-letter record so the loss is visible and replayable."""

    reason: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {"reason": self.reason, "message": self.message, "details": self.details},
            separators=(",", ":"),
            sort_keys=True,
            default=str,
        )

    @classmethod
    def from_json(cls, text: str) -> Report:
        data = json.loads(text)
        return cls(data["reason"], data["message"], data.get("details") or {})


class Filtered(Exception):
    """Raised by a planner for an event that is deliberately not sent (``reason`` is a closed set:
    ``event_filtered``, ``page_ignored``, ``screen_ignored``, ``anonymous_skipped``, ``consent_denied``,
    ``alias_noop``, ``integration_disabled``). The pipeline counts and logs it; it is not an error."""

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(message or reason)
        self.reason = reason
        self.message = message or reason


@dataclass(frozen=True)
class Plan:
    """The operations for one event, in the order they must happen, and what the mapping reported.

    ``filtered`` names why nothing is sent (see ``Filtered``). ``related`` are plans for *other* keys
    that the same event needs (e.g. merging the visitor's lead, keyed by its anonymousId): each is
    delivered keyed by its own ``user_key`` so it runs where that key's table entries live."""

    user_key: str
    event_type: str
    operations: tuple[Operation, ...]
    reports: tuple[Report, ...] = ()
    filtered: str | None = None
    related: tuple[Plan, ...] = ()
