"""``dlq show`` of a wire-format original: decoded through the configured schema registry, so a
person sees the event rather than bytes (and why a schema is missing, if it is)."""

from __future__ import annotations

from typing import Any

from streams.deadletter.select import Letter
from streams.errors import InvalidEventError, SchemaRegistryError
from streams.registry.client import client_from_settings
from streams.registry.wire import WireDecoder, is_wire_format


async def decode_original(settings: Any, letter: Letter) -> dict[str, Any] | str | None:
    """The original event as a dict, a sentence when it cannot be decoded now, or None when the
    original is not in the wire format (or no registry is configured)."""
    original = (letter.record or {}).get("original_value")
    if isinstance(original, str):
        original = original.encode("latin-1", "replace")
    if not isinstance(original, bytes) or not is_wire_format(original):
        return None
    client = client_from_settings(settings)
    if client is None:
        return "wire-format original: set INTERCOM_STREAM_SCHEMA_REGISTRY_URL to decode it"
    try:
        return await WireDecoder(client, wait=False).decode(original)
    except (InvalidEventError, SchemaRegistryError) as exc:
        return f"cannot decode the wire-format original: {exc}"
    finally:
        await client.aclose()
