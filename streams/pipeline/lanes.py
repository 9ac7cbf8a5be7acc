"""Several users' requests in flight at once, each user's strictly in order.

At ~200 ms per Intercom call one call at a time cannot even spend a partition's budget (8.3 calls/s),
so the sink runs up to ``max_in_flight`` jobs per partition concurrently. Jobs of the same user are
chained: each starts only after the user's previous job finished (however it ended), so a user's
requests reach Intercom in event order, and a user whose request is retrying holds up only that user
(until the window is full).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

Job = Callable[[], Awaitable[None]]


class UserLanes:
    def __init__(self, max_in_flight: int, on_count: Callable[[int], None] = lambda delta: None) -> None:
        """``on_count(+1/-1)`` follows the jobs in flight (for a gauge summed over partitions)."""
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self._on_count = on_count
        self._slots = asyncio.Semaphore(max_in_flight)
        self._last: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def submit(self, user: str, job: Job) -> None:
        """Waits for a free slot, then starts ``job`` after ``user``'s previous job; returns at once."""
        await self._slots.acquire()
        previous = self._last.get(user)
        task = asyncio.create_task(self._run(previous, job))
        self._last[user] = task
        self._tasks.add(task)
        self._on_count(1)
        task.add_done_callback(lambda done: self._finished(user, done))

    async def _run(self, previous: asyncio.Task[None] | None, job: Job) -> None:
        if previous is not None and not previous.done():
            await asyncio.wait([previous])  # whatever became of it: its outcome is its own job's
        await job()

    def _finished(self, user: str, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._on_count(-1)
        self._slots.release()
        if self._last.get(user) is task:
            del self._last[user]

    async def drain(self, deadline_s: float) -> int:
        """Let in-flight jobs finish for up to ``deadline_s``, then cancel the rest; returns how many
        were cancelled (their records stay unacked, so the partition's next owner does them again)."""
        pending = set(self._tasks)
        if pending:
            _, pending = await asyncio.wait(pending, timeout=deadline_s)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        return len(pending)
