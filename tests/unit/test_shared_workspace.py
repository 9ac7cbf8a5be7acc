"""Shared event names and attribute claims over one ordered log, as several workers see it.

``SharedLog`` stands in for the workspace topic: one list of records in offset order; each worker
applies them to its own ``WorkspaceState`` when it reads (after a random delay, like a consumer).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import pytest

from streams.workspace.attributes import SharedAttributes
from streams.workspace.names import SharedEventNames
from streams.workspace.state import WorkspaceState


class SharedLog:
    def __init__(self) -> None:
        self.records: list[tuple[str, dict[str, Any] | None]] = []


class WorkerLog:
    """The part of ``WorkspaceLog`` the shared helpers use, over a ``SharedLog``."""

    def __init__(self, log: SharedLog, worker: str, cap: int, rng: random.Random) -> None:
        self.log, self.worker, self.rng = log, worker, rng
        self.state = WorkspaceState(cap)

    async def _read(self) -> None:
        await asyncio.sleep(self.rng.random() / 1000)
        while self.state.next_offset < len(self.log.records):
            offset = self.state.next_offset
            self.state.apply(offset, *self.log.records[offset])

    async def caught_up(self) -> None:
        await self._read()

    async def until(self, predicate: Callable[[], bool]) -> None:
        while not predicate():
            await self._read()

    async def write(self, key: str, kind: str, name: str, model: str = "", message: str = "",
                    at_ms: int | None = None) -> None:  # fmt: skip
        await asyncio.sleep(self.rng.random() / 1000)
        record = {"kind": kind, "name": name, "model": model, "worker": self.worker,
                  "at_ms": at_ms or 1, "message": message}  # fmt: skip
        self.log.records.append((key, record))
        target = len(self.log.records)
        await self.until(lambda: self.state.next_offset >= target)

    async def withdraw(self, key: str) -> None:
        self.log.records.append((key, None))
        await self._read()


@pytest.mark.parametrize("seed", [7, 19, 23])
def test_three_workers_never_reserve_more_than_the_cap(seed: int) -> None:
    rng = random.Random(seed)
    log = SharedLog()
    workers = [SharedEventNames(WorkerLog(log, f"w{i}", 5, rng)) for i in range(3)]  # type: ignore[arg-type]

    async def run() -> list[tuple[str, bool]]:
        jobs = [(workers[rng.randrange(3)], f"name-{rng.randrange(12)}") for _ in range(300)]
        answers = await asyncio.gather(*[w.reserve(n) for w, n in jobs])
        return [(n, a) for (_, n), a in zip(jobs, answers, strict=True)]

    answers = asyncio.run(run())
    admitted = {name for name, ok in answers if ok}
    assert len(admitted) == 5
    assert all(not ok for name, ok in answers if name not in admitted)  # one verdict per name
    for worker in workers:  # every worker computes the same slots from the log
        assert {n for n in admitted if worker.log.state.holds_slot(n)} == admitted


@pytest.mark.parametrize("seed", [11, 13, 29])
def test_an_attribute_is_created_by_one_request_of_one_worker(seed: int) -> None:
    rng = random.Random(seed)
    log = SharedLog()
    workers = [SharedAttributes(WorkerLog(log, f"w{i}", 5, rng)) for i in range(3)]  # type: ignore[arg-type]
    creates: list[str] = []

    async def deliver(worker: SharedAttributes) -> None:
        if await worker.claim("contact", "plan"):
            creates.append(worker.log.worker)
            await asyncio.sleep(0.002)  # the POST /data_attributes
            await worker.created("contact", "plan")

    async def run() -> None:
        await asyncio.gather(*[deliver(workers[i % 3]) for i in range(30)])

    asyncio.run(run())
    assert len(creates) == 1
    assert all(w.known("contact") == {"plan"} for w in workers)
