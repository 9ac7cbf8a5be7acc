"""`intercom-stream dlq list|show|replay` against dead letters written by a running worker."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from typer.testing import CliRunner

from streams.cli import app
from streams.kafka_io import read_all
from tests.integration.builders import identify
from tests.integration.conftest import RunningPipeline
from tests.integration.test_observability import value, with_web_port

pytestmark = pytest.mark.integration


def dlq(pipeline: RunningPipeline, *args: str, stdin: str | None = None) -> str:
    result = CliRunner().invoke(app, ["dlq", *args], env=pipeline.env, input=stdin)
    assert result.exit_code == 0, result.output
    return result.output


def listing(pipeline: RunningPipeline, *args: str) -> dict[str, Any]:
    return dict(json.loads(dlq(pipeline, "list", "--json", *args)))


def groups(bootstrap: str) -> set[str]:
    async def names() -> set[str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            return {group[0] for group in await admin.list_consumer_groups()}
        finally:
            await admin.close()

    return asyncio.run(names())


def raw_records(pipeline: RunningPipeline) -> list[Any]:
    return asyncio.run(read_all(pipeline.bootstrap, pipeline.settings.raw_events_topic))


def contacts(pipeline: RunningPipeline) -> dict[str, dict[str, Any]]:
    return {c["external_id"]: c for c in pipeline.emulator.state()["contacts"]}


def test_list_show_and_replay_after_creating_the_missing_attribute(pipeline: RunningPipeline) -> None:
    pipeline.env["INTERCOM_STREAM_ATTRIBUTE_POLICY"] = "reject"
    pipeline.env["INTERCOM_STREAM_ATTRIBUTE_REFRESH_S"] = "0.5"
    port = with_web_port(pipeline)
    pipeline.start()
    pipeline.publish(
        [
            identify("dl-a", 1, favourite_colour="green"),
            identify("dl-b", 2, favourite_colour="blue"),
            "this is not json",
            identify("dl-c", 3),
        ]
    )
    pipeline.wait_drained(4)
    assert set(contacts(pipeline)) == {"dl-c"}
    groups_before = groups(pipeline.bootstrap)

    # list: every dead letter, the count per reason; --reason narrows it.
    everything = listing(pipeline)
    assert everything["matched"] == everything["total"] == 3
    assert everything["by_reason"] == {"attributes_unknown": 2, "unparseable": 1}
    rejected = listing(pipeline, "--reason", "attributes_unknown")
    assert rejected["matched"] == 2 and rejected["by_reason"] == {"attributes_unknown": 2}
    by_user = {r["user"]: r for r in rejected["records"]}
    assert set(by_user) == {"dl-a", "dl-b"}
    assert all(r["event_type"] == "identify" and "favourite_colour" in r["message"] for r in by_user.values())
    assert listing(pipeline, "--limit", "1")["records"] == everything["records"][-1:]
    table = dlq(pipeline, "list")
    assert "attributes_unknown" in table and "unparseable" in table and by_user["dl-a"]["position"] in table

    # show: one record in full, read by position.
    position_a = by_user["dl-a"]["position"]
    shown = json.loads(dlq(pipeline, "show", position_a, "--json"))
    assert f"{shown['partition']}:{shown['offset']}" == position_a
    assert shown["topic"] == pipeline.settings.dead_letter_topic
    record = shown["record"]
    assert record["reason"] == "attributes_unknown" and record["user_key"] == "dl-a"
    assert json.loads(record["original_value"])["messageId"] == "dl-a-i1"
    assert record["source_topic"] in (pipeline.settings.raw_events_topic, pipeline.settings.rekey_topic)
    assert record["error_class"] == "streams.errors.RejectedError"
    assert isinstance(shown["headers"], list)
    assert "favourite_colour" in dlq(pipeline, "show", position_a)
    assert listing(pipeline, "--since", "1d", "--reason", "unparseable")["matched"] == 1
    assert listing(pipeline, "--until", "2000-01-01")["matched"] == 0
    for position, error in (("9:0", "has no partition 9"), ("0:999", "no record at 0:999")):
        failed = CliRunner().invoke(app, ["dlq", "show", position], env=pipeline.env)
        assert failed.exit_code == 2 and error in failed.output
    missing = CliRunner().invoke(
        app, ["dlq", "list"], env={**pipeline.env, "INTERCOM_STREAM_DEAD_LETTER_TOPIC": "no-such-dlq"}
    )
    assert missing.exit_code == 2 and "cannot read the dead-letter topic 'no-such-dlq'" in missing.output

    # Fix the cause, then replay. A dry run and a declined confirmation publish nothing.
    pipeline.emulator.create_attribute("favourite_colour", "string", "contact")
    dry = dlq(pipeline, "replay", "--offsets", position_a, "--dry-run")
    assert "would replay 1 records" in dry and position_a in dry
    declined = CliRunner().invoke(
        app, ["dlq", "replay", "--reason", "attributes_unknown"], env=pipeline.env, input="n\n"
    )
    assert declined.exit_code != 0 and "Replay these 2 records" in declined.output
    assert len(raw_records(pipeline)) == 4

    replayed = dlq(pipeline, "replay", "--reason", "attributes_unknown", "--yes")
    assert "attributes_unknown: 2" in replayed and "replayed 2 records" in replayed
    pipeline.wait_drained(6)
    assert value(port, "intercom_stream_replays_total", type="identify") == 2  # the worker counted them

    # What Intercom received: both contacts, with the attribute that was missing.
    got = contacts(pipeline)
    assert got["dl-a"]["custom_attributes"] == {"favourite_colour": "green"}
    assert got["dl-b"]["custom_attributes"] == {"favourite_colour": "blue"}
    created = [
        c["request_body"]["external_id"]
        for c in pipeline.emulator.requests()
        if c["method"] == "POST" and c["path"] == "/contacts" and c["status"] == 200
    ]
    assert sorted(created) == ["dl-a", "dl-b", "dl-c"]

    # The replays on raw-events: original bytes, keyed by user, marked with the dead letter they replay.
    raw = raw_records(pipeline)
    replays = [r for r in raw if r.headers]  # the test's own publishes carry no headers
    assert len(raw) == 6 and len(replays) == 2
    marks = {dict(r.headers)["intercom-stream-replay-of"].decode(): r for r in replays}
    topic = pipeline.settings.dead_letter_topic
    for user in ("dl-a", "dl-b"):
        position = by_user[user]["position"].replace(":", "/")
        replay = marks[f"{topic}/{position}"]
        assert replay.key == user.encode()
        assert json.loads(replay.value)["userId"] == user

    # Nothing new was dead-lettered, the unparseable record was left alone, and reading committed nothing.
    assert listing(pipeline)["by_reason"] == {"attributes_unknown": 2, "unparseable": 1}
    assert groups(pipeline.bootstrap) == groups_before
