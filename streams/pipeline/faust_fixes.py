"""Guards around faust-streaming behaviour that would otherwise lose events.

Faust marks offsets it never saw as "gaps" and commits past them, meant for offsets that
compaction or transaction markers leave empty. Right after a worker (re)joins, records fetched
before the seek to the committed offsets can arrive first and open a false gap, so the commit
jumps over records that were never processed (seen on Kafka 4.1 in tests/integration/test_restart.py).
Losing events is never acceptable here, while a commit that stalls at a real gap only costs a replay
of idempotent calls. So gaps are logged and not committed past.
"""

from __future__ import annotations

import logging
from typing import Any

from faust.transport.consumer import Consumer

log = logging.getLogger(__name__)
_installed = False


def install() -> None:
    global _installed
    if _installed:
        return

    async def _log_gap_instead(self: Any, tp: Any, offset_from: int, offset_to: int) -> None:
        log.warning(
            "offsets %d..%d of %s were skipped by the fetcher; not committing past them",
            offset_from,
            offset_to - 1,
            tp,
        )

    Consumer._add_gap = _log_gap_instead  # type: ignore[method-assign]
    _installed = True
