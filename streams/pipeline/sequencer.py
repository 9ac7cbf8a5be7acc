"""Hands each partition's records to the handler strictly in offset order, rewinding over holes.

Faust (0.15.3) can lose a fetched record between the fetch and the agent, e.g. its stream skips
records that arrive while the flow is paused for a rebalance or table recovery, after the fetch
position has moved on. Left alone, later records of the partition overtake it: a user's track reaches
Intercom before the identify that creates the user. The sequencer notices the hole (an offset above
the one expected), asks for a seek back to it and skips everything after it until it arrives.

An offset that holds no record (a transaction marker, a compacted record) stays a hole after the seek;
once ``gap_grace_s`` has passed since the rewind, the sequencer accepts it as a gap and moves on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from enum import Enum


class Verdict(Enum):
    PROCESS = "process"  # the next record of its partition: handle it
    DUPLICATE = "duplicate"  # already admitted (a replay after a rewind): skip it
    REWIND = "rewind"  # an earlier record is missing: seek back to ``rewind_to``, skip this one
    WAIT = "wait"  # still waiting for the missing record after a rewind: skip this one
    GAP = "gap"  # the missing offsets hold no record: ``gap`` is accepted, handle this one


@dataclass(frozen=True)
class Admission:
    verdict: Verdict
    rewind_to: int | None = None
    gap: tuple[int, int] | None = None  # [start, end) of offsets that turned out to hold no record

    @property
    def process(self) -> bool:
        return self.verdict in (Verdict.PROCESS, Verdict.GAP)


@dataclass
class _Cursor:
    next_offset: int
    rewound_for: int | None = None
    rewound_at: float = 0.0


class PartitionSequencer:
    def __init__(
        self,
        start_offset: Callable[[Hashable], int | None],
        gap_grace_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``start_offset(tp)``: where reading of ``tp`` starts (its committed offset), if known."""
        self._start_offset = start_offset
        self._gap_grace_s = gap_grace_s
        self._clock = clock
        self._cursors: dict[Hashable, _Cursor] = {}

    def forget(self, partitions: object = None) -> None:
        """After a rebalance reading restarts at the committed offsets: start over (all, or some)."""
        if partitions is None:
            self._cursors.clear()
            return
        for tp in partitions:  # type: ignore[attr-defined]
            self._cursors.pop(tp, None)

    def expected(self, tp: Hashable) -> int | None:
        """The next offset ``tp`` must deliver."""
        cursor = self._cursors.get(tp)
        return cursor.next_offset if cursor is not None else self._start_offset(tp)

    def admit(self, tp: Hashable, offset: int) -> Admission:
        cursor = self._cursors.get(tp)
        if cursor is None:
            start = self._start_offset(tp)
            cursor = self._cursors[tp] = _Cursor(offset if start is None else start)
        expected = cursor.next_offset
        if offset < expected:
            return Admission(Verdict.DUPLICATE)
        if offset == expected:
            cursor.next_offset = offset + 1
            cursor.rewound_for = None
            return Admission(Verdict.PROCESS)
        now = self._clock()
        if cursor.rewound_for != expected:
            cursor.rewound_for, cursor.rewound_at = expected, now
            return Admission(Verdict.REWIND, rewind_to=expected)
        if now - cursor.rewound_at < self._gap_grace_s:
            return Admission(Verdict.WAIT)
        cursor.next_offset = offset + 1
        cursor.rewound_for = None
        return Admission(Verdict.GAP, gap=(expected, offset))
