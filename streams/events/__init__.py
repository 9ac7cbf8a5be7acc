"""Segment-spec events: decoding raw records, validation, and the user key."""

from streams.events.decode import AVRO_CONTENT_TYPE, decode_raw_event
from streams.events.model import EVENT_TYPES, TRAIT_SOURCES, SegmentEvent, is_present, parse_event

__all__ = [
    "AVRO_CONTENT_TYPE", "EVENT_TYPES", "TRAIT_SOURCES", "SegmentEvent", "decode_raw_event", "is_present",
    "parse_event",
]  # fmt: skip
