"""Plain records for what the emulator stores. Rendering to Intercom JSON lives in render.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Contact:
    id: str
    role: str
    created_at: int
    updated_at: int
    external_id: str | None = None
    email: str | None = None
    phone: str | None = None
    name: str | None = None
    avatar: str | None = None
    owner_id: int | str | None = None
    signed_up_at: int | None = None
    last_seen_at: int | None = None
    unsubscribed_from_emails: bool = False
    email_verified: bool | None = None
    custom_attributes: dict[str, Any] = field(default_factory=dict)
    archived: bool = False
    # tag id -> applied_at; insertion order is tagging order.
    tags: dict[str, int] = field(default_factory=dict)
    company_ids: list[str] = field(default_factory=list)
    seq: int = 0  # creation order, the tie-breaker for listings when timestamps are equal


@dataclass
class Company:
    id: str
    company_id: str
    created_at: int
    updated_at: int
    name: str | None = None
    plan: str | None = None
    size: int | None = None
    website: str | None = None
    industry: str | None = None
    monthly_spend: int | None = None
    remote_created_at: int | None = None
    last_request_at: int | None = None
    custom_attributes: dict[str, Any] = field(default_factory=dict)
    tag_ids: list[str] = field(default_factory=list)


@dataclass
class Tag:
    id: str
    name: str


@dataclass
class Event:
    id: str
    event_name: str
    created_at: int
    contact_id: str
    user_id: str | None
    email: str | None
    metadata: dict[str, Any]


@dataclass
class DataAttribute:
    model: str
    name: str
    data_type: str
    custom: bool
    id: int | None = None
    label: str | None = None
    description: str = ""
    options: list[str] = field(default_factory=list)
    api_writable: bool = True
    ui_writable: bool = True
    messenger_writable: bool = False
    archived: bool = False
    created_at: int | None = None
    updated_at: int | None = None

    @property
    def full_name(self) -> str:
        return f"custom_attributes.{self.name}" if self.custom else self.name
