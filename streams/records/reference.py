"""The avro-python3 codec: the reference the fastavro codec (``streams.records.codec``) is held to.

This is the codec the app used before fastavro wrote its bytes: avro-python3's ``DatumWriter`` (which
validates each record) and ``DatumReader``\\ s, built once per schema. The identity test
(``tests/unit/test_codec_identical.py``) asks both for the same bytes and the same values, and the
codec benchmark (``tests/benchmarks/test_codec.py``) measures both. Same interface and errors as
``AvroCodec``, same fallback to earlier writer schemas.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import cache
from typing import Any

import avro.io
import avro.schema

from streams.errors import RecordDecodeError, RecordEncodeError
from streams.records.codec import previous_schemas, schema_dir


class ReferenceCodec:
    def __init__(self, schema_json: str, previous: Sequence[str] = ()) -> None:
        self.schema = avro.schema.parse(schema_json)
        self._writer = avro.io.DatumWriter(self.schema)
        # The current schema first, then earlier writer schemas resolved to it.
        self._readers = [avro.io.DatumReader(self.schema)] + [
            avro.io.DatumReader(avro.schema.parse(text), self.schema) for text in previous
        ]

    def encode(self, record: dict[str, Any]) -> bytes:
        buffer = io.BytesIO()
        try:
            self._writer.write(record, avro.io.BinaryEncoder(buffer))
        except Exception as exc:  # AvroTypeException, or struct's OverflowError for a huge number
            raise RecordEncodeError(f"not a valid {self.schema.name} record: {type(exc).__name__}") from exc
        return buffer.getvalue()

    def decode(self, data: bytes) -> dict[str, Any]:
        problem = ""
        for reader in self._readers:
            try:
                buffer = io.BytesIO(data)
                record: dict[str, Any] = reader.read(avro.io.BinaryDecoder(buffer))
            except Exception as exc:  # avro raises a zoo of types on garbage input
                problem = problem or str(exc) or type(exc).__name__
                continue
            if buffer.tell() == len(data):
                return record
            problem = problem or "trailing bytes"
        raise RecordDecodeError(f"not a valid {self.schema.name} Avro record: {problem}")


@cache
def reference_codec_for(name: str) -> ReferenceCodec:
    """The avro-python3 codec of ``schemas/<name>.avsc`` (and its earlier versions)."""
    path = schema_dir() / f"{name}.avsc"
    return ReferenceCodec(path.read_text(encoding="utf-8"), previous_schemas(name))
