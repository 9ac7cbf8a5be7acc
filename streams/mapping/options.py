"""The mapping's knobs, as one small frozen value (built from Settings by the pipeline).

Mapping modules never read Settings or the environment: they get a ``MappingOptions``.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Literal

ArrayPolicy = Literal["stringify", "drop"]
LongStringPolicy = Literal["truncate", "drop"]
AnonymousPolicy = Literal["lead", "external_id", "skip"]
PagePolicy = Literal["ignore", "track"]
RevenueKey = Literal["price", "revenue"]

# Intercom stores custom attribute and metadata strings up to 255 characters.
MAX_STRING = 255
# Intercom keeps at most 10 metadata keys per event (the rest are silently ignored by Intercom).
MAX_METADATA_KEYS = 10


@dataclass(frozen=True)
class MappingOptions:
    """How events become Intercom bodies. Defaults are the documented defaults of the settings."""

    api_version: str = "2.10"
    array_policy: ArrayPolicy = "stringify"
    long_string_policy: LongStringPolicy = "truncate"
    update_last_seen: bool = False
    collect_context: bool = False
    event_allowlist: tuple[str, ...] = ()
    event_denylist: tuple[str, ...] = ()
    metadata_priority: tuple[str, ...] = ()
    metadata_max_keys: int = MAX_METADATA_KEYS
    anonymous_policy: AnonymousPolicy = "lead"
    page_policy: PagePolicy = "ignore"
    page_event_template: str = "Viewed {name} Page"
    screen_event_template: str = "Viewed {name} Screen"
    consent_categories: tuple[str, ...] = ()
    # Segment sends properties.revenue as the metadata key "price"; "revenue" keeps our old key.
    revenue_key: RevenueKey = "price"
    # Segment drops properties.email from track metadata (it identifies the user); True sends it.
    track_email_metadata: bool = False

    def event_allowed(self, name: str) -> bool:
        """Exact names or shell-style patterns (``Order *``); the deny list wins over the allow list."""
        if any(_matches(name, p) for p in self.event_denylist):
            return False
        return not self.event_allowlist or any(_matches(name, p) for p in self.event_allowlist)


def _matches(name: str, pattern: str) -> bool:
    return name == pattern or fnmatch.fnmatchcase(name, pattern)


def split_list(text: str | None) -> tuple[str, ...]:
    """``"a, b ,c"`` → ``("a", "b", "c")``: list settings are comma separated in the environment."""
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())
