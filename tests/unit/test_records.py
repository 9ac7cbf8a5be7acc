"""Every record type in schemas/ round-trips through its codec."""

from pathlib import Path

import pytest

from streams.records import AvroCodec, RecordDecodeError, codec_for, schema_dir

EXAMPLES = {
    "raw_event": {
        "type": "identify", "messageId": "m", "userId": "u", "anonymousId": None, "previousId": None,
        "groupId": None, "event": None, "name": None, "timestamp": None, "originalTimestamp": None,
        "traits": '{"email":"a@b.c"}', "properties": None, "context": None, "integrations": None,
    },
    "delivery_request": {
        "request_id": "m1", "user_key": "u1", "event_type": "group",
        "operations": [
            {"action": "upsert_company", "body": '{"company_id":"c"}', "contact": None, "company_id": "c"},
            {"action": "attach_company", "body": "{}", "company_id": "c",
             "contact": {"user_id": "u1", "email": None, "anonymous_id": None,
                         "lookup": "external_id_or_email", "lookup_value": None}},
        ],
        "event": '{"type":"group"}', "reports": ['{"reason":"values_truncated"}'],
        "source_topic": "raw-events",
        "source_partition": 3, "source_offset": 99,
        "received_at_ms": 1_700_000_000_000,
    },
    "dead_letter": {
        "reason": "intercom_rejected", "message": "m", "original_key": b"u1", "original_value": b"{}",
        "source_topic": "raw-events", "source_partition": 0, "source_offset": 1, "user_key": "u1",
        "event_type": "identify", "intercom_status": 400, "intercom_error": '{"type":"error.list"}',
        "intercom_request": '{"method":"POST"}', "attempts": 1, "details": None, "first_seen_at_ms": 1,
        "failed_at_ms": 2, "error_class": "streams.errors.RejectedError", "first_attempt_at_ms": 1,
        "last_attempt_at_ms": 2,
    },
    "control_record": {"kind": "park_expiry", "user_key": "u1", "issued_at_ms": 1_700_000_000_000},
    "workspace_record": {
        "kind": "event_name", "name": "order-placed", "model": "", "worker": "3f9c0a1b2c4d",
        "at_ms": 1_700_000_000_000, "message": "",
    },
}  # fmt: skip


def test_schemas_are_read_from_the_package_that_ships_them() -> None:
    """The codecs read ``streams.schemas`` (the repository's schemas/ mapped into the package), no path."""
    repo_schemas = Path(__file__).resolve().parents[2] / "schemas"
    for path in repo_schemas.glob("*.avsc"):
        assert (schema_dir() / path.name).read_text(encoding="utf-8") == path.read_text(encoding="utf-8")


def test_every_schema_has_an_example() -> None:
    names = {
        path.name.removesuffix(".avsc") for path in schema_dir().iterdir() if path.name.endswith(".avsc")
    }
    assert names == set(EXAMPLES)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_round_trip(name: str) -> None:
    codec = codec_for(name)
    assert codec.decode(codec.encode(EXAMPLES[name])) == EXAMPLES[name]


def test_truncated_record_is_an_error() -> None:
    codec = codec_for("dead_letter")
    data = codec.encode(EXAMPLES["dead_letter"])
    with pytest.raises(RecordDecodeError):
        codec.decode(data[:10])
    with pytest.raises(RecordDecodeError):
        codec.decode(data + b"\x00")


def test_records_written_with_an_earlier_schema_still_decode() -> None:
    """Dead letters outlive releases: a record written before fields were appended reads with defaults."""
    v1 = AvroCodec((schema_dir() / "previous" / "dead_letter.v1.avsc").read_text(encoding="utf-8"))
    new_fields = ("error_class", "first_attempt_at_ms", "last_attempt_at_ms")
    old = {k: v for k, v in EXAMPLES["dead_letter"].items() if k not in new_fields}
    decoded = codec_for("dead_letter").decode(v1.encode(old))
    assert decoded == {**old, "error_class": None, "first_attempt_at_ms": None, "last_attempt_at_ms": None}
    # Without the earlier schema the same bytes are not readable: the fallback is what makes it work.
    with pytest.raises(RecordDecodeError):
        AvroCodec((schema_dir() / "dead_letter.avsc").read_text(encoding="utf-8")).decode(v1.encode(old))


def test_previous_schemas_are_prefixes_of_the_current_one() -> None:
    """Fields are only appended (that is what makes decoding older records unambiguous)."""
    current = [f.name for f in codec_for("dead_letter").schema.fields]
    for path in (schema_dir() / "previous").iterdir():
        if not path.name.endswith(".avsc"):
            continue
        name = path.name.split(".v")[0]
        earlier = [f.name for f in AvroCodec(path.read_text(encoding="utf-8")).schema.fields]
        assert [f.name for f in codec_for(name).schema.fields][: len(earlier)] == earlier, path.name
    assert current[-3:] == ["error_class", "first_attempt_at_ms", "last_attempt_at_ms"]
