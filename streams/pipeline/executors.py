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
