"""The parking lot: work waiting for a contact, bounded in count and time; unknown users remembered."""

from __future__ import annotations

from typing import Any

from streams.errors import ContactPendingError
from streams.pipeline.parking import ParkingLot
from streams.pipeline.requests import DeliveryRequest
from tests.unit.delivery_requests import delivery_request


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def request(n: int) -> DeliveryRequest:
    return delivery_request(n)


def test_parks_in_order_remembers_the_unknown_user_and_expires_after_the_hold() -> None:
    table: dict[str, Any] = {}
    clock = Clock()
    lot = ParkingLot(table, hold_s=30, max_items=2, clock=clock)
    assert lot.park("u1", request(1), 0, ContactPendingError("user_not_found", "404"))
    assert lot.unknown("u1")
    clock.now += 10
    assert lot.park("u1", request(2), 1, ContactPendingError("contact_not_found", "no contact"))
    assert not lot.park("u1", request(3), 0, ContactPendingError("user_not_found", "404"))  # full
    assert [(i.request.source_offset, i.start) for i in lot.items("u1")] == [(1, 0), (2, 1)]
    clock.now += 21  # the first is past the bound, the second is not; the user is no longer "unknown"
    assert not lot.unknown("u1") and lot.users_due() == ["u1"]
    assert [lot.due(i) for i in lot.items("u1")] == [True, False]


def test_a_known_contact_ends_the_unknown_memory_and_an_empty_entry_leaves_the_table() -> None:
    table: dict[str, Any] = {}
    lot = ParkingLot(table, hold_s=30, max_items=5, clock=Clock())
    lot.park("u1", request(1), 0, ContactPendingError("user_not_found", "404"))
    lot.known("u1")
    assert not lot.unknown("u1") and len(lot.items("u1")) == 1
    lot.keep("u1", [])
    assert "u1" not in table
