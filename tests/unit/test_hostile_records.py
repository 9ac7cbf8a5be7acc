"""Hostile input records (issue 24): numbers JSON cannot carry, deep nesting, and the odd records that
already work and must keep working."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from streams.deadletter.records import SourceRecord, dead_letter_for_input, dead_letter_for_report
from streams.errors import InvalidEventError
from streams.events import AVRO_CONTENT_TYPE, decode_raw_event, parse_event
from streams.events.strict_json import MAX_DEPTH, nesting_depth
from streams.kafka_io import _inspect, key_for_line, read_jsonl
from streams.mapping import Action, plan_event
from streams.mapping.fields import as_int
from streams.mapping.money import convert_revenue
from streams.mapping.timestamps import to_unix_seconds
from streams.pipeline.requests import DeliveryRequest
from streams.records import codec_for

SOURCE = SourceRecord("raw-events", 0, 3, b"u1", b"{}", 1)
AT = '"timestamp":"2024-05-01T10:00:00Z"'


def strict(text: str | bytes) -> Any:
    """Parse as RFC 8259 JSON: NaN / Infinity literals fail."""

    def refuse(literal: str) -> Any:
        raise AssertionError(f"non-strict JSON literal {literal}")

    return json.loads(text, parse_constant=refuse)


def nested(levels: int, leaf: str = "1") -> str:
    return '{"a":' * levels + leaf + "}" * levels


def plan_of(record: bytes) -> Any:
    return plan_event(parse_event(decode_raw_event(record)))


# --- NaN, Infinity and numbers beyond a double ---------------------------------------------------


def test_nan_and_infinity_are_dropped_reported_and_the_rest_delivered() -> None:
    record = (
        '{"type":"identify","userId":"u1",' + AT + ',"traits":{"plan":"pro","score":NaN,'
        '"ratio":Infinity,"floor":-Infinity,"big":1e400,"nested":{"x":NaN,"y":2},"list":[1,NaN,3]}}'
    ).encode()
    plan = plan_of(record)
    (upsert,) = [op for op in plan.operations if op.action is Action.UPSERT_CONTACT]
    assert upsert.body["custom_attributes"] == {"plan": "pro", "nested_y": 2, "list": "[1,3]"}
    report = plan.reports[0]
    assert report.reason == "invalid_numbers"
    assert report.details == {
        "target": "event",
        "values": {
            "traits.big": "1e400", "traits.floor": "-Infinity", "traits.list[1]": "NaN",
            "traits.nested.x": "NaN", "traits.ratio": "Infinity", "traits.score": "NaN",
        },
    }  # fmt: skip
    assert "traits.score" in report.message
    # Every byte that leaves the transform is strict JSON.
    request = DeliveryRequest.planned(plan, decode_raw_event(record), SOURCE).to_record()
    strict(request["event"])
    for op in request["operations"]:
        strict(op["body"])
    letter = dead_letter_for_report(SOURCE, report, "u1", "identify")
    assert letter["reason"] == "invalid_numbers" and "fix the producer" in letter["message"]
    assert strict(letter["details"])["values"]["traits.score"] == "NaN"


def test_integers_beyond_a_double_are_dropped_and_long_ones_named_short() -> None:
    huge = "9" * 400
    endless = "7" * 5000  # over Python's 4,300-digit limit for int()
    record = f'{{"type":"identify","userId":"u1","traits":{{"a":{huge},"b":{endless},"c":{"9" * 300}}}}}'
    event = parse_event(decode_raw_event(record.encode()))
    assert "a" not in event.traits and "b" not in event.traits
    assert event.traits["c"] == int("9" * 300)  # a double can hold it: kept
    assert event.invalid_numbers["traits.b"].endswith("(5000 digits)")
    assert len(event.invalid_numbers["traits.b"]) < 80


def test_identity_lost_to_a_nan_is_a_missing_identity_dead_letter() -> None:
    with pytest.raises(InvalidEventError) as caught:
        parse_event(decode_raw_event(b'{"type":"identify","userId":NaN}'))
    assert caught.value.reason == "missing_identity"


def test_a_bare_nan_is_unparseable() -> None:
    with pytest.raises(InvalidEventError) as caught:
        decode_raw_event(b"NaN")
    assert caught.value.reason == "unparseable" and "NaN is not a JSON value" in caught.value.message


def test_avro_json_fields_drop_nan_with_the_field_in_the_path() -> None:
    value = codec_for("raw_event").encode(
        {"type": "identify", "userId": "u1", "traits": '{"score": NaN, "plan": "pro"}'}
    )
    event = parse_event(decode_raw_event(value, [("content-type", AVRO_CONTENT_TYPE.encode())]))
    assert event.traits == {"plan": "pro"}
    assert event.invalid_numbers == {"traits.score": "NaN"}


def test_the_report_survives_the_anonymous_external_id_policy() -> None:
    from streams.mapping import MappingOptions

    record = b'{"type":"track","anonymousId":"a1","event":"E",' + AT.encode() + b',"properties":{"x":NaN}}'
    plan = plan_event(parse_event(decode_raw_event(record)), MappingOptions(anonymous_policy="external_id"))
    assert [r.reason for r in plan.reports] == ["invalid_numbers"]


@pytest.mark.parametrize("text", ["inf", "-inf", "nan", "1e400", "Infinity"])
def test_converters_treat_non_finite_text_as_absent(text: str) -> None:
    assert to_unix_seconds(text) is None
    assert as_int(text) is None
    assert convert_revenue({"revenue": text}) == ({"revenue": text}, [])


def test_revenue_whose_cents_overflow_is_left_as_is() -> None:
    out, _ = convert_revenue({"revenue": 1.7e308, "total": 1.7e308, "currency": "EUR"})
    assert out == {"revenue": 1.7e308, "total": 1.7e308, "currency": "EUR"}


def test_timestamps_past_year_9999_are_not_times() -> None:
    assert to_unix_seconds(10**300) is None
    assert to_unix_seconds(253_402_300_799_000) == 253_402_300_799  # milliseconds: the last second of 9999
    assert to_unix_seconds(253_402_300_800_000) is None
    assert to_unix_seconds(1_714_557_600_000) == 1_714_557_600  # epoch milliseconds


def test_bodies_that_are_not_strict_json_fail_before_the_wire() -> None:
    from streams.mapping import Operation

    with pytest.raises(ValueError):
        Operation(Action.TRACK_EVENT, {"metadata": {"x": float("nan")}}).to_record()
    with pytest.raises(ValueError):
        DeliveryRequest.planned(plan_of(b'{"type":"identify","userId":"u"}'), {"x": float("inf")}, SOURCE)


# --- Deep nesting ---------------------------------------------------------------------------------


def test_three_thousand_levels_are_refused_as_too_deep() -> None:
    record = ('{"type":"identify","userId":"u1","traits":' + nested(3000) + "}").encode()
    with pytest.raises(InvalidEventError) as caught:
        decode_raw_event(record)
    assert caught.value.reason == "too_deep"
    assert "3001 levels" in caught.value.message and str(MAX_DEPTH) in caught.value.message
    letter = dead_letter_for_input(SOURCE, caught.value)
    assert letter["reason"] == "too_deep" and "Flatten" in letter["message"]


def test_the_limit_is_exact_and_counts_the_envelope() -> None:
    at_limit = ('{"type":"identify","userId":"u1","traits":' + nested(MAX_DEPTH - 1) + "}").encode()
    assert decode_raw_event(at_limit)["traits"]["a"]["a"]
    over = ('{"type":"identify","userId":"u1","traits":' + nested(MAX_DEPTH) + "}").encode()
    with pytest.raises(InvalidEventError, match="65 levels"):
        decode_raw_event(over)


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"type": "identify", "userId": "u1", "traits": {"s": "[{" * 5000, "t": 'a\\"[['}})
    assert nesting_depth(text.encode()) == 2
    assert decode_raw_event(text.encode())["traits"]["s"] == "[{" * 5000


def test_many_shallow_brackets_are_fine() -> None:
    items = [{"sku": str(n), "tags": [n]} for n in range(500)]
    record = json.dumps({"type": "track", "userId": "u", "event": "E", "properties": {"items": items}})
    assert len(decode_raw_event(record.encode())["properties"]["items"]) == 500


def test_deep_avro_field_is_too_deep() -> None:
    value = codec_for("raw_event").encode({"type": "identify", "userId": "u1", "traits": nested(MAX_DEPTH)})
    with pytest.raises(InvalidEventError) as caught:
        decode_raw_event(value, [("content-type", AVRO_CONTENT_TYPE.encode())])
    assert caught.value.reason == "too_deep"


# --- The publishing tools -------------------------------------------------------------------------


def test_publish_names_lines_the_worker_will_dead_letter_and_keys_the_rest() -> None:
    deep = '{"type":"identify","userId":"u1","traits":' + nested(3000) + "}"
    assert _inspect(deep) == (None, "too_deep: record nests 3001 levels deep, over the limit of 64")
    assert _inspect("[1, 2]")[1] == "unparseable: expected a JSON object, got list"
    assert _inspect('{"type":"identify","userId":"u1"}') == (b"u1", None)
    assert _inspect('{"type":"purchase","userId":"u1"}')[1].startswith("invalid_event:")  # type: ignore[union-attr]
    assert key_for_line('\ufeff{"type":"identify","userId":"ü-1"}') == "ü-1".encode()


def test_jsonl_splits_at_newlines_only_and_keeps_bytes(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    line_sep = '{"type":"identify","userId":"a\u2028b"}'
    path.write_bytes(line_sep.encode() + b"\r\n\n" + b'{"userId":"\xff"}\n')
    lines = read_jsonl(path)
    assert lines[0] == line_sep
    assert lines[1].encode("utf-8", "surrogateescape") == b'{"userId":"\xff"}'
    assert _inspect(lines[1])[1] is not None and "neither UTF-8" in _inspect(lines[1])[1]  # type: ignore[operator]


def test_the_dlq_tool_shows_and_replays_a_too_deep_record() -> None:
    from streams.deadletter.render import _pretty
    from streams.deadletter.select import _is_avro_event

    deep = nested(3000)
    assert _pretty(deep) == deep
    assert _is_avro_event(deep.encode()) is False


# --- What already works and must keep working -----------------------------------------------------


def test_capitalised_type_is_read() -> None:
    assert parse_event(decode_raw_event(b'{"type":"Identify","userId":"u1"}')).type == "identify"
    assert parse_event(decode_raw_event(b'{"type":" TRACK ","userId":"u1","event":"E"}')).type == "track"


def test_epoch_millisecond_timestamps() -> None:
    plan = plan_of(b'{"type":"track","userId":"u1","event":"E","timestamp":1714557600123}')
    assert plan.operations[0].body["created_at"] == 1_714_557_600


def test_a_bom_is_skipped() -> None:
    assert decode_raw_event(b'\xef\xbb\xbf{"type":"identify","userId":"u1"}')["userId"] == "u1"


def test_an_invalid_email_still_plans_the_contact() -> None:
    plan = plan_of(b'{"type":"identify","userId":"u1","traits":{"email":"not an email"}}')
    assert plan.operations[0].body["email"] == "not an email"


def test_three_thousand_traits_are_planned() -> None:
    traits = {f"t{n}": n for n in range(3000)}
    record = json.dumps({"type": "identify", "userId": "u1", "traits": traits}).encode()
    assert len(plan_of(record).operations[0].body["custom_attributes"]) == 3000


def test_unicode_user_ids_key_the_event() -> None:
    record = '{"type":"identify","userId":"用户-🦄-\u00e9"}'.encode()
    assert parse_event(decode_raw_event(record)).user_key == "用户-🦄-é"


@pytest.mark.parametrize("value", [b"[]", b"42", b'"text"', b"null", b"true"])
def test_non_object_json_is_unparseable(value: bytes) -> None:
    with pytest.raises(InvalidEventError) as caught:
        decode_raw_event(value)
    assert caught.value.reason == "unparseable"
