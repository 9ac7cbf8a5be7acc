"""`intercom-stream dlq`: decoding topic records, filters, the listing and the replay plan (no Kafka)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from rich.console import Console

from streams.deadletter import (
    SourceRecord,
    dead_letter_for_input,
    dead_letter_for_report,
    dead_letter_headers,
)
from streams.deadletter.render import full_json, list_json, print_letter, print_list
from streams.deadletter.select import (
    REPLAY_HEADER,
    UNDECODABLE,
    Letter,
    Selection,
    SelectionError,
    Tally,
    count_by_reason,
    letter_from,
    parse_positions,
    parse_reasons,
    parse_time,
    replay_for,
    replay_order,
)
from streams.errors import InvalidEventError
from streams.events.decode import AVRO_CONTENT_TYPE
from streams.mapping.plan import Report
from streams.records import codec_for

T0 = int(datetime(2026, 11, 24, 6, 0, tzinfo=UTC).timestamp() * 1000)
MINUTE = 60_000


@dataclass
class Message:
    """What aiokafka's consumer yields, as far as the tool reads it."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


def letter(
    partition: int,
    offset: int,
    reason: str,
    failed_at_ms: int,
    *,
    user: str | None = "u1",
    value: bytes = b'{"type":"identify","userId":"u1"}',
    first_seen_at_ms: int | None = None,
) -> Letter:
    source = SourceRecord(
        "raw-events", 0, 100 + offset, None if user is None else b"k-" + user.encode(), value, 0
    )
    if reason == "attributes_dropped":
        record = dead_letter_for_report(source, Report(reason, "dropped plan", {}), user or "", "identify")
    else:
        record = dead_letter_for_input(source, InvalidEventError(reason, f"bad {offset}"), user, None)
    record["failed_at_ms"] = failed_at_ms
    record["first_seen_at_ms"] = failed_at_ms if first_seen_at_ms is None else first_seen_at_ms
    message = Message(
        "dlq", partition, offset, failed_at_ms + 5, source.key,
        codec_for("dead_letter").encode(record), dead_letter_headers(record),
    )  # fmt: skip
    return letter_from(message)


LETTERS = [
    letter(0, 0, "unparseable", T0, user=None, value=b"not json"),
    letter(1, 0, "attributes_dropped", T0 + MINUTE),
    letter(0, 1, "missing_identity", T0 + 2 * MINUTE, user=None),
    letter(1, 1, "attributes_dropped", T0 + 3 * MINUTE, user="u2"),
]


def test_letter_from_decodes_the_record_and_keeps_the_headers() -> None:
    got = LETTERS[1]
    assert got.record is not None and got.problem is None
    assert got.position == "1:0" and got.reason == "attributes_dropped" and got.user == "u1"
    assert got.failed_at_ms == T0 + MINUTE
    assert dict(got.headers)["__connect.errors.offset"] == b"100"  # the source offset


def test_garbage_on_the_topic_is_listed_as_undecodable_not_dropped() -> None:
    got = letter_from(Message("dlq", 2, 7, T0, b"someone", b"\x00garbage", []))
    assert got.record is None and got.reason == UNDECODABLE
    assert got.problem is not None and "DeadLetter" in got.problem
    assert got.failed_at_ms == T0 and got.user == "someone"
    assert replay_for(got) is None
    assert full_json(got)["record"] is None


def test_parse_time_accepts_iso_dates_zones_and_durations() -> None:
    now = T0 + 10 * MINUTE
    assert parse_time("2026-11-24T06:00:00Z", now) == T0
    assert parse_time("2026-11-24T06:00", now) == T0  # no zone: UTC
    assert parse_time("2026-11-24T07:00:00+01:00", now) == T0
    assert parse_time("2026-11-24", now) == T0 - 6 * 60 * MINUTE
    assert parse_time("10m", now) == T0
    assert parse_time("2h", now) == now - 120 * MINUTE
    assert parse_time("1.5d", now) == now - 36 * 60 * MINUTE
    with pytest.raises(SelectionError, match="not a time"):
        parse_time("yesterday", now)


def test_parse_positions_and_reasons() -> None:
    assert parse_positions("0:12, 1:5,") == {(0, 12), (1, 5)}
    for bad in ("12", "a:1", "1:-2", ",", ""):
        with pytest.raises(SelectionError):
            parse_positions(bad)
    assert parse_reasons(["unparseable,missing_identity", " attributes_dropped "]) == {
        "unparseable", "missing_identity", "attributes_dropped",
    }  # fmt: skip
    assert parse_reasons(None) == frozenset()


def test_selection_filters_combine() -> None:
    def pick(selection: Selection) -> list[str]:
        return [x.position for x in LETTERS if selection.matches(x)]

    assert pick(Selection()) == ["0:0", "1:0", "0:1", "1:1"]
    assert pick(Selection(reasons=frozenset({"attributes_dropped"}))) == ["1:0", "1:1"]
    assert pick(Selection(since_ms=T0 + MINUTE)) == ["1:0", "0:1", "1:1"]  # since is inclusive
    assert pick(Selection(until_ms=T0 + 2 * MINUTE)) == ["0:0", "1:0"]  # until is exclusive
    assert pick(Selection(positions=frozenset({(0, 1), (1, 1), (5, 5)}))) == ["0:1", "1:1"]
    both = Selection(reasons=frozenset({"attributes_dropped"}), since_ms=T0 + 2 * MINUTE)
    assert pick(both) == ["1:1"]
    with pytest.raises(SelectionError, match="before"):
        Selection(since_ms=T0, until_ms=T0)


