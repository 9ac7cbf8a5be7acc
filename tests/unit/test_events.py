import json

import pytest

from streams.errors import InvalidEventError
from streams.events import AVRO_CONTENT_TYPE, decode_raw_event, parse_event
from streams.records import codec_for


def test_json_event_is_decoded_and_keyed_by_user_id() -> None:
    raw = decode_raw_event(b'{"type":"identify","userId":"u1","anonymousId":"a1","traits":{"email":"x@y.z"}}')
    event = parse_event(raw)
    assert event.user_key == "u1"
    assert event.email == "x@y.z"


def test_key_falls_back_to_anonymous_id_then_email() -> None:
    assert parse_event({"type": "track", "anonymousId": "a1", "event": "E"}).user_key == "a1"
    assert (
        parse_event({"type": "track", "properties": {"email": "e@x.io"}, "event": "E"}).user_key == "e@x.io"
    )


def test_numeric_user_ids_become_text() -> None:
    assert parse_event({"type": "identify", "userId": 42}).user_key == "42"


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (b"not json", "not valid JSON"),
        (b"[1,2]", "expected a JSON object"),
        (b"", "empty record"),
        (b"\xff\xfe\x00", "neither UTF-8 JSON"),
    ],
)
def test_unparseable_records_say_why(value: bytes, fragment: str) -> None:
    with pytest.raises(InvalidEventError) as caught:
        decode_raw_event(value)
    assert caught.value.reason == "unparseable"
    assert fragment in caught.value.message


def test_event_without_any_identity_is_rejected() -> None:
    with pytest.raises(InvalidEventError) as caught:
        parse_event({"type": "track", "event": "E"})
    assert caught.value.reason == "missing_identity"


def test_unknown_type_is_rejected() -> None:
    with pytest.raises(InvalidEventError) as caught:
        parse_event({"type": "purchase", "userId": "u"})
    assert caught.value.reason == "invalid_event"


def test_avro_event_with_header_is_decoded() -> None:
    value = codec_for("raw_event").encode(
        {
            "type": "track",
            "messageId": "m1",
            "userId": "u1",
            "anonymousId": None,
            "previousId": None,
            "groupId": None,
            "event": "Signed Up",
            "name": None,
            "timestamp": "2026-01-01T00:00:00Z",
            "originalTimestamp": None,
            "traits": None,
            "properties": json.dumps({"plan": "pro"}),
            "context": None,
            "integrations": None,
        }
    )
    raw = decode_raw_event(value, [("content-type", AVRO_CONTENT_TYPE.encode())])
    assert raw == {
        "type": "track",
        "messageId": "m1",
        "userId": "u1",
        "event": "Signed Up",
        "timestamp": "2026-01-01T00:00:00Z",
        "properties": {"plan": "pro"},
    }


def test_garbage_marked_as_avro_is_unparseable() -> None:
    with pytest.raises(InvalidEventError) as caught:
        decode_raw_event(b"\x99\x99\x99", [("Content-Type", AVRO_CONTENT_TYPE.encode())])
    assert caught.value.reason == "unparseable"


def test_missing_message_id_is_derived_stably() -> None:
    raw = {"type": "identify", "userId": "u1"}
    assert parse_event(raw).message_id == parse_event(dict(raw)).message_id
    assert parse_event(raw).message_id.startswith("sha256:")
