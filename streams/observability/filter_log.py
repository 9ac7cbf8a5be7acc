"""How filtered events are counted and logged: each in ``intercom_stream_events_filtered_total``, the
first of each reason at INFO, then a count per reason at most once a minute, and every one at DEBUG.

Filtered events (``integrations``, deny lists, ignored pages) are often most of the traffic: a line for
each at INFO would cost more CPU than deciding to filter it and drown the log. The first line of a
reason names an example event, so that a user can find it.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable

from streams.observability import metrics

SUMMARY_EVERY_S = 60.0


class FilterLog:
    def __init__(
        self,
        logger: logging.Logger,
        *,
        summary_every_s: float = SUMMARY_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = logger
        self._every_s = summary_every_s
        self._clock = clock
        self._seen: set[str] = set()
        self._since_summary: Counter[str] = Counter()
        self._summary_at = clock()

    def filtered(self, reason: str, event_type: str, message_id: str | None, user_key: str) -> None:
        """One event filtered for ``reason``."""
        metrics.filtered(reason)
        if reason not in self._seen:
            self._seen.add(reason)
            self._log.info(
                "filtered %s event %s of %s: %s (the first for this reason; later ones are counted, "
                "once a minute at most, and logged at DEBUG)",
                event_type, message_id, user_key, reason,
            )  # fmt: skip
        else:
            self._since_summary[reason] += 1
            if self._log.isEnabledFor(logging.DEBUG):
                self._log.debug("filtered %s event %s of %s: %s", event_type, message_id, user_key, reason)
        if self._since_summary and self._clock() - self._summary_at >= self._every_s:
            self._summarise()

    def _summarise(self) -> None:
        counts = ", ".join(f"{reason} {n}" for reason, n in sorted(self._since_summary.items()))
        self._log.info("filtered in the last %.0fs: %s", self._clock() - self._summary_at, counts)
        self._since_summary.clear()
        self._summary_at = self._clock()
