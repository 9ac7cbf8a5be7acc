"""Hostile records end to end (#24): a JSONL file of them goes through ``intercom-stream publish`` (and
the sandbox) onto the real broker, through a worker, into the emulator. Bad values are dropped and
reported, bad records dead-lettered with their reason; the tools name the bad lines and go on."""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from streams.processes import python_module
from tests.integration.conftest import RunningPipeline

pytestmark = pytest.mark.integration

AT = "2024-05-01T10:00:00Z"
DEEP = '{"type":"identify","userId":"h-deep","traits":' + '{"a":' * 3000 + "1" + "}" * 3000 + "}"
UNICODE_ID = "用户-🦄-é"
DUPLICATE = json.dumps(
    {"type": "track", "messageId": "h-dup-1", "userId": "h-cap", "event": "Twice", "timestamp": AT}
)


def hostile_lines() -> list[str]:
    """Line numbers matter: the tools name them (DEEP is line 3, the non-objects lines 11 and 12)."""
    return [
        '{"type":"identify","messageId":"h-nan-i","userId":"h-nan","timestamp":"' + AT + '",'
        '"traits":{"plan":"pro","score":NaN,"ratio":Infinity,"big":1e400,"long":' + "9" * 400 + "}}",
        '{"type":"track","messageId":"h-nan-t","userId":"h-nan","event":"Paid","timestamp":"' + AT + '",'
        '"properties":{"price":NaN,"n":1,"floor":-Infinity}}',
        DEEP,
        json.dumps({"type": "Identify", "messageId": "h-cap-i", "userId": "h-cap", "timestamp": AT}),
        json.dumps(
            {
                "type": "track",
                "messageId": "h-ms",
                "userId": "h-cap",
                "event": "Millis",
                "timestamp": 1714557600123,
            }
        ),
        "\ufeff"
        + json.dumps({"type": "identify", "messageId": "h-bom-i", "userId": "h-bom", "timestamp": AT}),
        json.dumps(
            {"type": "identify", "userId": "h-mail", "timestamp": AT, "traits": {"email": "not an email"}}
        ),
        DUPLICATE,
        DUPLICATE,
        json.dumps(
            {
                "type": "identify",
                "messageId": "h-wide-i",
                "userId": "h-wide",
                "timestamp": AT,
                "traits": {f"t{n}": n for n in range(3000)},
            }
        ),
        "[1, 2, 3]",
        "42",
        json.dumps({"type": "identify", "messageId": "h-uni-i", "userId": UNICODE_ID, "timestamp": AT}),
    ]


def contacts(pipeline: RunningPipeline) -> dict[str, dict[str, Any]]:
    return {c["external_id"]: c for c in pipeline.emulator.state()["contacts"] if c.get("external_id")}


def test_hostile_records_through_publish_the_broker_and_the_worker(
    pipeline: RunningPipeline, tmp_path: Path
) -> None:
    pipeline.emulator.create_attribute("plan", "string", "contact")
    pipeline.start()
    lines = hostile_lines()
    events = tmp_path / "hostile.jsonl"
    events.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = subprocess.run(
        python_module("streams.cli", "publish", str(events), "--topic", pipeline.settings.raw_events_topic),
        env={**os.environ, **pipeline.env}, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert f"published {len(lines)} events" in done.stdout
    warned = [line for line in done.stderr.splitlines() if line.startswith("line ")]
    assert [line.removesuffix(" (published as it is: the worker dead-letters it)") for line in warned] == [
        "line 3: too_deep: record nests 3001 levels deep, over the limit of 64",
        "line 11: unparseable: expected a JSON object, got list",
        "line 12: unparseable: expected a JSON object, got int",
    ]
    pipeline.wait_drained(len(lines))

    calls = pipeline.emulator.requests()
    assert [c for c in calls if c["status"] == 400] == []  # no body Intercom could not parse
    people = contacts(pipeline)
    assert set(people) == {"h-nan", "h-cap", "h-bom", "h-mail", "h-wide", UNICODE_ID}
    assert people["h-nan"]["custom_attributes"] == {"plan": "pro"}
    assert people["h-mail"]["email"] == "not an email"
    events_by_name = Counter(e["event_name"].lower() for e in pipeline.emulator.state()["events"])
    assert events_by_name == {"paid": 1, "millis": 1, "twice": 1}
    (paid,) = [e for e in pipeline.emulator.state()["events"] if e["event_name"].lower() == "paid"]
    assert paid["metadata"] == {"n": 1}
    (millis,) = [e for e in pipeline.emulator.state()["events"] if e["event_name"].lower() == "millis"]
    assert millis["created_at"] == 1_714_557_600

    letters = pipeline.dead_letters()
    reasons = Counter(letter["reason"] for letter in letters)
    assert reasons == {"invalid_numbers": 2, "too_deep": 1, "unparseable": 2, "attributes_dropped": 1}
    numbers = {
        letter["event_type"]: json.loads(letter["details"])["values"]
        for letter in letters_for(letters, "invalid_numbers")
    }
    assert {letter["user_key"] for letter in letters_for(letters, "invalid_numbers")} == {"h-nan"}
    assert numbers["identify"].keys() == {"traits.score", "traits.ratio", "traits.big", "traits.long"}
    assert numbers["track"] == {"properties.price": "NaN", "properties.floor": "-Infinity"}
    assert letters_for(letters, "too_deep")[0]["original_value"] == DEEP
    assert sorted(letter["original_value"] for letter in letters_for(letters, "unparseable")) == [
        "42",
        "[1, 2, 3]",
    ]
    assert "internal_error" not in pipeline.logs() and "Traceback" not in pipeline.logs()


def letters_for(letters: list[dict[str, Any]], reason: str) -> list[dict[str, Any]]:
    return [letter for letter in letters if letter["reason"] == reason]


def test_the_sandbox_names_bad_lines_and_reports_the_rest(tmp_path: Path) -> None:
    lines = [
        hostile_lines()[0].replace("h-nan", "s-nan"),
        DEEP,
        "[1, 2, 3]",
        json.dumps({"type": "identify", "userId": "s-ok", "timestamp": AT, "traits": {"plan": "pro"}}),
    ]
    events = tmp_path / "hostile.jsonl"
    events.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = subprocess.run(
        python_module("streams.cli", "sandbox", "--events", str(events), "--json"),
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    assert "line 2: too_deep: record nests 3001 levels deep" in done.stderr
    assert "line 3: unparseable: expected a JSON object, got list" in done.stderr
    report = json.loads(done.stdout)
    assert {c["external_id"] for c in report["state"]["contacts"]} == {"s-nan", "s-ok"}
    reasons = sorted(letter["reason"] for letter in report["dead_letters"])
    assert reasons == ["invalid_numbers", "too_deep", "unparseable"]
