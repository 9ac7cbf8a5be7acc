"""The workspace topic: one partition, compacted, read in full by every worker (no consumer group).

Each worker keeps a ``WorkspaceState`` built from the whole log and follows its tail. Writing a fact
and then waiting until the reader has applied the record's offset gives every worker the same answer
to "who was first", without locks: the log's order decides (streams/workspace/state.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streams.errors import RetryableDeliveryError
from streams.records import codec_for
from streams.workspace.state import WorkspaceState

log = logging.getLogger(__name__)


class WorkspaceUnavailableError(RetryableDeliveryError):
    """The workspace topic did not confirm a record in time (Kafka unreachable or slow)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.reason = "workspace_unavailable"


class WorkspaceLog:
    def __init__(
        self,
        bootstrap: str,
        topic: str,
        state: WorkspaceState,
        *,
        wait_s: float = 60.0,
        security: Mapping[str, Any] | None = None,
    ) -> None:
        self.servers = bootstrap
        self.topic = topic
        self.state = state
        self.wait_s = wait_s
        self.security = dict(security or {})
        self.worker = uuid.uuid4().hex[:12]  # new per process: see the key rules in state.py
        self._codec = codec_for("workspace_record")
        self._tp = TopicPartition(topic, 0)
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._reader: asyncio.Task[None] | None = None
        self._progress = asyncio.Condition()
        self._started = asyncio.Event()
        self._start_end = 0  # the log's end when we started: read up to it before answering anything
        self._caught_up = False

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(bootstrap_servers=self.servers, acks="all", **self.security)
        # No group: every worker reads every record. A fetch waiting on the tail returns as soon as a
        # record arrives, so a read-back costs a round trip, not the fetch wait.
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.servers, enable_auto_commit=False,
            max_partition_fetch_bytes=4 * 1024 * 1024, **self.security,
        )  # fmt: skip
        await self._producer.start()
        await self._consumer.start()
        self._consumer.assign([self._tp])
        await self._consumer.seek_to_beginning(self._tp)
        self._start_end = (await self._consumer.end_offsets([self._tp]))[self._tp]
        self._reader = asyncio.ensure_future(self._read())
        self._started.set()

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        for client in (self._consumer, self._producer):
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.stop()

    async def _read(self) -> None:
        assert self._consumer is not None
        while True:
            try:
                batches = await self._consumer.getmany(self._tp, timeout_ms=500)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the consumer reconnects by itself; keep following the tail
                log.warning("reading the workspace topic %s: %s", self.topic, exc)
                await asyncio.sleep(1.0)
                continue
            for message in batches.get(self._tp, ()):
                self._apply(message)
            async with self._progress:
                self._progress.notify_all()

    def _apply(self, message: Any) -> None:
        key = (message.key or b"").decode("utf-8", "replace")
        try:
            record = None if message.value is None else self._codec.decode(message.value)
        except Exception as exc:  # not ours, or garbage: skip it, it decides nothing
            log.warning("skipping workspace record %s@%d: %s", key, message.offset, exc)
            record = None
            key = ""
        self.state.apply(message.offset, key, record)

    async def _wait_until(self, offset: int) -> None:
        """Until the reader has applied every record before ``offset``."""
        await self.until(lambda: self.state.next_offset >= offset)

    async def until(self, predicate: Callable[[], bool]) -> None:
        """Until ``predicate`` holds for the state (checked after each batch the reader applies)."""
        async with self._progress:
            await self._progress.wait_for(predicate)

    async def caught_up(self) -> None:
        """Read up to where the log ended at start (the whole history) before answering."""
        if self._caught_up:
            return
        try:
            await asyncio.wait_for(self._started.wait(), self.wait_s)
            await asyncio.wait_for(self._wait_until(self._start_end), self.wait_s)
            self._caught_up = True
        except TimeoutError:
            raise WorkspaceUnavailableError(
                f"the workspace topic {self.topic} was not read within {self.wait_s:g}s"
            ) from None

    async def write(
        self, key: str, kind: str, name: str, model: str = "", message: str = "", at_ms: int | None = None
    ) -> None:
        """Append a record and wait until this worker's state includes it."""
        record = {
            "kind": kind, "name": name, "model": model, "worker": self.worker,
            "at_ms": int(time.time() * 1000) if at_ms is None else at_ms, "message": message,
        }  # fmt: skip
        await self._append(key, self._codec.encode(record))

    async def withdraw(self, key: str) -> None:
        """A tombstone for ``key`` (compaction then drops the fact)."""
        await self._append(key, None)

    async def _append(self, key: str, value: bytes | None) -> None:
        await self.caught_up()
        assert self._producer is not None
        try:
            sent = await asyncio.wait_for(
                self._producer.send_and_wait(self.topic, value, key=key.encode(), partition=0), self.wait_s
            )
            await asyncio.wait_for(self._wait_until(sent.offset + 1), self.wait_s)
        except TimeoutError:
            raise WorkspaceUnavailableError(
                f"the workspace topic {self.topic} did not confirm {key!r} within {self.wait_s:g}s"
            ) from None
