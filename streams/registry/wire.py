"""The Confluent wire format: byte 0 (magic), a 4-byte big-endian schema id, then the payload in the
schema's format (Avro, JSON Schema or Protobuf). :class:`WireDecoder` turns such a record into the
event dict our JSON path produces.

An id the registry does not know is the record's fault: :class:`~streams.errors.SchemaNotFoundError`
(dead letter ``schema_unknown``, replayable once the schema exists). That answer is believed for
``UNKNOWN_FOR_S`` only, then the registry is asked again: never cached for good. A registry that cannot answer
(unreachable, slow, 5xx, 401/403) is nobody's fault in the record: ``decode`` waits and retries until
it answers, so the partition holds and nothing past the record is committed.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import structlog

from streams.errors import InvalidEventError, SchemaNotFoundError, SchemaRegistryError
from streams.registry.client import RegisteredSchema
from streams.registry.formats import DECODERS, PayloadDecoder

log = structlog.get_logger("streams.registry")

MAGIC = 0
HEADER = struct.Struct(">bI")
UNKNOWN_FOR_S = 5.0  # how long "the registry does not know this id" is believed without asking again
UNKNOWN_KEPT = 1024


def is_wire_format(value: bytes | None) -> bool:
    """A Confluent-framed record: JSON starts with ``{`` or whitespace, never with a zero byte."""
    return bool(value) and len(value) >= HEADER.size and value[0] == MAGIC  # type: ignore[index,arg-type]


class SchemaSource(Protocol):
    async def schema(self, schema_id: int) -> RegisteredSchema: ...


class TroubleHooks:
    """What the worker does while the registry cannot answer: health red, a metric, one log line
    per episode. Subclass (or pass callables) to route them elsewhere."""

    def __init__(
        self,
        on_trouble: Callable[[str], None] | None = None,
        on_recovered: Callable[[float], None] | None = None,
    ) -> None:
        self._on_trouble = on_trouble
        self._on_recovered = on_recovered

    def trouble(self, message: str) -> None:
        if self._on_trouble:
            self._on_trouble(message)

    def recovered(self, waited_s: float) -> None:
        if self._on_recovered:
            self._on_recovered(waited_s)


class WireDecoder:
    """Decode wire-format records; schemas are fetched by id once and cached (ids are immutable)."""

    def __init__(
        self,
        registry: SchemaSource,
        hooks: TroubleHooks | None = None,
        *,
        first_retry_s: float = 0.5,
        max_retry_s: float = 5.0,
        wait: bool = True,
        unknown_for_s: float = UNKNOWN_FOR_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._registry = registry
        self._hooks = hooks or TroubleHooks()
        self._decoders: dict[int, PayloadDecoder] = {}
        # id → when to ask again: a flood of records naming an unknown id asks the registry once in a
        # while, not once per record (which a hosted registry answers with 429, pausing the input)
        self._unknown: dict[int, tuple[float, str]] = {}
        self._unknown_for_s = unknown_for_s
        self._clock = clock
        self._locks: dict[int, asyncio.Lock] = {}
        self._first_retry_s = first_retry_s
        self._max_retry_s = max_retry_s
        self._wait = wait  # False (tools): registry trouble raises SchemaRegistryError at once
        self._episode: float | None = None  # when the current trouble episode began (monotonic)

    @property
    def waiting(self) -> bool:
        return self._episode is not None

    async def decode(
        self, value: bytes, headers: Iterable[tuple[str, bytes]] | None = None
    ) -> dict[str, Any]:
        if not is_wire_format(value):
            raise InvalidEventError("unparseable", "not a Confluent wire-format record (magic byte 0)")
        _, schema_id = HEADER.unpack_from(value)
        decoder = self._decoders.get(schema_id)
        if decoder is None:
            decoder = await self._load(schema_id)
        return decoder(value[HEADER.size :])

    def decode_known(self, value: bytes) -> dict[str, Any] | None:
        """``decode`` without a coroutine for a wire-format record whose schema is already in hand
        (nearly every record); None when it is not (then ``decode``, which may ask the registry)."""
        decoder = self._decoders.get(HEADER.unpack_from(value)[1])
        return None if decoder is None else decoder(value[HEADER.size :])

    def schema_id(self, value: bytes) -> int:
        return int(HEADER.unpack_from(value)[1])

    async def _load(self, schema_id: int) -> PayloadDecoder:
        lock = self._locks.setdefault(schema_id, asyncio.Lock())
        async with lock:  # many partitions meeting a new id ask the registry once
            if schema_id not in self._decoders:
                registered = await self._fetch_known(schema_id)
                build = DECODERS.get(registered.schema_type)
                if build is None:
                    raise InvalidEventError(
                        "unparseable", f"schema id {schema_id} has unsupported type {registered.schema_type}"
                    )
                self._decoders[schema_id] = build(registered)
        return self._decoders[schema_id]

    async def _fetch_known(self, schema_id: int) -> RegisteredSchema:
        """The schema, or SchemaNotFoundError: asked again once ``unknown_for_s`` has passed (the id
        may be registered since, and its dead letters replayed), never remembered for longer."""
        now = self._clock()
        known_unknown = self._unknown.get(schema_id)
        if known_unknown is not None and now < known_unknown[0]:
            raise SchemaNotFoundError(known_unknown[1])
        try:
            registered = await self._fetch(schema_id)
        except SchemaNotFoundError as exc:
            if len(self._unknown) >= UNKNOWN_KEPT:
                self._unknown = {k: v for k, v in self._unknown.items() if v[0] > now}
            self._unknown[schema_id] = (now + self._unknown_for_s, exc.message)
            raise
        self._unknown.pop(schema_id, None)
        return registered

    async def _fetch(self, schema_id: int) -> RegisteredSchema:
        delay = self._first_retry_s
        while True:
            try:
                registered = await self._registry.schema(schema_id)
            except SchemaRegistryError as exc:
                if not self._wait:
                    raise
                self._trouble(exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_retry_s)
                continue
            self._recovered()
            return registered

    def _trouble(self, exc: SchemaRegistryError) -> None:
        if self._episode is None:
            self._episode = time.monotonic()
            log.error("input paused: the schema registry cannot answer; waiting for it", reason=exc.message,
                      state="paused")  # fmt: skip
            self._hooks.trouble(exc.message)

    def _recovered(self) -> None:
        if self._episode is not None:
            waited = time.monotonic() - self._episode
            self._episode = None
            log.warning("input resumed: the schema registry answers again", paused_s=round(waited, 1),
                        state="resumed")  # fmt: skip
            self._hooks.recovered(waited)
