"""Work parked for a user whose Intercom contact is not known yet, and users Intercom does not know.

A track that arrives before its user's identify, a group attach, a tag, an alias of a previousId not
seen yet: each needs a contact that a later record of the same user (or an alias) will create. The
sink parks the rest of such a plan here instead of dead-lettering it, and goes on with the user's
later records; the plan is released (performed) as soon as the contact is created or learned, in the
job of the record that created it, so before the user's next record. Past the bound (``hold_s`` after
it was parked, or more than ``max_items`` for one user) it is dead-lettered with its reason.

Durable: the lot is a changelogged Faust table keyed by user (co-partitioned with the delivery
topic), and the delivery record is marked done only after its parking is written; Faust flushes the
producer, changelog included, before it commits an offset. So a kill -9 or a rebalance never loses
parked work: the table comes back from its changelog on whichever worker owns the partition.

One entry per user: ``{"unknown_until": unix s | None, "items": [{"request", "from", "at", "reason",
"message"}]}``. ``unknown_until`` remembers that Intercom answered 404 for the user, so the user's next
events are parked without a call until then (a run of events of a never-identified user costs one
call per hold window).
"""

from __future__ import annotations

import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from streams.errors import ContactPendingError
from streams.pipeline.requests import DeliveryRequest

Table = MutableMapping[str, Any]


@dataclass(frozen=True)
class Parked:
    request: DeliveryRequest
    start: int  # the first operation still to do
    at: float
    reason: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"request": self.request.to_record(), "from": self.start, "at": self.at, "reason": self.reason,
                "message": self.message}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Parked:
        return cls(
            DeliveryRequest.from_record(data["request"]),
            int(data["from"]),
            float(data["at"]),
            data["reason"],
            data["message"],
        )


class ParkingLot:
    def __init__(
        self, table: Table, hold_s: float, max_items: int, clock: Callable[[], float] = time.time
    ) -> None:
        self.table = table
        self.hold_s = hold_s
        self.max_items = max_items
        self.clock = clock  # wall time: entries outlive the process

    def _entry(self, user: str) -> dict[str, Any]:
        return dict(self.table.get(user) or {})

    def _store(self, user: str, entry: dict[str, Any]) -> None:
        if entry.get("items") or (entry.get("unknown_until") or 0) > self.clock():
            self.table[user] = entry
        elif self.table.get(user) is not None:
            del self.table[user]  # a tombstone in the changelog

    def items(self, user: str) -> list[Parked]:
        return [Parked.from_json(item) for item in self._entry(user).get("items") or ()]

    def unknown(self, user: str) -> bool:
        """Intercom answered 404 for this user less than ``hold_s`` ago, and no contact came since."""
        return float(self._entry(user).get("unknown_until") or 0) > self.clock()

    def park(self, user: str, request: DeliveryRequest, start: int, pending: ContactPendingError) -> bool:
        """Park the rest of ``request`` from operation ``start``; False when the user's lot is full."""
        entry = self._entry(user)
        items = list(entry.get("items") or ())
        if len(items) >= self.max_items:
            return False
        now = self.clock()
        items.append(
            Parked(request, start, now, pending.reason or "contact_not_found", pending.message).to_json()
        )
        entry["items"] = items
        if pending.reason == "user_not_found" and not self.unknown(user):
            entry["unknown_until"] = now + self.hold_s
        self._store(user, entry)
        return True

    def known(self, user: str) -> None:
        """The user's contact exists now: no more parking without a call."""
        entry = self._entry(user)
        if entry.get("unknown_until"):
            entry["unknown_until"] = None
            self._store(user, entry)

    def keep(self, user: str, items: list[Parked]) -> None:
        """What is still parked for ``user`` after a release or an expiry."""
        entry = self._entry(user)
        entry["items"] = [item.to_json() for item in items]
        self._store(user, entry)

    def due(self, item: Parked) -> bool:
        return item.at + self.hold_s <= self.clock()

    def users_due(self) -> list[str]:
        """Users with parked work past the bound (read from this worker's copy of the table)."""
        now = self.clock()
        due = []
        for user, entry in list(self.table.items()):
            items = (entry or {}).get("items") or ()
            if any(float(item["at"]) + self.hold_s <= now for item in items):
                due.append(user)
        return due
