"""The one decode call of the transform: wire-format records through the registry when one is
configured, everything else (JSON, our own Avro) through :func:`streams.events.decode_raw_event`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from streams.events import decode_raw_event
from streams.observability import metrics
from streams.observability.health import HealthState
from streams.registry.client import client_from_settings
from streams.registry.wire import TroubleHooks, WireDecoder, is_wire_format


class InputDecoder:
    def __init__(self, wire: WireDecoder | None) -> None:
        self.wire = wire

    async def decode(
        self, value: bytes | None, headers: Iterable[tuple[str, bytes]] | None
    ) -> dict[str, Any]:
        if self.wire is not None and value and is_wire_format(value):
            known = self.wire.decode_known(value)
            return known if known is not None else await self.wire.decode(value, headers)
        return decode_raw_event(value, headers)


class RegistryHealth:
    """A registry episode turns the worker's readiness red (and is counted) until it ends."""

    def __init__(self, health: HealthState) -> None:
        self._health = health

    def trouble(self, message: str) -> None:
        self._health.schema_registry(message)
        metrics.schema_registry_pause()

    def recovered(self, waited_s: float) -> None:
        self._health.schema_registry(None)


def input_decoder(settings: Any, health: HealthState) -> InputDecoder:
    client = client_from_settings(settings)
    if client is None:
        return InputDecoder(None)
    registry_health = RegistryHealth(health)
    return InputDecoder(WireDecoder(client, TroubleHooks(registry_health.trouble, registry_health.recovered)))
