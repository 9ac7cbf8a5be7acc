"""One delivery executor per delivery partition, each spending its own share of the rate budget.

Every executor calls Intercom through the worker's one ``IntercomClient`` (one connection pool);
only the limiter is per partition (README: sizing).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streams.intercom import IntercomClient, SlidingWindowLimiter
from streams.pipeline.sink import PlanExecutor


class PartitionCalls:
    """``call(method, path, body)`` for one partition: waits for its budget, then calls Intercom."""

    def __init__(self, client: IntercomClient, limiter: SlidingWindowLimiter) -> None:
        self._client = client
        self._limiter = limiter

    async def __call__(self, method: str, path: str, body: Any) -> Any:
        await self._limiter.acquire()
        return await self._client.request(method, path, body)


class PartitionExecutors:
    def __init__(
        self,
        client: IntercomClient,
        rate: tuple[int, float],
        build: Callable[[PartitionCalls], PlanExecutor],
    ) -> None:
        self._client = client
        self._max_calls, self._window_s = rate
        self._build = build
        self.limiters: dict[int, SlidingWindowLimiter] = {}  # read by the metrics (budget used)
        self._executors: dict[int, PlanExecutor] = {}

    def for_partition(self, partition: int) -> PlanExecutor:
        if partition not in self._executors:
            limiter = self.limiters[partition] = SlidingWindowLimiter(self._max_calls, self._window_s)
            self._executors[partition] = self._build(PartitionCalls(self._client, limiter))
        return self._executors[partition]


class LegacyExecutor:
    """Adapts today's Executor (reports and follow-ups read off it after the call) to the sink's
    ``PlanExecutor``. Goes once delivery returns them itself (issue 21, delivery composed)."""

    def __init__(self, executor: Any) -> None:
        self._executor = executor

    async def execute(self, plan: Any, *, event_time: int | None = None, unknown_user: bool = False) -> Any:
        from streams.errors import ContactPendingError

        try:
            reports = await self._executor.execute(plan, event_time=event_time, unknown_user=unknown_user)
        except ContactPendingError as pending:
            raise ContactPendingError(
                pending.reason or "contact_not_found",
                pending.message,
                operation_index=pending.operation_index,
                reports=tuple(self._executor.reports),
                follow_ups=tuple(self._executor.take_follow_ups()),
            ) from pending
        return _Delivered(tuple(reports), tuple(self._executor.take_follow_ups()))

    def is_known(self, user_key: str) -> bool:
        return bool(self._executor.is_known(user_key))


class _Delivered:
    def __init__(self, reports: tuple[Any, ...], follow_ups: tuple[Any, ...]) -> None:
        self.reports = reports
        self.follow_ups = follow_ups
