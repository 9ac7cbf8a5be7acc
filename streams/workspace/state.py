"""What the workspace log says, computed the same way by every worker from the same records.

Pure: no Kafka. ``WorkspaceState.apply`` takes the log's records in offset order. Keys name the fact:

    event_name/<name>/<worker>            a reservation of an event name; the first ``cap`` distinct
                                          names by offset hold a slot, every later one is refused
    event_name_refused/<name>             Intercom answered 422 (120 active names); a tombstone lifts it
    attribute_claim/<model>/<name>/<worker>/<ms>  a worker means to create the attribute; the first
                                          by offset creates it, the others wait for its outcome
    attribute/<model>/<name>              the outcome: attribute_created or attribute_failed

Reservation and claim keys carry the worker's id (a worker reserves a name once per process; a claim
key has its time too), so compaction never removes one: the order by offset that decides winners
survives it, and a worker started later computes the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def event_name_key(name: str) -> str:
    """Intercom's identity of an event name: case-insensitive, ``.`` and ``$`` read as ``-``."""
    return name.strip().lower().replace(".", "-").replace("$", "-")


def reservation_key(name: str, worker: str) -> str:
    return f"event_name/{name}/{worker}"


def refusal_key(name: str) -> str:
    return f"event_name_refused/{name}"


def claim_key(model: str, name: str, worker: str, at_ms: int) -> str:
    return f"attribute_claim/{model}/{name}/{worker}/{at_ms}"


def outcome_key(model: str, name: str) -> str:
    return f"attribute/{model}/{name}"


# A claim with no outcome this long (its worker died, or the create failed in transit) may be taken over.
CLAIM_STALE_MS = 10_000


@dataclass(frozen=True)
class Claim:
    worker: str
    at_ms: int


@dataclass(frozen=True)
class Refusal:
    at: float  # unix seconds
    message: str


@dataclass
class WorkspaceState:
    """Event-name slots, Intercom's refusals and data-attribute creations, as of ``next_offset``."""

    cap: int
    next_offset: int = 0
    # name → its rank among distinct names (by first reservation); rank < cap holds a slot.
    ranks: dict[str, int] = field(default_factory=dict)
    refusals: dict[str, Refusal] = field(default_factory=dict)
    claims: dict[tuple[str, str], Claim] = field(default_factory=dict)  # (model, name) → open claim
    created: dict[str, set[str]] = field(default_factory=dict)  # model → names
    failed: set[tuple[str, str]] = field(default_factory=set)

    def apply(self, offset: int, key: str, record: dict[str, Any] | None) -> None:
        self.next_offset = max(self.next_offset, offset + 1)
        kind, _, rest = key.partition("/")
        if kind == "event_name" and record is not None:
            name = record["name"]
            if name not in self.ranks:
                self.ranks[name] = len(self.ranks)
        elif kind == "event_name_refused":
            if record is None:
                self.refusals.pop(rest, None)
            else:
                self.refusals[rest] = Refusal(record["at_ms"] / 1000, record["message"])
        elif kind == "attribute_claim" and record is not None:
            target, claim = (record["model"], record["name"]), Claim(record["worker"], record["at_ms"])
            open_claim = self.claims.get(target)
            if record["name"] in self.created.get(record["model"], set()):
                pass  # a claim that arrives after the attribute was created: nothing to decide
            elif open_claim is None or claim.at_ms - open_claim.at_ms > CLAIM_STALE_MS:
                self.claims[target] = claim
        elif kind == "attribute" and record is not None:
            model, name = record["model"], record["name"]
            if record["kind"] == "attribute_created":
                self.created.setdefault(model, set()).add(name)
                self.failed.discard((model, name))
            else:
                self.failed.add((model, name))
            self.claims.pop((model, name), None)  # decided: a later claim starts a new round

    # -- event names ------------------------------------------------------------------------------

    def holds_slot(self, name: str) -> bool | None:
        """Whether ``name`` holds one of the ``cap`` slots; None when nobody has reserved it yet."""
        rank = self.ranks.get(name)
        return None if rank is None else rank < self.cap

    def slots_taken(self) -> int:
        return min(len(self.ranks), self.cap)

    # -- data attributes --------------------------------------------------------------------------

    def created_names(self, model: str) -> set[str]:
        return self.created.get(model, set())
