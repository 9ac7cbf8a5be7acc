"""Schemaless Avro binary encoding of our own records, one codec per ``schemas/<name>.avsc``.

avro-python3 is the schema library: it parses and checks every schema, and what it accepts as a
record of a schema is what fits (``streams.records.shape``). fastavro (C-accelerated) writes and
reads the bytes, the same bytes avro-python3 writes (``tests/unit/test_codec_identical.py``;
``streams.records.reference`` keeps the avro-python3 codec as the reference). Each schema is parsed
once per codec, by both libraries.

Schemaless records do not say which schema wrote them. Schemas only grow by appending fields with
defaults, and earlier versions are kept in ``schemas/previous/<name>.v<N>.avsc``: a record that the
current schema cannot read exactly (it runs out of bytes) is read with each earlier writer schema,
newest first, resolved to the current one (the new fields get their defaults). Appended fields make
this unambiguous: an older record is always too short for a newer schema, a newer one too long for
an older schema.

Logical types are read and written as their underlying Avro types, as avro-python3 1.10 does (no
``datetime`` or ``Decimal`` conversion): fastavro is given the schemas without ``logicalType``. A
union with two branches that take the same value (``["boolean", "long"]``, ``["int", "double"]``)
would be written differently (avro-python3 picks the last branch that fits, fastavro the first); our
schemas have none, and the identity test would fail on one.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from functools import cache
from importlib import resources
from importlib.abc import Traversable
from typing import Any

import avro.schema
import fastavro

from streams.errors import RecordDecodeError, RecordEncodeError
from streams.records.shape import fits, misfit


def schema_dir() -> Traversable:
    """The repo's ``schemas/`` folder, installed as the package ``streams.schemas`` (setup.py)."""
    return resources.files("streams.schemas")


class AvroCodec:
    def __init__(self, schema_json: str, previous: Sequence[str] = ()) -> None:
        self.schema = avro.schema.parse(schema_json)
        for text in previous:
            avro.schema.parse(text)  # a broken earlier schema fails here, not on the first old record
        self._fits = fits(self.schema)
        self._parsed = fastavro_schema(schema_json)
        # (writer, reader) pairs: the current schema first, then earlier writer schemas resolved to it.
        self._readers: list[tuple[Any, Any]] = [(self._parsed, None)]
        self._readers += [(fastavro_schema(text), self._parsed) for text in previous]

    def encode(self, record: dict[str, Any]) -> bytes:
        if not self._fits(record):
            raise RecordEncodeError(f"not a valid {self.schema.name} record: {misfit(self.schema, record)}")
        buffer = io.BytesIO()
        try:
            fastavro.schemaless_writer(buffer, self._parsed, record)
        except Exception as exc:  # what fits can still overflow (a double from a 2000-bit int)
            raise RecordEncodeError(f"not a valid {self.schema.name} record: {type(exc).__name__}") from exc
        return buffer.getvalue()

    def decode(self, data: bytes) -> dict[str, Any]:
        problem = ""
        for writer, reader in self._readers:
            try:
                buffer = io.BytesIO(data)
                record = fastavro.schemaless_reader(buffer, writer, reader)
            except Exception as exc:  # fastavro raises EOFError, ValueError, IndexError... on garbage
                problem = problem or str(exc) or type(exc).__name__
                continue
            if buffer.tell() == len(data) and isinstance(record, dict):
                return record
            problem = problem or "trailing bytes"
        raise RecordDecodeError(f"not a valid {self.schema.name} Avro record: {problem}")


def fastavro_schema(schema_json: str) -> Any:
    """``schema_json`` parsed by fastavro, its ``logicalType`` annotations left out."""
    return fastavro.parse_schema(_without_logical_types(json.loads(schema_json)))


def _without_logical_types(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: value if key == "default" else _without_logical_types(value)
            for key, value in node.items()
            if key != "logicalType"
        }
    if isinstance(node, list):
        return [_without_logical_types(item) for item in node]
    return node


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


__all__ = [
    "AvroCodec",
    "RecordDecodeError",
    "RecordEncodeError",
    "codec_for",
    "previous_schemas",
    "schema_dir",
]
