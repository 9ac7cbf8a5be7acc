"""Guards around faust-streaming 0.15.3 offset handling, which otherwise commits events it never processed.

Found with tests/integration/test_restart.py on Kafka 4.1 (about one event lost per worker restart):

1. *Read-offset filter.* Faust's fetch loop drops any record below the partition's "read offset".
   After an assignment it seeks to the committed offsets, but a fetch already in flight then sets
   the read offset past the committed one, so the refetched record at the committed offset is
   dropped. We disable the filter: a record fetched twice is processed twice (our effects are
   idempotent: Intercom dedupes events, contact writes are PUTs, companies are upserts).
2. *Off-by-one in the commit.* Faust's commit guard treats the committed offset as the last
   processed one (Kafka's is the next to read), so with offset N unacked and N+1 acked it commits
   past N. We never commit past an unacked record at the committed offset (offsets that Faust
   knows to be empty, its "gaps", still count as done).
3. *Acks without processing.* Records buffered before a rebalance are skipped by the stream *and
   acked*. Only records our handler finished (``mark_handled``) may be acked; the partition's owner
   reads the others again after its seek.

4. *Records that never arrive.* Even so, right after an assignment a record fetched before Faust's
   seek can vanish before it reaches the agent while the fetch position has moved on. Guard 2 keeps
   its offset uncommitted; ``heal_holes`` (run on a timer) notices a hole at the committed offset
   that persists across two checks and seeks the partition back to it, so the record is read again.

Each guard turns a silent loss into, at worst, a replay. ``install()`` patches the classes once.
"""

from __future__ import annotations

import logging
import weakref
from typing import Any

from faust.transport.consumer import Consumer

log = logging.getLogger(__name__)

_original_init = Consumer.__init__
_original_ack = Consumer.ack
_original_new_offset = Consumer._new_offset


class _NoReadOffsets(dict[Any, Any]):
    """Stands in for Consumer._read_offset: remembers nothing, so the fetch loop drops nothing."""

    def __getitem__(self, key: Any) -> None:
        return None

    def __setitem__(self, key: Any, value: Any) -> None:
        return None

    def update(self, *args: Any, **kwargs: Any) -> None:
        return None


def _init_without_read_offsets(self: Any, *args: Any, **kwargs: Any) -> None:
    _original_init(self, *args, **kwargs)
    self._read_offset = _NoReadOffsets()


_handled: weakref.WeakSet[Any] = weakref.WeakSet()


def mark_handled(message: Any) -> None:
    """Call when a record is fully handled, just before acking it."""
    _handled.add(message)


def _ack_handled_only(self: Any, message: Any) -> bool:
    if message not in _handled:
        log.debug("not acking %s@%s: it was never handled", message.tp, message.offset)
        return False
    return bool(_original_ack(self, message))


def _new_offset_without_holes(self: Any, tp: Any) -> int | None:
    if _has_hole(self, tp) is not None:
        return None  # the record at the committed offset is not done yet
    result: int | None = _original_new_offset(self, tp)
    return result


def _has_hole(consumer: Any, tp: Any) -> int | None:
    """The committed offset of ``tp`` when later records are done but the one at it is not."""
    acked = consumer._acked.get(tp)
    committed = consumer._committed_offset.get(tp)
    if not acked or committed is None or min(acked) <= committed:
        return None
    return None if consumer._gap[tp].overlaps(committed) else int(committed)


_suspected_holes: set[tuple[Any, int]] = set()


async def heal_holes(consumer: Any) -> int:
    """Seek back to holes seen twice in a row; returns how many partitions were rewound."""
    holes = {(tp, offset) for tp in list(consumer._acked) if (offset := _has_hole(consumer, tp)) is not None}
    persistent = holes & _suspected_holes
    _suspected_holes.clear()
    _suspected_holes.update(holes - persistent)
    for tp, offset in persistent:
        log.warning("record %s@%d never reached the agent; reading %s again from there", tp, offset, tp)
        await consumer.seek(tp, offset)
    return len(persistent)


def install() -> None:
    """Idempotent: patches faust's Consumer once per process."""
    if Consumer.ack is _ack_handled_only:
        return
    Consumer.__init__ = _init_without_read_offsets  # type: ignore[method-assign]
    Consumer.ack = _ack_handled_only  # type: ignore[method-assign]
    Consumer._new_offset = _new_offset_without_holes  # type: ignore[method-assign]
