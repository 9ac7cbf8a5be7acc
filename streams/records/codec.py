"""Schemaless Avro binary encoding with avro-python3, one codec per ``schemas/<name>.avsc``."""

from __future__ import annotations

import io
import os
from functools import cache
from pathlib import Path
from typing import Any

import avro.io
import avro.schema

from streams.errors import IntercomStreamError


class RecordDecodeError(IntercomStreamError):
    """Bytes that are not a valid record of the expected schema."""


def schema_dir() -> Path:
    """The repo's ``schemas/`` folder (or ``$INTERCOM_STREAM_SCHEMAS`` in an unusual install)."""
    override = os.environ.get("INTERCOM_STREAM_SCHEMAS")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "schemas"


class AvroCodec:
    def __init__(self, schema_json: str) -> None:
        self.schema = avro.schema.parse(schema_json)
        self._writer = avro.io.DatumWriter(self.schema)
        self._reader = avro.io.DatumReader(self.schema)

    def encode(self, record: dict[str, Any]) -> bytes:
        buffer = io.BytesIO()
        self._writer.write(record, avro.io.BinaryEncoder(buffer))
        return buffer.getvalue()

    def decode(self, data: bytes) -> dict[str, Any]:
        try:
            buffer = io.BytesIO(data)
            record: dict[str, Any] = self._reader.read(avro.io.BinaryDecoder(buffer))
        except Exception as exc:  # avro raises a zoo of types on garbage input
            raise RecordDecodeError(f"not a valid {self.schema.name} Avro record: {exc}") from exc
        if buffer.tell() != len(data):
            raise RecordDecodeError(f"not a valid {self.schema.name} Avro record: trailing bytes")
        return record


@cache
def codec_for(name: str) -> AvroCodec:
    """``codec_for("dead_letter")`` → the codec of ``schemas/dead_letter.avsc``."""
    path = schema_dir() / f"{name}.avsc"
    return AvroCodec(path.read_text(encoding="utf-8"))