def test_tally_keeps_the_latest_and_counts_everything() -> None:
    def tally(limit: int | None, letters: list[Letter]) -> Tally:
        result = Tally(limit)
        for x in letters:
            result.add(x)
        return result

    for order in (LETTERS, LETTERS[::-1], [LETTERS[2], LETTERS[0], LETTERS[3], LETTERS[1]]):
        two = tally(2, order)
        assert [x.position for x in two.latest()] == ["0:1", "1:1"]
        assert two.matched == 4
        assert two.by_reason() == {"attributes_dropped": 2, "unparseable": 1, "missing_identity": 1}
        assert [x.position for x in tally(None, order).latest()] == ["0:0", "1:0", "0:1", "1:1"]
    assert tally(10, LETTERS[:1]).latest() == LETTERS[:1]
    assert tally(3, []).latest() == [] and tally(3, []).by_reason() == {}
    assert count_by_reason(LETTERS) == {"attributes_dropped": 2, "unparseable": 1, "missing_identity": 1}
    assert next(iter(count_by_reason(LETTERS))) == "attributes_dropped"  # most frequent first


def test_replay_sends_the_original_bytes_keyed_by_user_and_marked() -> None:
    replay = replay_for(LETTERS[3])
    assert replay is not None
    assert replay.value == b'{"type":"identify","userId":"u1"}'
    assert replay.key == b"u2"  # the user key, not the input's key (k-u2)
    assert replay.headers == ((REPLAY_HEADER, b"dlq/1/1"),)


def test_replay_without_a_user_key_uses_the_original_key() -> None:
    replay = replay_for(LETTERS[0])
    assert replay is not None and replay.key is None and replay.value == b"not json"
    keyed = replay_for(letter(0, 3, "missing_identity", T0, user=None))
    assert keyed is not None and keyed.key is None
    record = dict(LETTERS[2].record or {}, original_key=b"tenant-42")
    message = Message("dlq", 0, 9, T0, None, codec_for("dead_letter").encode(record), [])
    again = replay_for(letter_from(message))
    assert again is not None and again.key == b"tenant-42"


def test_replay_of_an_avro_input_restores_its_content_type() -> None:
    raw = {
        "type": "identify", "messageId": "m", "userId": "u9", "anonymousId": None, "previousId": None,
        "groupId": None, "event": None, "name": None, "timestamp": None, "originalTimestamp": None,
        "traits": '{"email":"a@b.c"}', "properties": None, "context": None, "integrations": None,
    }  # fmt: skip
    value = codec_for("raw_event").encode(raw)
    replay = replay_for(letter(0, 4, "missing_identity", T0, user="u9", value=value))
    assert replay is not None and replay.value == value
    assert dict(replay.headers)["content-type"] == AVRO_CONTENT_TYPE.encode()
    plain = replay_for(letter(0, 5, "unparseable", T0, value=b"\xff\xfe not avro either"))
    assert plain is not None and "content-type" not in dict(plain.headers)


def test_replay_order_follows_first_arrival_not_dead_letter_time() -> None:
    # The track failed at delivery after the identify's report was written: arrival order wins.
    track = letter(0, 0, "user_not_found", T0 + 5 * MINUTE, first_seen_at_ms=T0 + 2 * MINUTE)
    identify = letter(0, 1, "attributes_dropped", T0 + 3 * MINUTE, first_seen_at_ms=T0 + MINUTE)
    assert [x.position for x in replay_order([track, identify])] == ["0:1", "0:0"]


def test_list_renderings() -> None:
    document = json.loads(list_json(LETTERS[2:], count_by_reason(LETTERS), 4, 10))
    assert document["matched"] == 4 and document["total"] == 10
    assert document["by_reason"] == {"attributes_dropped": 2, "unparseable": 1, "missing_identity": 1}
    first = document["records"][0]
    assert first == {
        "position": "0:1", "partition": 0, "offset": 1, "time": "2026-11-24T06:02:00.000Z",
        "reason": "missing_identity", "user": None, "event_type": None,
        "message": LETTERS[2].record["message"],  # type: ignore[index]
    }  # fmt: skip
    console = Console(record=True, width=200)
    print_list(console, "dlq", LETTERS[2:], count_by_reason(LETTERS), 4, 10)
    text = console.export_text()
    assert "dlq: 4 of 10 records match, showing the latest 2" in text
    assert "0:1" in text and "2026-11-24 06:02:00" in text and "missing_identity" in text
    assert "0:0" not in text.split("By reason")[0]
    counts = text.split("By reason")[1]
    assert "attributes_dropped │ 2" in counts and "unparseable        │ 1" in counts


def test_show_prints_every_field_and_the_headers() -> None:
    target = LETTERS[1]
    data: dict[str, Any] = full_json(target)
    assert data["record"]["original_value"] == '{"type":"identify","userId":"u1"}'
    assert data["record"]["failed_at"] == "2026-11-24T06:01:00.000Z"
    assert data["key"] == "k-u1"
    assert ["intercom-stream-reason", "attributes_dropped"] in data["headers"]
    console = Console(record=True, width=200)
    print_letter(console, target)
    text = console.export_text()
    for expected in (
        "dlq 1:0",
        "attributes_dropped",
        "__connect.errors.topic",
        '"userId": "u1"',
        "raw-events",
    ):
        assert expected in text
