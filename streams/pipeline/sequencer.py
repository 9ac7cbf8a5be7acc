"""Hands each partition's records to the handler strictly in offset order, rewinding over holes.

Faust (0.15.3) can lose a fetched record between the fetch and the agent, e.g. its stream skips
records that arrive while the flow is paused for a rebalance or table recovery, after the fetch
position has moved on. Left alone, later records of the partition overtake it: a user's track reaches
Intercom before the identify that creates the user. The sequencer notices the hole (an offset above
the one expected), asks for a seek back to it and skips everything after it until it arrives.

An offset that holds no record (a transaction marker, a compacted record) stays a hole after the seek.
Time alone cannot tell such a gap from a slow rewind (records fetched before the seek keep arriving for
a while: taking that for a gap once skipped 200 records), so when a hole outlives ``gap_grace_s`` the
caller asks Kafka for the first record at or after it (``overdue``), and either skips the verified gap
(``skip_gap``) or rewinds again (``rewind_again``).
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


@dataclass(frozen=True)
class Admission:
    verdict: Verdict
    rewind_to: int | None = None

    @property
    def process(self) -> bool:
        return self.verdict is Verdict.PROCESS


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

    def forget(self) -> None:
        """After Faust's seek to the committed offsets reading restarts there: start over."""
        self._cursors.clear()

    def forget_partition(self, tp: Hashable) -> None:
        self._cursors.pop(tp, None)

    def expected(self, tp: Hashable) -> int | None:
        """The next offset ``tp`` must deliver."""
        cursor = self._cursors.get(tp)
        return cursor.next_offset if cursor is not None else self._start_offset(tp)

    def admit(self, tp: Hashable, offset: int) -> Admission:
        cursor = self._cursors.get(tp)
        if cursor is None:
            start = self._start_offset(tp)
            if start is None:
                # Where reading starts is not known yet (the seek after an assignment is still to
                # come): trusting the first record that shows up once skipped 52 records.
                return Admission(Verdict.WAIT)
            cursor = self._cursors[tp] = _Cursor(start)
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
        return Admission(Verdict.WAIT)

    def overdue(self, tp: Hashable) -> int | None:
        """The missing offset of ``tp`` when a rewind has not brought it back within the grace time."""
        cursor = self._cursors.get(tp)
        if cursor is None or cursor.rewound_for is None:
            return None
        return cursor.rewound_for if self._clock() - cursor.rewound_at >= self._gap_grace_s else None

    def rewind_again(self, tp: Hashable) -> None:
        self._cursors[tp].rewound_at = self._clock()

    def skip_gap(self, tp: Hashable, first_record: int) -> tuple[int, int]:
        """Kafka says the next record of ``tp`` is at ``first_record``: the offsets before it hold none."""
        cursor = self._cursors[tp]
        gap = (cursor.next_offset, first_record)
        cursor.next_offset, cursor.rewound_for = first_record, None
        return gap
