"""Wire-format Avro (the bytes after the header) → the event dict our JSON path produces.

The schema is checked once per id by fastavro's parser (with the schemas it references), then
compiled into a reader of its own (:mod:`streams.registry.avro_read`) that gives each record as the
JSON path would carry it. JSON-text fields (``traits``, ``properties``, ``context``,
``integrations``, as in our own ``raw_event.avsc``) are parsed by strict_json's rules.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import fastavro
from fastavro.schema import UnknownType

from streams.errors import InvalidEventError
from streams.events.decode import DecodedEvent
from streams.events.strict_json import _remove_marked
from streams.registry import json_text
from streams.registry.avro_read import Compiler, Marks, Read
from streams.registry.client import RegisteredSchema

PayloadDecoder = Callable[[bytes], dict[str, Any]]


def _compile(registered: RegisteredSchema) -> tuple[Any, Read]:
    """(the main schema as JSON, its reader); the referenced schemas first, in an order that works."""
    named: dict[str, Any] = {}
    compiler = Compiler()
    pending = [json.loads(text) for text in registered.referenced.values()]
    while pending:  # a reference may use another one listed after it
        left = []
        for schema in pending:
            try:
                fastavro.parse_schema(schema, named_schemas=named)
                compiler.compile(schema)
            except (KeyError, UnknownType):
                left.append(schema)
        if len(left) == len(pending):
            raise InvalidEventError("unparseable", f"schema id {registered.schema_id}: references unresolved")
        pending = left
    main = json.loads(registered.text)
    fastavro.parse_schema(main, named_schemas=named)  # fastavro's checks of the schema itself
    return main, compiler.compile(main)


def avro_decoder(registered: RegisteredSchema) -> PayloadDecoder:
    schema_id = registered.schema_id
    try:
        schema, read = _compile(registered)
    except InvalidEventError:
        raise
    except Exception as exc:  # fastavro's SchemaParseException and friends, a malformed schema text
        raise InvalidEventError(
            "unparseable", f"schema id {schema_id} is not a usable Avro schema: {exc}"
        ) from None
    is_record = isinstance(schema, dict) and schema.get("type") in ("record", "error")
    fields = {f["name"] for f in schema["fields"]} if is_record else set(json_text.JSON_TEXT_FIELDS)
    texts = tuple(name for name in json_text.JSON_TEXT_FIELDS if name in fields)
    parse = json_text.loads

    def decode(payload: bytes) -> dict[str, Any]:
        marks: Marks = []
        try:
            record, _ = read(payload, 0, marks)
        except Exception as exc:  # IndexError (cut short), ValueError, UnicodeDecodeError, out-of-range
            raise InvalidEventError(
                "unparseable", f"not Avro of schema id {schema_id}: {type(exc).__name__}: {exc}"
            ) from None
        if not isinstance(record, dict):
            raise InvalidEventError("unparseable", f"schema id {schema_id} is not an Avro record")
        if not is_record:  # a record leaves its nulls out itself
            record = {k: v for k, v in record.items() if v is not None}
        invalid = _remove_marked(record) if marks else {}
        for name in texts:
            text = record.get(name)
            if text.__class__ is str:
                record[name] = parse(text, name, invalid)
        return DecodedEvent(record, invalid) if invalid else record  # a plain dict: nothing left out

    return decode
