"""fastavro (the codec) and avro-python3 (the reference) write the same bytes and read the same values.

For every schema in schemas/ and every earlier writer schema in schemas/previous/ (the folders are
listed, not a list kept here), and for one schema of this test that uses every Avro type the
value generator knows: hypothesis draws values that fit (``tests/unit/avro_values.py``), both codecs
encode them, and the bytes must be equal; each codec decodes the other's bytes, to the same value.
"""

from __future__ import annotations

import json
import math
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.records import AvroCodec, codec_for, schema_dir
from streams.records.reference import ReferenceCodec, reference_codec_for
from tests.unit.avro_values import sent_and_read

CURRENT = sorted(p.name.removesuffix(".avsc") for p in schema_dir().iterdir() if p.name.endswith(".avsc"))
PREVIOUS = sorted(p.name for p in (schema_dir() / "previous").iterdir() if p.name.endswith(".avsc"))

EVERY_TYPE = {
    "type": "record",
    "name": "EveryType",
    "namespace": "test.codec",
    "fields": [
        {"name": "flag", "type": "boolean"},
        {"name": "small", "type": "int"},
        {"name": "big", "type": "long"},
        {"name": "single", "type": "float"},
        {"name": "double", "type": "double"},
        {"name": "text", "type": "string"},
        {"name": "blob", "type": "bytes"},
        {"name": "nothing", "type": "null"},
        {"name": "digest", "type": {"type": "fixed", "name": "Digest", "size": 4}},
        {"name": "colour", "type": {"type": "enum", "name": "Colour", "symbols": ["RED", "GREEN", "BLUE"]}},
        {"name": "inner", "type": {"type": "record", "name": "Inner", "fields": [
            {"name": "label", "type": ["null", "string"], "default": None},
            {"name": "weights", "type": {"type": "map", "values": "double"}},
        ]}},
        {"name": "inners", "type": {"type": "array", "items": "Inner"}},
        {"name": "choice", "type": ["null", "string", "long", "Inner"], "default": None},
        {"name": "tags", "type": {"type": "map", "values": {"type": "array", "items": "string"}}},
        {"name": "next", "type": ["null", {"type": "record", "name": "Node", "fields": [
            {"name": "value", "type": "int"}, {"name": "next", "type": ["null", "Node"], "default": None},
        ]}], "default": None},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "uuid", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}},
    ],
}  # fmt: skip

ENOUGH = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def canonical(value: Any) -> Any:
    """A value to compare with ``==``: NaN equal to NaN, -0.0 unequal to 0.0."""
    if isinstance(value, float):
        return ("nan",) if math.isnan(value) else (value, math.copysign(1.0, value))
    if isinstance(value, dict):
        return {key: canonical(item) for key, item in value.items()}
    if isinstance(value, list):
        return [canonical(item) for item in value]
    return value


@cache
def codecs_of(schema_json: str) -> tuple[AvroCodec, ReferenceCodec]:
    return AvroCodec(schema_json), ReferenceCodec(schema_json)


def assert_identical(fast: AvroCodec, reference: ReferenceCodec, sent: Any, read: Any) -> None:
    fast_bytes, reference_bytes = fast.encode(sent), reference.encode(sent)
    assert fast_bytes == reference_bytes
    assert canonical(fast.decode(reference_bytes)) == canonical(read)
    assert canonical(reference.decode(fast_bytes)) == canonical(read)


def test_the_folders_hold_schemas() -> None:
    """The parametrisations below are not empty: the listing finds the shipped schemas."""
    assert {"raw_event", "delivery_request", "dead_letter"} <= set(CURRENT)
    assert PREVIOUS


@pytest.mark.parametrize("name", CURRENT)
@ENOUGH
@given(data=st.data())
def test_every_schema_writes_the_same_bytes(name: str, data: st.DataObject) -> None:
    fast, reference = codec_for(name), reference_codec_for(name)
    sent, read = data.draw(sent_and_read(fast.schema))
    assert_identical(fast, reference, sent, read)


@pytest.mark.parametrize("file_name", PREVIOUS)
@ENOUGH
@given(data=st.data())
def test_records_of_earlier_schemas_are_written_and_read_alike(file_name: str, data: st.DataObject) -> None:
    """Bytes of an earlier writer schema are the same from both; the current codecs of both read them
    (the fallback to earlier schemas) to the same record, which holds what was written."""
    old_fast, old_reference = codecs_of((schema_dir() / "previous" / file_name).read_text(encoding="utf-8"))
    sent, read = data.draw(sent_and_read(old_fast.schema))
    assert_identical(old_fast, old_reference, sent, read)
    name = file_name.split(".v")[0]
    fast, reference = codec_for(name), reference_codec_for(name)
    by_fast = fast.decode(old_reference.encode(sent))
    by_reference = reference.decode(old_fast.encode(sent))
    assert canonical(by_fast) == canonical(by_reference)
    assert canonical({key: by_fast[key] for key in read}) == canonical(read)
    assert set(by_fast) == {field.name for field in fast.schema.fields}


@ENOUGH
@given(data=st.data())
def test_every_avro_type_writes_the_same_bytes(data: st.DataObject) -> None:
    fast, reference = codecs_of(json.dumps(EVERY_TYPE))
    sent, read = data.draw(sent_and_read(fast.schema))
    assert_identical(fast, reference, sent, read)
