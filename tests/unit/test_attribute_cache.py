"""The data-attribute cache on its own: when it lists, what it believes, per model, on a fake clock."""

from __future__ import annotations

from typing import Any

import pytest

from streams.delivery.attributes import AttributeCache, infer_data_type


class Clock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Workspace:
    """Answers GET /data_attributes?model=… from ``attributes`` (model → names), recording each call."""

    def __init__(self, **attributes: list[str]) -> None:
        self.attributes = {"contact": [], "company": [], **attributes}
        self.calls: list[str] = []

    async def __call__(self, method: str, path: str, body: Any = None) -> Any:
        self.calls.append(f"{method} {path}")
        model = path.split("model=", 1)[1]
        standard = {"type": "data_attribute", "name": "email", "custom": False, "archived": False}
        data = [standard] + [
            {"type": "data_attribute", "name": name, "custom": True, "archived": False}
            for name in self.attributes[model]
        ]
        return {"type": "list", "data": data}


def cache(clock: Clock, refresh_s: float = 600.0, miss_refresh_s: float = 60.0) -> AttributeCache:
    return AttributeCache({}, refresh_s, miss_refresh_s, clock=clock)


async def test_first_use_lists_once_then_answers_from_the_table() -> None:
    clock, intercom = Clock(), Workspace(contact=["plan", "score"])
    attributes = cache(clock)
    assert await attributes.unknown(intercom, "contact", ["plan"]) == set()
    assert intercom.calls == ["GET /data_attributes?model=contact"]
    clock.now += 599
    assert await attributes.unknown(intercom, "contact", ["plan", "score"]) == set()
    assert len(intercom.calls) == 1
    assert attributes.table["data_attributes:contact"] == {"names": ["plan", "score"], "fetched_at": 1_000.0}


async def test_no_custom_attributes_cost_no_call() -> None:
    intercom = Workspace()
    assert await cache(Clock()).unknown(intercom, "contact", []) == set()
    assert intercom.calls == []


async def test_standard_and_archived_attributes_are_not_custom_names() -> None:
    async def listing(method: str, path: str, body: Any = None) -> Any:
        return {
            "type": "list",
            "data": [
                {"name": "email", "custom": False},
                {"name": "old", "custom": True, "archived": True},
                {"name": "plan", "custom": True, "archived": False},
                "not an attribute",
            ],
        }

    assert await cache(Clock()).unknown(listing, "contact", ["email", "old", "plan"]) == {"email", "old"}


async def test_the_list_is_refreshed_after_refresh_s() -> None:
    clock, intercom = Clock(), Workspace(contact=["plan"])
    attributes = cache(clock)
    await attributes.unknown(intercom, "contact", ["plan"])
    intercom.attributes["contact"] = []  # archived in Intercom meanwhile
    clock.now += 599.5
    assert await attributes.unknown(intercom, "contact", ["plan"]) == set()  # still believed
    assert len(intercom.calls) == 1
    clock.now += 0.5
    assert await attributes.unknown(intercom, "contact", ["plan"]) == {"plan"}
    assert len(intercom.calls) == 2


async def test_a_miss_refreshes_at_most_every_miss_refresh_s() -> None:
    clock, intercom = Clock(), Workspace(contact=["plan"])
    attributes = cache(clock)
    assert await attributes.unknown(intercom, "contact", ["plan", "colour"]) == {"colour"}
    assert len(intercom.calls) == 1  # just listed: a miss right after does not list again
    clock.now += 30
    assert await attributes.unknown(intercom, "contact", ["colour"]) == {"colour"}
    assert len(intercom.calls) == 1
    intercom.attributes["contact"].append("colour")  # created by an admin
    clock.now += 30
    assert await attributes.unknown(intercom, "contact", ["colour"]) == set()
    assert len(intercom.calls) == 2
    clock.now += 1  # a hit never lists early
    assert await attributes.unknown(intercom, "contact", ["plan", "colour"]) == set()
    assert len(intercom.calls) == 2


async def test_miss_refresh_never_waits_longer_than_refresh_s() -> None:
    clock, intercom = Clock(), Workspace()
    attributes = cache(clock, refresh_s=5, miss_refresh_s=60)
    assert attributes.miss_refresh_s == 5
    await attributes.unknown(intercom, "contact", ["x"])
    clock.now += 5
    await attributes.unknown(intercom, "contact", ["x"])
    assert len(intercom.calls) == 2


async def test_the_two_models_are_listed_and_cached_apart() -> None:
    clock, intercom = Clock(), Workspace(contact=["plan"], company=["tier"])
    attributes = cache(clock)
    assert await attributes.unknown(intercom, "contact", ["plan", "tier"]) == {"tier"}
    assert await attributes.unknown(intercom, "company", ["plan", "tier"]) == {"plan"}
    assert intercom.calls == ["GET /data_attributes?model=contact", "GET /data_attributes?model=company"]
    clock.now += 61  # each model's miss refresh is its own
    await attributes.unknown(intercom, "company", ["plan"])
    assert intercom.calls[-1] == "GET /data_attributes?model=company" and len(intercom.calls) == 3
    assert attributes.table["data_attributes:contact"]["names"] == ["plan"]


async def test_add_and_forget_change_only_their_model() -> None:
    clock, intercom = Clock(), Workspace(contact=["plan"], company=["plan"])
    attributes = cache(clock)
    await attributes.unknown(intercom, "contact", ["plan"])
    await attributes.unknown(intercom, "company", ["plan"])
    attributes.add("contact", "score")
    attributes.forget("company", "plan")
    assert await attributes.unknown(intercom, "contact", ["plan", "score"]) == set()
    assert attributes.table["data_attributes:company"]["names"] == []
    assert len(intercom.calls) == 2


async def test_add_before_any_listing_does_not_pass_for_a_listing() -> None:
    clock, intercom = Clock(), Workspace(contact=["plan"])
    attributes = cache(clock)
    attributes.add("contact", "score")
    assert await attributes.unknown(intercom, "contact", ["plan", "score"]) == {"score"}
    assert intercom.calls == ["GET /data_attributes?model=contact"]


async def test_a_refused_name_is_remembered_for_refresh_s_and_survives_listings() -> None:
    clock, intercom = Clock(), Workspace()
    attributes = cache(clock, refresh_s=600)
    attributes.refuse("contact", "bad name")
    assert attributes.refused("contact", "bad name") and not attributes.refused("company", "bad name")
    clock.now += 100
    await attributes.refresh(intercom, "contact")
    assert attributes.refused("contact", "bad name")
    clock.now += 500
    assert not attributes.refused("contact", "bad name")
    await attributes.refresh(intercom, "contact")  # expired refusals are pruned from the table
    assert "refused" not in attributes.table["data_attributes:contact"]


async def test_a_name_created_after_all_is_no_longer_refused() -> None:
    clock, intercom = Clock(), Workspace()
    attributes = cache(clock)
    attributes.refuse("contact", "plan")
    intercom.attributes["contact"].append("plan")
    await attributes.refresh(intercom, "contact")
    assert not attributes.refused("contact", "plan")
    attributes.refuse("contact", "tier")
    attributes.add("contact", "tier")
    assert not attributes.refused("contact", "tier")


@pytest.mark.parametrize(
    ("value", "data_type"),
    [(True, "boolean"), (3, "integer"), (2.5, "float"), ("x", "string"), ("2024-01-01", "string")],
)
def test_data_type_is_inferred_from_the_value(value: Any, data_type: str) -> None:
    assert infer_data_type(value) == data_type
