"""Hypothesis strategies built from an Avro schema (as avro-python3 parses it).

``sent_and_read(schema)`` draws ``(sent, read)``: a value that fits the schema as avro-python3 sees it
(what ``DatumWriter`` accepts), and the value reading its bytes back gives. They differ only where a
record leaves out a field whose value is null (avro-python3 writes a missing field as null): ``read``
has it. Every Avro type: records (named, reused and recursive), unions (with null and without),
arrays, maps, enums, fixed, strings (any unicode but surrogates, which UTF-8 cannot carry), bytes,
boolean, int and long to their bounds, floats and doubles with NaN, infinities, -0.0 and subnormals
(floats within 32 bits). Logical types are drawn as their underlying type, which is what both of the
project's codecs write and read for them.
"""

from __future__ import annotations

from typing import Any

import avro.schema
from hypothesis import strategies as st

Pair = tuple[Any, Any]

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1


def values(schema: avro.schema.Schema) -> st.SearchStrategy[Any]:
    """Values that fit ``schema``."""
    return sent_and_read(schema).map(lambda pair: pair[0])


def sent_and_read(schema: avro.schema.Schema) -> st.SearchStrategy[Pair]:
    return _pairs(schema, {})


def _same(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Pair]:
    return strategy.map(lambda value: (value, value))


def _primitive(kind: str) -> st.SearchStrategy[Any] | None:
    return {
        "null": st.none(),
        "boolean": st.booleans(),
        "int": st.one_of(st.sampled_from([INT_MIN, INT_MAX, 0, -1]), st.integers(INT_MIN, INT_MAX)),
        "long": st.one_of(st.sampled_from([LONG_MIN, LONG_MAX, 0, -1]), st.integers(LONG_MIN, LONG_MAX)),
        "float": st.floats(width=32),
        "double": st.one_of(
            st.sampled_from(
                [0.0, -0.0, float("inf"), float("-inf"), float("nan"), 5e-324, 1.7976931348623157e308]
            ),
            st.floats(),
        ),
        "string": st.text(max_size=30),
        "bytes": st.binary(max_size=30),
    }.get(kind)


def _pairs(schema: avro.schema.Schema, named: dict[str, st.SearchStrategy[Pair]]) -> st.SearchStrategy[Pair]:
    kind = schema.type
    primitive = _primitive(kind)
    if primitive is not None:
        return _same(primitive)
    if kind == "fixed":
        return _same(st.binary(min_size=schema.size, max_size=schema.size))
    if kind == "enum":
        return _same(st.sampled_from(list(schema.symbols)))
    if kind == "array":
        return st.lists(_pairs(schema.items, named), max_size=4).map(_unzip_list)
    if kind == "map":
        entries = st.dictionaries(st.text(max_size=10), _pairs(schema.values, named), max_size=4)
        return entries.map(_unzip_dict)
    if kind == "union":
        return st.one_of([_pairs(branch, named) for branch in schema.schemas])
    if kind in ("record", "error"):
        return named[schema.fullname] if schema.fullname in named else _record(schema, named)
    raise NotImplementedError(f"no strategy for Avro type {kind!r}")


def _unzip_list(items: list[Pair]) -> Pair:
    return [sent for sent, _ in items], [read for _, read in items]


def _unzip_dict(entries: dict[str, Pair]) -> Pair:
    return {key: sent for key, (sent, _) in entries.items()}, {
        key: read for key, (_, read) in entries.items()
    }


def _record(
    schema: avro.schema.RecordSchema, named: dict[str, st.SearchStrategy[Pair]]
) -> st.SearchStrategy[Pair]:
    fields: dict[str, st.SearchStrategy[Pair]] = {}
    # Deferred: the fields are filled in below, and a recursive record finds itself in ``named``.
    strategy = st.deferred(lambda: _omitting_nulls(st.fixed_dictionaries(fields)))
    named[schema.fullname] = strategy
    for field in schema.fields:
        fields[field.name] = _pairs(field.type, named)
    return strategy


@st.composite
def _omitting_nulls(draw: st.DrawFn, fields: st.SearchStrategy[dict[str, Pair]]) -> Pair:
    drawn = draw(fields)
    read = {name: value for name, (_, value) in drawn.items()}
    sent = {name: value for name, (value, _) in drawn.items()}
    nulls = sorted(name for name, value in sent.items() if value is None)
    left_out = draw(st.sets(st.sampled_from(nulls))) if nulls else set()
    return {name: value for name, value in sent.items() if name not in left_out}, read
