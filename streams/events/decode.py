"""Raw record bytes → a JSON-like dict. Producers send Segment/RudderStack JSON, or Avro with our schema."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from streams.errors import InvalidEventError
from streams.events import strict_json
from streams.records import RecordDecodeError, codec_for

AVRO_CONTENT_TYPE = "application/vnd.intercom-stream.raw-event+avro"
# Fields that hold JSON text in our own raw_event.avsc (and in Avro schemas written like it).
JSON_TEXT_FIELDS = ("traits", "properties", "context", "integrations")


class DecodedEvent(dict[str, Any]):
    """A decoded record, read as a plain dict everywhere, with the numbers decoding left out because
    JSON cannot carry them (``invalid_numbers``: path → the literal as sent), for the plan to report."""

    invalid_numbers: dict[str, str]

    def __init__(self, values: dict[str, Any], invalid_numbers: dict[str, str]) -> None:
        super().__init__(values)
        self.invalid_numbers = invalid_numbers


def _content_type(headers: Iterable[tuple[str, bytes]] | None) -> str | None:
    for name, value in headers or ():
        if name.lower() == "content-type":
            return value.decode("latin-1").strip().lower()
    return None


def _from_avro(value: bytes) -> DecodedEvent:
    try:
        record = codec_for("raw_event").decode(value)
    except RecordDecodeError as exc:
        raise InvalidEventError("unparseable", str(exc)) from None
    invalid: dict[str, str] = {}
    parse_json_text_fields(record, invalid)
    return DecodedEvent({k: v for k, v in record.items() if v is not None}, invalid)


def parse_json_text_fields(
    record: dict[str, Any], invalid: dict[str, str], names: Iterable[str] = JSON_TEXT_FIELDS
) -> None:
    """In place: each of ``names`` that holds text becomes its JSON value, by strict_json's rules (one
    level down); the numbers left out are added to ``invalid`` (path → the literal as sent)."""
    for name in names:
        text = record.get(name)
        if not isinstance(text, str):
            continue
        try:
            record[name], left_out = strict_json.loads(text, depth=1)
        except ValueError:
            raise InvalidEventError("unparseable", f"field {name!r} is not JSON text") from None
        invalid.update({f"{name}.{path}" if path else name: literal for path, literal in left_out.items()})


def decode_raw_event(value: bytes | None, headers: Iterable[tuple[str, bytes]] | None = None) -> DecodedEvent:
    """Decode one input record. Raises InvalidEventError with a precise message: reason ``unparseable``,
    or ``too_deep`` past ``strict_json.MAX_DEPTH`` levels of nesting."""
    if not value:
        raise InvalidEventError("unparseable", "empty record value (tombstone or empty message)")
    if _content_type(headers) == AVRO_CONTENT_TYPE:
        return _from_avro(value)
    if value[:1] == b"\x00":  # Confluent wire format; decoded before here when a registry is set
        raise InvalidEventError("unparseable", "record is in the Schema Registry wire format (magic byte 0): "
                                "set INTERCOM_STREAM_SCHEMA_REGISTRY_URL")  # fmt: skip
    try:
        decoded, invalid = strict_json.loads(value)
    except UnicodeDecodeError:
        raise InvalidEventError(
            "unparseable",
            f"record is neither UTF-8 JSON nor marked as Avro (content-type {AVRO_CONTENT_TYPE})",
        ) from None
    except ValueError as exc:
        raise InvalidEventError("unparseable", f"record is not valid JSON: {exc}") from None
    if not isinstance(decoded, dict):
        raise InvalidEventError("unparseable", f"expected a JSON object, got {type(decoded).__name__}")
    return DecodedEvent(decoded, invalid)
