"""User lanes: several users in flight at once, one user's jobs strictly in order, bounded."""

from __future__ import annotations

import asyncio

import pytest

from streams.pipeline.lanes import UserLanes


async def test_a_users_jobs_run_in_order_while_other_users_overtake() -> None:
    lanes = UserLanes(max_in_flight=4)
    log: list[str] = []
    release_a1 = asyncio.Event()

    async def job(name: str, wait: asyncio.Event | None = None) -> None:
        log.append(f"start {name}")
        if wait is not None:
            await wait.wait()
        log.append(f"end {name}")

    await lanes.submit("a", lambda: job("a1", release_a1))
    await lanes.submit("a", lambda: job("a2"))
    await lanes.submit("b", lambda: job("b1"))
    for _ in range(5):
        await asyncio.sleep(0)
    assert "end b1" in log  # b did not wait for a
    assert "start a2" not in log  # a2 waits for a1
    release_a1.set()
    await lanes.drain(1.0)
    assert log.index("end a1") < log.index("start a2")


async def test_a_failed_job_does_not_stop_the_users_next_job() -> None:
    lanes = UserLanes(max_in_flight=2)
    ran: list[str] = []

    async def failing() -> None:
        raise RuntimeError("boom")

    async def next_job() -> None:
        ran.append("next")

    await lanes.submit("a", failing)
    await lanes.submit("a", next_job)
    await lanes.drain(1.0)
    assert ran == ["next"]


async def test_submit_waits_while_the_window_is_full_and_counts_in_flight() -> None:
    counts: list[int] = []
    lanes = UserLanes(max_in_flight=2, on_count=counts.append)
    gate = asyncio.Event()

    async def blocked() -> None:
        await gate.wait()

    await lanes.submit("a", blocked)
    await lanes.submit("b", blocked)
    third = asyncio.create_task(lanes.submit("c", blocked))
    await asyncio.sleep(0.01)
    assert not third.done() and lanes.in_flight == 2
    gate.set()
    await asyncio.wait_for(third, 1.0)
    await lanes.drain(1.0)
    assert sum(counts) == 0 and counts.count(1) == 3


async def test_drain_cancels_what_does_not_finish_in_time() -> None:
    lanes = UserLanes(max_in_flight=2)
    cancelled: list[bool] = []

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    await lanes.submit("a", forever)
    assert await lanes.drain(0.01) == 1
    assert cancelled == [True] and lanes.in_flight == 0


def test_the_window_must_be_positive() -> None:
    with pytest.raises(ValueError):
        UserLanes(0)
