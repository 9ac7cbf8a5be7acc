"""Records that do not fit, and bytes that are not records, come out as the project's errors.

``RecordEncodeError`` for a record that does not fit its schema (wrong types, missing or unknown
fields, not a record at all), including what fastavro alone would write without a word (a float in
an int field, a 33-bit int, a string where an array belongs, an unknown field); ``RecordDecodeError``
for truncated, extended or garbage bytes. Never a raw library exception, and the fastavro codec
refuses exactly what the avro-python3 reference refuses.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.errors import IntercomStreamError, RecordDecodeError, RecordEncodeError
from streams.records import AvroCodec, codec_for
from streams.records.codec import previous_schemas
from streams.records.reference import ReferenceCodec, reference_codec_for
from tests.unit.avro_values import values
from tests.unit.test_codec_identical import CURRENT, EVERY_TYPE, canonical, codecs_of
from tests.unit.test_records import EXAMPLES

ENOUGH = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BOTH = [codec_for, reference_codec_for]

# Anything a caller might put where it does not belong.
ARBITRARY = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.sampled_from([2**31, -(2**31) - 1, 2**63, 2**1100, 1.5, -0.0, float("nan"), 1e39, 1e308]),
    st.floats(),
    st.text(max_size=5),
    st.binary(max_size=5),
    st.lists(st.text(max_size=3), max_size=2),
    st.tuples(st.text(max_size=3)),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.builds(object),
)


def accepts_null(codec: Any, field: str) -> bool:
    return codec.schema.field_map[field].type.type == "union" and any(
        branch.type == "null" for branch in codec.schema.field_map[field].type.schemas
    )


def field_names(name: str) -> list[tuple[str, str]]:
    return [(name, field.name) for field in codec_for(name).schema.fields]


ALL_FIELDS = [pair for name in CURRENT for pair in field_names(name)]


@pytest.mark.parametrize("make", BOTH, ids=["fastavro", "reference"])
@pytest.mark.parametrize(("name", "field"), ALL_FIELDS)
def test_a_field_holding_what_no_schema_type_takes_is_an_encode_error(
    make: Any, name: str, field: str
) -> None:
    record = {**EXAMPLES[name], field: object()}
    with pytest.raises(RecordEncodeError, match=field if make is codec_for else None):
        make(name).encode(record)


@pytest.mark.parametrize("make", BOTH, ids=["fastavro", "reference"])
@pytest.mark.parametrize(
    ("name", "path", "value"),
    [
        ("delivery_request", ["source_partition"], 1.5),  # fastavro alone: truncated to 1
        ("delivery_request", ["source_partition"], 2**31),  # fastavro alone: written as a long
        ("delivery_request", ["source_offset"], 2**63),
        ("delivery_request", ["received_at_ms"], 1.7e12),  # time.time() * 1000
        ("delivery_request", ["reports"], "values_truncated"),  # fastavro alone: an array of letters
        ("delivery_request", ["reports"], ("a",)),
        ("delivery_request", ["operations", 0, "body"], b"{}"),
        ("delivery_request", ["operations", 1, "contact", "lookup"], None),
        ("delivery_request", ["operations", 1, "contact", "email"], 5),
        ("dead_letter", ["original_value"], "text, not bytes"),
        ("dead_letter", ["original_key"], bytearray(b"k")),
        ("dead_letter", ["intercom_status"], 400.0),
        ("raw_event", ["userId"], 42),
        ("workspace_record", ["at_ms"], "1700000000000"),
    ],
)
def test_a_value_of_the_wrong_type_is_an_encode_error(
    make: Any, name: str, path: list[Any], value: Any
) -> None:
    record = copy.deepcopy(EXAMPLES[name])
    node = record
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    with pytest.raises(RecordEncodeError):
        make(name).encode(record)


@pytest.mark.parametrize("make", BOTH, ids=["fastavro", "reference"])
@pytest.mark.parametrize(("name", "field"), ALL_FIELDS)
def test_a_missing_field_is_an_error_unless_it_may_be_null(make: Any, name: str, field: str) -> None:
    codec = make(name)
    record = {key: value for key, value in EXAMPLES[name].items() if key != field}
    if accepts_null(codec, field):
        assert codec.decode(codec.encode(record)) == {**record, field: None}
    else:
        with pytest.raises(RecordEncodeError):
            codec.encode(record)


@pytest.mark.parametrize("make", BOTH, ids=["fastavro", "reference"])
@pytest.mark.parametrize("name", CURRENT)
def test_an_unknown_field_is_an_encode_error(make: Any, name: str) -> None:
    with pytest.raises(RecordEncodeError):
        make(name).encode({**EXAMPLES[name], "user_id": "u1"})


@pytest.mark.parametrize("make", BOTH, ids=["fastavro", "reference"])
@pytest.mark.parametrize("record", [None, [], "record", 7, b"", ("a", "b")])
def test_what_is_not_a_record_is_an_encode_error(make: Any, record: Any) -> None:
    with pytest.raises(RecordEncodeError):
        make("raw_event").encode(record)


def test_a_float_beyond_32_bits_is_an_encode_error() -> None:
    """fastavro alone writes infinity for it; avro-python3 refuses."""
    schema = json.dumps({"type": "record", "name": "F", "fields": [{"name": "f", "type": "float"}]})
    for codec in (AvroCodec(schema), ReferenceCodec(schema)):
        assert codec.decode(codec.encode({"f": 3.0e38})) == {"f": pytest.approx(3.0e38, rel=1e-6)}
        with pytest.raises(RecordEncodeError):
            codec.encode({"f": 1e39})


def test_the_error_says_where_and_never_the_value() -> None:
    record = copy.deepcopy(EXAMPLES["delivery_request"])
    record["operations"][1]["contact"]["email"] = ["secret@example.com"]
    with pytest.raises(RecordEncodeError) as caught:
        codec_for("delivery_request").encode(record)
    assert ".operations[1].contact.email" in str(caught.value)
    assert "secret" not in str(caught.value)
    assert isinstance(caught.value, IntercomStreamError)


@st.composite
def mutated(draw: st.DrawFn, name: str) -> tuple[Any, Any]:
    """A record of ``name`` with one value somewhere in it replaced, or one field added; and the new value."""
    record = copy.deepcopy(draw(values(codec_for(name).schema)))
    slots: list[tuple[Any, Any]] = []
    stack: list[Any] = [record]
    while stack:
        node = stack.pop()
        keys = list(node) if isinstance(node, dict) else range(len(node)) if isinstance(node, list) else []
        for key in keys:
            slots.append((node, key))
            stack.append(node[key])
    if not slots or draw(st.integers(0, 9)) == 0:
        slots.append((record, draw(st.text(max_size=8))))
    node, key = draw(st.sampled_from(slots))
    node[key] = replacement = draw(ARBITRARY)
    return record, replacement


@pytest.mark.parametrize("name", CURRENT)
@ENOUGH
@given(data=st.data())
def test_the_codec_refuses_what_the_reference_refuses(name: str, data: st.DataObject) -> None:
    """The same bytes, or both refuse; except that the codec refuses a bool for a number."""
    record, replacement = data.draw(mutated(name))
    outcomes = []
    for make in BOTH:
        try:
            outcomes.append(make(name).encode(record))
        except RecordEncodeError:
            outcomes.append(None)
    if outcomes[0] != outcomes[1]:
        assert outcomes[0] is None
        assert isinstance(replacement, bool)


@pytest.mark.parametrize("field", ["attempts", "first_attempt_at_ms", "source_offset"])
def test_a_bool_is_not_a_number(field: str) -> None:
    """avro-python3 writes True as 1 (fastavro too, but not in a union): the codec refuses it."""
    record = {**EXAMPLES["dead_letter"], field: True}
    with pytest.raises(RecordEncodeError, match=field):
        codec_for("dead_letter").encode(record)
    assert (
        reference_codec_for("dead_letter").decode(reference_codec_for("dead_letter").encode(record))[field]
        == 1
    )


@pytest.mark.parametrize("name", CURRENT)
@ENOUGH
@given(data=st.data())
def test_truncated_or_extended_bytes_are_a_decode_error(name: str, data: st.DataObject) -> None:
    """A prefix of a record is an error, unless it is a record of an earlier schema (the fallback
    reads it then, alike in both); a record with a byte more is always an error."""
    record = data.draw(values(codec_for(name).schema))
    encoded = codec_for(name).encode(record)
    cut = data.draw(st.integers(0, len(encoded) - 1))
    for make in BOTH:
        with pytest.raises(RecordDecodeError):
            make(name).decode(encoded + data.draw(st.binary(min_size=1, max_size=3)))
    outcomes = [decoded_or_none(make(name), encoded[:cut]) for make in BOTH]
    assert canonical(outcomes[0]) == canonical(outcomes[1])
    if not previous_schemas(name):
        assert outcomes == [None, None]


def decoded_or_none(codec: Any, data: Any) -> Any:
    try:
        return codec.decode(data)
    except RecordDecodeError:
        return None


@pytest.mark.parametrize("name", [*CURRENT, "every_type"])
@ENOUGH
@given(garbage=st.binary(max_size=120))
def test_garbage_is_a_decode_error_or_what_the_reference_reads(name: str, garbage: bytes) -> None:
    codecs = (
        list(codecs_of(json.dumps(EVERY_TYPE))) if name == "every_type" else [make(name) for make in BOTH]
    )
    outcomes = [decoded_or_none(codec, garbage) for codec in codecs]
    assert canonical(outcomes[0]) == canonical(outcomes[1])


@pytest.mark.parametrize("make", BOTH, ids=["fastavro", "reference"])
@pytest.mark.parametrize(
    "data", [b"", None, "text", b"\xff" * 20, codec_for("raw_event").encode(EXAMPLES["raw_event"])]
)
def test_what_is_not_a_record_of_the_schema_is_a_decode_error(make: Any, data: Any) -> None:
    with pytest.raises(RecordDecodeError):
        make("dead_letter").decode(data)
