"""The workspace log's state: every worker computes the same answer from the same records."""

from __future__ import annotations

import asyncio
from typing import Any

from streams.delivery.event_names import LocalEventNames
from streams.workspace.state import (
    CLAIM_STALE_MS,
    WorkspaceState,
    claim_key,
    outcome_key,
    refusal_key,
    reservation_key,
)


def record(
    kind: str, name: str, worker: str = "w1", model: str = "", at_ms: int = 0, message: str = ""
) -> Any:
    return {"kind": kind, "name": name, "model": model, "worker": worker, "at_ms": at_ms, "message": message}


def replay(cap: int, log: list[tuple[str, Any]]) -> WorkspaceState:
    state = WorkspaceState(cap)
    for offset, (key, value) in enumerate(log):
        state.apply(offset, key, value)
    return state


def reserve(name: str, worker: str) -> tuple[str, Any]:
    return reservation_key(name, worker), record("event_name", name, worker)


def test_the_first_cap_distinct_names_by_offset_hold_the_slots() -> None:
    log = [reserve("a", "w1"), reserve("b", "w2"), reserve("a", "w3"), reserve("c", "w1"), reserve("b", "w1")]
    state = replay(2, log)
    assert (state.holds_slot("a"), state.holds_slot("b"), state.holds_slot("c")) == (True, True, False)
    assert state.holds_slot("d") is None and state.slots_taken() == 2


def test_compaction_keeps_the_verdict() -> None:
    """Compaction keeps the last record per key at its offset; reservation keys are unique per worker,
    so what it can remove never changes which names came first."""
    log = [reserve("a", "w1"), reserve("b", "w2"), reserve("c", "w2"), reserve("a", "w2")]
    latest: dict[str, int] = {}
    for offset, (key, _) in enumerate(log):
        latest[key] = offset
    compacted = WorkspaceState(2)
    for offset, (key, value) in enumerate(log):
        if latest[key] == offset:
            compacted.apply(offset, key, value)
    full = replay(2, log)
    assert {n: compacted.holds_slot(n) for n in "abc"} == {n: full.holds_slot(n) for n in "abc"}


def test_a_refusal_is_lifted_by_its_tombstone() -> None:
    refused = (refusal_key("x"), record("event_name_refused", "x", at_ms=5000, message="120 names"))
    state = replay(5, [refused])
    assert state.refusals["x"].at == 5.0 and state.refusals["x"].message == "120 names"
    state.apply(1, refusal_key("x"), None)
    assert "x" not in state.refusals


def test_the_first_open_claim_creates_and_its_outcome_is_known_to_all() -> None:
    claims = [
        (claim_key("contact", "plan", "w2", 100), record("attribute_claim", "plan", "w2", "contact", 100)),
        (claim_key("contact", "plan", "w1", 101), record("attribute_claim", "plan", "w1", "contact", 101)),
    ]
    state = replay(5, claims)
    assert state.claims[("contact", "plan")].worker == "w2"
    state.apply(2, outcome_key("contact", "plan"), record("attribute_created", "plan", "w2", "contact"))
    assert state.created_names("contact") == {"plan"} and ("contact", "plan") not in state.claims


def test_a_claim_that_lands_after_the_creation_opens_no_new_round() -> None:
    # Seen in CI: w3 checked before w2's claim landed, and its own claim reached the log only after w2
    # had created the attribute; it must not create it again.
    state = replay(
        5,
        [
            (
                claim_key("contact", "plan", "w2", 100),
                record("attribute_claim", "plan", "w2", "contact", 100),
            ),
            (outcome_key("contact", "plan"), record("attribute_created", "plan", "w2", "contact")),
            (claim_key("contact", "plan", "w3", 99), record("attribute_claim", "plan", "w3", "contact", 99)),
        ],
    )
    assert state.created_names("contact") == {"plan"} and ("contact", "plan") not in state.claims


def test_a_stale_claim_is_taken_over() -> None:
    late = 100 + CLAIM_STALE_MS + 1
    state = replay(
        5,
        [
            (
                claim_key("contact", "plan", "w2", 100),
                record("attribute_claim", "plan", "w2", "contact", 100),
            ),
            (
                claim_key("contact", "plan", "w1", late),
                record("attribute_claim", "plan", "w1", "contact", late),
            ),
        ],
    )
    assert state.claims[("contact", "plan")].worker == "w1"


def test_local_names_never_overshoot_under_concurrency() -> None:
    names = LocalEventNames({}, cap=3)

    async def run() -> list[bool]:
        return await asyncio.gather(*[names.reserve(f"n{i % 5}") for i in range(40)])

    answers = asyncio.run(run())
    assert names.taken() == 3 and answers.count(True) == 24  # n0, n1, n2: 8 requests each
