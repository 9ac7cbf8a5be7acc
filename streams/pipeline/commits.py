"""The one place that decides how far each input partition may be committed.

A partition may be committed up to the first record that is not *done*: delivered, or dead-lettered
with that dead letter on the broker, or (for the transform) with everything it wrote on the broker.
Nothing else counts: not Faust's acks, not a record released at a rebalance, not one whose call is
in flight or whose retry is waiting. Faust's commit (periodic, or at a rebalance) asks
``committable`` and nothing else (see ``faust_guards.GuardedConsumer``, which owns the ledger), so
a commit can never pass undone work, whichever way the worker stops.

Per partition the ledger keeps ``base`` (every offset below it is done, or was committed before) and
the set of done offsets above it. A record finished late, after a rebalance moved reading back, is
still done: a completion is a fact, whenever it arrives. The same facts spare replays: when reading
goes back (a rewind over a lost record, a persistent hole, a rebalance that leaves the partition
here), a record the ledger knows to be done is not handled again (``is_done``).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field


@dataclass
class _Partition:
    base: int
    done: set[int] = field(default_factory=set)
    stale: bool = False  # reading restarted (rebalance): check the start again before use
    gaps: list[tuple[int, int]] = field(default_factory=list)  # [start, end): offsets holding no record

    def advance(self) -> int:
        while True:
            if self.base in self.done:
                self.done.discard(self.base)
                self.base += 1
                continue
            gap_end = next((end for start, end in self.gaps if start <= self.base < end), None)
            if gap_end is None:
                break
            self.base = gap_end
        if self.gaps:  # rare (transaction markers): keep only the gaps still ahead
            self.gaps = [(start, end) for start, end in self.gaps if end > self.base]
        return self.base


class CommitLedger:
    def __init__(self, start_offset: Callable[[Hashable], int | None]) -> None:
        """``start_offset(tp)``: where reading of ``tp`` started (its committed offset), if known."""
        self._start_offset = start_offset
        self._partitions: dict[Hashable, _Partition] = {}

    def _partition(self, tp: Hashable) -> _Partition | None:
        part = self._partitions.get(tp)
        if part is not None and not part.stale:
            return part
        start = self._start_offset(tp)
        if start is None:  # not assigned (revoked), or not sought yet: nothing to commit
            return None
        if part is None:
            part = self._partitions[tp] = _Partition(start)
        else:
            # Still ours after a rebalance: what it did before is still done. Another owner may have
            # committed further meanwhile; nothing can be committed below what it committed.
            part.base, part.stale = max(part.base, start), False
            part.done = {offset for offset in part.done if offset >= part.base}
        return part

    def done(self, tp: Hashable, offset: int) -> None:
        """The record at ``offset`` is fully handled."""
        part = self._partition(tp)
        if part is not None and offset >= part.base:
            part.done.add(offset)

    def is_done(self, tp: Hashable, offset: int) -> bool:
        """Known to be fully handled (by this worker, or committed): handling it again is a replay."""
        part = self._partition(tp)
        return part is not None and (offset < part.advance() or offset in part.done)

    def skip(self, tp: Hashable, start: int, end: int) -> None:
        """Kafka confirmed that offsets [start, end) hold no record (transaction markers, compaction)."""
        part = self._partition(tp)
        if part is not None and end > start:
            part.gaps.append((start, end))

    def committable(self, tp: Hashable) -> int | None:
        """The offset ``tp`` may be committed at: the first record not done."""
        part = self._partition(tp)
        return None if part is None else part.advance()

    def hole(self, tp: Hashable) -> int | None:
        """The first offset not done when later ones are: the record there was lost or abandoned."""
        part = self._partitions.get(tp)
        if part is None:
            return None
        base = part.advance()
        return base if part.done else None

    def partitions(self) -> Iterator[Hashable]:
        return iter(list(self._partitions))

    def reading_restarted(self) -> None:
        """After each rebalance reading restarts at the committed offsets; each partition checks its
        start again when next used (a partition no longer assigned has none: nothing to commit)."""
        for part in self._partitions.values():
            part.stale = True
