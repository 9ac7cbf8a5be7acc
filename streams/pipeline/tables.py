"""The worker's Faust tables: declared once here; start-up creates their changelogs from this list.

Each table is keyed like the delivery topic (by user, or by company id for known-companies) and
changelogged by Faust, so a partition's state follows it to whichever worker owns it. Values are JSON
dicts (streams/delivery/core.py describes the delivery tables).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust


@dataclass(frozen=True)
class TableSpec:
    name: str
    holds: str


TABLES = (
    TableSpec("known-contacts", "user key → Intercom contact id, role, fingerprints, companies"),
    TableSpec("known-companies", "company_id → Intercom company id, fingerprints, tags"),
    # Per-worker workspace cache (attribute lists, tag ids); facts all workers must agree on (event-name
    # slots, attributes created) are on the workspace topic instead. A plain table: a GlobalTable's
    # changelog was seen to be created too late for the first assignment, stalling the worker.
    TableSpec("intercom-workspace", "cached data attributes and tag ids"),
    TableSpec("suppressed-users", "users deleted on request: their events are dead-lettered"),
    TableSpec("delivered-requests", "per user, the last input position whose request is done"),
    TableSpec("parked-work", "work waiting for a contact, per user (parking.py)"),
)
TABLE_NAMES = tuple(spec.name for spec in TABLES)


@dataclass(frozen=True)
class Tables:
    contacts: Any
    companies: Any
    workspace: Any
    suppressed: Any
    delivered: Any
    parked: Any


def declare_tables(app: faust.App, partitions: int) -> Tables:
    """Declare every table of ``TABLES`` on ``app`` (in that order)."""
    declared = [app.Table(spec.name, default=None, partitions=partitions) for spec in TABLES]
    return Tables(*declared)
