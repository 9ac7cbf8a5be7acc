"""What delivering streams/samples/events.jsonl must produce, checked the same way wherever the worker
runs (an installed wheel's sandbox, the container image). The input is the sample file; each line of
it that the expectation rests on is named below."""

from __future__ import annotations

from collections import Counter
from typing import Any

# The sandbox's workspace defines "plan" (contacts) and "tier" (companies), not "favourite_colour".
EXPECTED_CONTACTS = {
    "user-1": {"plan": "enterprise"},  # m-001 then m-005: the later identify wins
    "user-2": {"plan": "free"},  # m-002
    "user-3": {},  # m-011: favourite_colour is unknown to the workspace, so dropped and reported
}
EXPECTED_EVENTS = {("order completed", "user-1"), ("signed in", "user-2")}  # m-003, m-006
EXPECTED_DEAD_LETTERS = Counter(
    {
        "missing_identity": 1,  # m-012: a track without any user id
        "alias_unknown": 1,  # m-010: anon-7 was never seen
        "attributes_dropped": 1,  # m-011: favourite_colour
        "user_not_found": 1,  # m-014: a track for user-4, never identified
        "unparseable": 1,  # the line that is not JSON
    }
)


def check_sample_result(result: dict[str, Any]) -> None:
    """``result`` as ``intercom-stream sandbox --json`` prints it: calls, dead_letters, state."""
    assert all(call["status"] < 500 for call in result["calls"]), result["calls"]
    state = result["state"]
    contacts = {c["external_id"]: c["custom_attributes"] for c in state["contacts"]}
    assert contacts == EXPECTED_CONTACTS, contacts
    [company] = state["companies"]  # m-004 and m-007: one company, both users in it
    assert (company["company_id"], company["name"], company["user_count"]) == ("acme", "Acme Inc", 2)
    assert company["custom_attributes"] == {"tier": "enterprise"}
    assert {(e["event_name"], e["user_id"]) for e in state["events"]} == EXPECTED_EVENTS
    assert Counter(d["reason"] for d in result["dead_letters"]) == EXPECTED_DEAD_LETTERS
