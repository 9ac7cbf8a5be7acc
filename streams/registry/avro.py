"""Wire-format Avro (the bytes after the header) → the event dict our JSON path produces.

The schema is compiled once per id (:mod:`streams.registry.avro_compile`): fastavro's C reader reads
each record with a plain copy of it, and a converter made for that schema turns what needs turning.
A schema the compiler cannot serve (a union it cannot tell apart) takes the generic way: fastavro
converts the logical types and one walk over each record converts what it finds; the result is the
same but for nulls, which the walk leaves out everywhere (it cannot tell a map from a record).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import fastavro
from fastavro.schema import UnknownType

from streams.errors import InvalidEventError
from streams.events.decode import JSON_TEXT_FIELDS, DecodedEvent, parse_json_text_fields
from streams.events.strict_json import Unrepresentable, remove_marked, unrepresentable_float
from streams.registry.avro_compile import Ambiguous, Compiler, Convert, Marks
from streams.registry.client import RegisteredSchema

PayloadDecoder = Callable[[bytes], dict[str, Any]]


def _plain(value: Any, marks: Marks) -> Any:
    """The generic way: Python values fastavro made → what the JSON path would carry."""
    if isinstance(value, dict):
        return {k: _plain(v, marks) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_plain(v, marks) for v in value]
    if isinstance(value, float):
        return value if value - value == 0 else _plain_float(value, marks)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _plain_float(value: float, marks: Marks) -> Unrepresentable:
    marks.append(1)
    return unrepresentable_float(value)


def _parse_all(registered: RegisteredSchema, compiler: Compiler | None) -> tuple[Any, Convert | None]:
    """fastavro's parsed main schema (the referenced ones parsed first, in an order that works)."""
    named: dict[str, Any] = {}
    pending = [json.loads(text) for text in registered.referenced.values()]
    while pending:  # a reference may use another one listed after it
        left = []
        for schema in pending:
            try:
                fastavro.parse_schema(
                    compiler.compile(schema)[0] if compiler else schema, named_schemas=named
                )
            except (KeyError, UnknownType):
                left.append(schema)
        if len(left) == len(pending):
            raise InvalidEventError("unparseable", f"schema id {registered.schema_id}: references unresolved")
        pending = left
    main = json.loads(registered.text)
    if compiler is None:
        return fastavro.parse_schema(main, named_schemas=named), None
    plain, _, convert = compiler.compile(main)
    return fastavro.parse_schema(plain, named_schemas=named), convert


def _compiled(registered: RegisteredSchema) -> tuple[Any, Convert | None, bool]:
    """(parsed schema, converter, compiled?): compiled when it can be, else the generic way."""
    try:
        schema, convert = _parse_all(registered, Compiler())
        return schema, convert, True
    except Ambiguous:
        schema, _ = _parse_all(registered, None)
        return schema, _plain, False


def avro_decoder(registered: RegisteredSchema) -> PayloadDecoder:
    try:
        schema, convert, compiled = _compiled(registered)
    except InvalidEventError:
        raise
    except Exception as exc:  # fastavro's SchemaParseException and friends, a malformed schema text
        raise InvalidEventError(
            "unparseable", f"schema id {registered.schema_id} is not a usable Avro schema: {exc}"
        ) from None
    is_record = isinstance(schema, dict) and schema.get("type") == "record"
    fields = {f["name"] for f in schema["fields"]} if is_record else set(JSON_TEXT_FIELDS)
    texts = tuple(name for name in JSON_TEXT_FIELDS if name in fields)
    drop_nulls = compiled and not is_record  # a record's converter leaves its nulls out itself
    reader, schema_id = fastavro.schemaless_reader, registered.schema_id

    def decode(payload: bytes) -> dict[str, Any]:
        marks: Marks = []
        try:
            record = reader(io.BytesIO(payload), schema, None)
            if convert is not None:
                record = convert(record, marks)
        except Exception as exc:  # fastavro raises plain EOFError/ValueError/...; out-of-range values
            raise InvalidEventError(
                "unparseable", f"not Avro of schema id {schema_id}: {type(exc).__name__}: {exc}"
            ) from None
        if not isinstance(record, dict):
            raise InvalidEventError("unparseable", f"schema id {schema_id} is not an Avro record")
        if drop_nulls:
            record = {k: v for k, v in record.items() if v is not None}
        invalid = remove_marked(record) if marks else {}
        parse_json_text_fields(record, invalid, texts)  # JSON text, as in our own raw_event.avsc
        return DecodedEvent(record, invalid) if invalid else record  # a plain dict: nothing left out

    return decode
