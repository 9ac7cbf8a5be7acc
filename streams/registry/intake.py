"""The one decode call of the transform: wire-format records through the registry when one is
configured, everything else (JSON, our own Avro) through :func:`streams.events.decode_raw_event`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from streams.events import decode_raw_event
from streams.observability import metrics
from streams.observability.health import HEALTH
from streams.registry.client import client_from_settings
from streams.registry.wire import TroubleHooks, WireDecoder, is_wire_format


class InputDecoder:
    def __init__(self, wire: WireDecoder | None) -> None:
        self.wire = wire

    async def decode(
        self, value: bytes | None, headers: Iterable[tuple[str, bytes]] | None
    ) -> dict[str, Any]:
        if self.wire is not None and value and is_wire_format(value):
            return await self.wire.decode(value, headers)
        return decode_raw_event(value, headers)


def _trouble(message: str) -> None:
    HEALTH.schema_registry(message)
    metrics.schema_registry_pause()


def input_decoder(settings: Any) -> InputDecoder:
    client = client_from_settings(settings)
    if client is None:
        return InputDecoder(None)
    hooks = TroubleHooks(_trouble, lambda _waited: HEALTH.schema_registry(None))
    return InputDecoder(WireDecoder(client, hooks))
