"""Anonymous visitors, lead merges, alias, deletion with suppression, tags, pages and consent, end to
end: Kafka → worker → the emulator."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import pytest

from tests.integration.conftest import RunningPipeline

pytestmark = pytest.mark.integration


def ev(kind: str, n: int, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "messageId": f"{kind}-{n}", "timestamp": f"2026-11-20T10:00:{n:02d}Z", **fields}


def people(pipeline: RunningPipeline) -> list[dict[str, Any]]:
    return list(pipeline.emulator.state()["contacts"])


@pytest.mark.parametrize("version", ["2.10", "2.16"])
def test_visitor_becomes_a_lead_then_is_merged_into_the_user(pipeline: RunningPipeline, version: str) -> None:
    pipeline.env["INTERCOM_STREAM_API_VERSION"] = version
    pipeline.start()
    pipeline.publish([ev("track", 1, anonymousId="anon-1", event="Visited")])
    pipeline.wait_drained(1)
    (lead,) = people(pipeline)
    assert lead["role"] == "lead"
    pipeline.publish(
        [
            ev("identify", 2, userId="u-1", anonymousId="anon-1", traits={"email": "u1@example.com"}),
            ev("track", 3, anonymousId="anon-1", event="Came Back"),  # now addresses the user
        ]
    )
    pipeline.wait_drained(3)
    assert pipeline.dead_letters() == []
    (user,) = people(pipeline)
    assert user["role"] == "user" and user["external_id"] == "u-1" and user["id"] != lead["id"]
    merges = [c for c in pipeline.emulator.requests() if c["path"] == "/contacts/merge"]
    assert [m["status"] for m in merges] == [200]
    events = [c for c in pipeline.emulator.requests() if c["path"] == "/events"]
    last = events[-1]["request_body"]
    # The late visit reaches the user: by the merged contact's id, or by userId when it ran before the
    # merge was learned (the identify binds the anonymousId to its user; streams/pipeline/parking.py).
    assert last.get("id") == user["id"] or last.get("user_id") == "u-1", last
    assert events[-1]["status"] == 202


def test_lead_already_merged_by_intercom_and_alias_cases(pipeline: RunningPipeline) -> None:
    pipeline.env["INTERCOM_STREAM_UNKNOWN_USER_HOLD_S"] = "3"
    emulator = pipeline.emulator
    pipeline.start()
    pipeline.publish([ev("identify", 1, anonymousId="anon-2", traits={"name": "Visitor"})])
    pipeline.wait_drained(1)
    (lead,) = people(pipeline)
    user = emulator.api("POST", "/contacts", {"external_id": "u-2", "role": "user"})
    emulator.api("POST", "/contacts/merge", {"from": lead["id"], "into": user["id"]})  # merged in Intercom
    # An alias is keyed by previousId: a producer keying it by userId sends it through the re-key
    # topic, so it could overtake the identify of previousId; publish that identify first.
    pipeline.publish([ev("identify", 3, userId="a-1", traits={"email": "a1@example.com"})])
    pipeline.wait_drained(2)
    pipeline.publish(
        [
            ev("alias", 2, previousId="anon-2", userId="u-2"),  # known lead, already merged: 404 is fine
            ev("alias", 4, previousId="a-1", userId="a-2"),  # known user: external_id moves
            ev("alias", 5, previousId="ghost", userId="a-3"),  # unknown: nothing done, reported
        ]
    )
    pipeline.wait_drained(5)
    # Keyed by previousId, so an alias back is published once the first is done (another partition).
    pipeline.publish([ev("alias", 6, previousId="a-2", userId="a-1")])  # and back: no loop
    pipeline.wait_drained(6)
    # "ghost" is never identified: its alias stays parked for the hold window, then is dead-lettered.
    deadline = time.monotonic() + 60
    while not (letters := pipeline.dead_letters()) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert [x["reason"] for x in letters] == ["alias_unknown"], letters
    (letter,) = letters
    assert letter["reason"] == "alias_unknown" and letter["user_key"] == "ghost"
    external_ids = sorted(str(c.get("external_id")) for c in people(pipeline))
    assert external_ids == ["a-1", "u-2"]


def test_deletion_suppresses_the_user_until_lifted(pipeline: RunningPipeline) -> None:
    pipeline.start()
    pipeline.publish(
        [
            ev("identify", 1, userId="d-1", traits={"email": "d1@example.com"}),
            ev("delete", 2, userId="d-1"),
            ev("track", 3, userId="d-1", event="Raced"),  # racing the deletion: not re-created
            ev("delete", 4, userId="nobody"),  # unknown: counts as done
        ]
    )
    pipeline.wait_drained(4)
    assert people(pipeline) == []
    (letter,) = pipeline.dead_letters()
    assert letter["reason"] == "suppressed" and letter["user_key"] == "d-1"
    lifted = subprocess.run(
        [sys.executable, "-m", "streams.cli", "unsuppress", "d-1"],
        env={**os.environ, **pipeline.env}, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert lifted.returncode == 0, lifted.stderr
    pipeline.publish([ev("identify", 6, userId="d-1")])
    pipeline.wait_drained(6)
    assert [c["external_id"] for c in people(pipeline)] == ["d-1"]


def test_pages_tags_and_consent(pipeline: RunningPipeline) -> None:
    pipeline.env["INTERCOM_STREAM_PAGE_POLICY"] = "track"
    pipeline.env["INTERCOM_STREAM_CONSENT_CATEGORIES"] = "analytics"
    consent = {"consentManagement": {"allowedConsentIds": ["analytics"], "deniedConsentIds": []}}
    denied = {"consentManagement": {"allowedConsentIds": [], "deniedConsentIds": ["analytics"]}}
    pipeline.start()
    pipeline.publish(
        [
            ev(
                "identify",
                1,
                userId="p-1",
                context=consent,
                integrations={"Intercom": {"tags": ["vip", "beta"]}},
            ),
            ev("page", 2, userId="p-1", name="Pricing", context=consent),
            ev("track", 3, userId="p-1", event="Secret", context=denied),
            ev("identify", 4, userId="p-1", context=consent, integrations={"Intercom": {"untags": ["beta"]}}),
        ]
    )
    pipeline.wait_drained(4)
    assert pipeline.dead_letters() == []
    (contact,) = people(pipeline)
    names = [c["request_body"]["event_name"] for c in pipeline.emulator.requests() if c["path"] == "/events"]
    assert names == ["Viewed Pricing Page"]
    tags = pipeline.emulator.api("GET", f"/contacts/{contact['id']}/tags")
    assert [t["name"] for t in tags["data"]] == ["vip"]
    assert "consent_denied" in pipeline.logs()
