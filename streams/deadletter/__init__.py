"""Dead-letter records: what could not be delivered, why, and everything needed to replay it."""

from streams.deadletter.headers import dead_letter_headers
from streams.deadletter.records import (
    SourceRecord,
    dead_letter_for_delivery,
    dead_letter_for_input,
    dead_letter_for_report,
    fit_dead_letter,
    reason_for,
)

__all__ = [
    "SourceRecord",
    "dead_letter_for_delivery",
    "dead_letter_for_input",
    "dead_letter_for_report",
    "dead_letter_headers",
    "fit_dead_letter",
    "reason_for",
]
