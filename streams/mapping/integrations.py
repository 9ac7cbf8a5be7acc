"""The Segment ``integrations`` object: whether the sender allowed this event to reach Intercom.

Segment's semantics: ``All`` defaults to true; an ``Intercom`` entry (any spelling we accept for
per-destination options) overrides it: ``false`` withholds the event, ``true`` or an options object
(``{"lookup": "phone"}``) lets it through. Customers use this to keep data out of one destination,
often for privacy, so a withheld event makes no call at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streams.mapping.fields import INTEGRATION_NAMES, as_bool

ALL_NAMES = ("All", "all")


def _switch(value: Any) -> bool | None:
    """An entry's verdict: a boolean (or "true"/"false"), an object (enabled, with options), or None
    when it says nothing (absent, null, anything else)."""
    if isinstance(value, Mapping):
        return True
    return as_bool(value)


def _entry(integrations: Mapping[str, Any], names: tuple[str, ...]) -> bool | None:
    for name in names:
        verdict = _switch(integrations.get(name))
        if verdict is not None:
            return verdict
    return None


def intercom_enabled(integrations: Mapping[str, Any]) -> bool:
    """True when an event with this ``integrations`` object may be sent to Intercom."""
    own = _entry(integrations, INTEGRATION_NAMES)
    if own is not None:
        return own
    every = _entry(integrations, ALL_NAMES)
    return True if every is None else every


def integrations_problem(integrations: Mapping[str, Any]) -> str | None:
    """Why the sender withheld the event from Intercom, or None when it may be sent."""
    if intercom_enabled(integrations):
        return None
    if _entry(integrations, INTEGRATION_NAMES) is False:
        return "integrations.Intercom is false: the sender withheld this event from Intercom"
    return "integrations.All is false and Intercom is not enabled by name: withheld from Intercom"
