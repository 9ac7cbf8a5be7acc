"""Schemaless Avro binary encoding with avro-python3, one codec per ``schemas/<name>.avsc``.

Schemaless records do not say which schema wrote them. Schemas only grow by appending fields with
defaults, and earlier versions are kept in ``schemas/previous/<name>.v<N>.avsc``: a record that the
current schema cannot read exactly (it runs out of bytes) is read with each earlier writer schema,
newest first, resolved to the current one (the new fields get their defaults). Appended fields make
this unambiguous: an older record is always too short for a newer schema, a newer one too long for
an older schema.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import cache
from importlib import resources
from importlib.abc import Traversable
from typing import Any

import avro.io
import avro.schema

from streams.errors import IntercomStreamError


class RecordDecodeError(IntercomStreamError):
    """Bytes that are not a valid record of the expected schema."""


def schema_dir() -> Traversable:
    """The repo's ``schemas/`` folder, installed as the package ``streams.schemas`` (setup.py)."""
    return resources.files("streams.schemas")


class AvroCodec:
    def __init__(self, schema_json: str, previous: Sequence[str] = ()) -> None:
        self.schema = avro.schema.parse(schema_json)
        self._writer = avro.io.DatumWriter(self.schema)
        # The current schema first, then earlier writer schemas resolved to it.
        self._readers = [avro.io.DatumReader(self.schema)] + [
            avro.io.DatumReader(avro.schema.parse(text), self.schema) for text in previous
        ]

    def encode(self, record: dict[str, Any]) -> bytes:
        buffer = io.BytesIO()
        self._writer.write(record, avro.io.BinaryEncoder(buffer))
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
def codec_for(name: str) -> AvroCodec:
    """``codec_for("dead_letter")`` → the codec of ``schemas/dead_letter.avsc``."""
    path = schema_dir() / f"{name}.avsc"
    return AvroCodec(path.read_text(encoding="utf-8"), previous_schemas(name))


def previous_schemas(name: str) -> list[str]:
    """Earlier versions of ``schemas/<name>.avsc``, newest first."""
    prefix = f"{name}.v"
    paths = [p for p in (schema_dir() / "previous").iterdir() if p.name.startswith(prefix)]
    paths = [p for p in paths if p.name.endswith(".avsc")]
    versions = sorted(((int(p.name[len(prefix) : -len(".avsc")]), p) for p in paths), reverse=True)
    return [p.read_text(encoding="utf-8") for _, p in versions]
