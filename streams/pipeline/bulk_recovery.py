"""Fast cold recovery of RocksDB tables: copy the changelog into the partition's database in bulk.

Faust recovers a table by passing each changelog record through its consumer, conductor and recovery
loop, a few awaits and a decode per record: about 6,000-8,000 records/s on 2 cores whatever the
buffer and fetch settings (profiled with pyinstrument: per-record asyncio and decoding overhead, not
the store). The RocksDB store keeps the changelog's key and value bytes as they are, so nothing needs
decoding: when Faust opens a newly assigned active partition's database, this reads the changelog
from the offset the database last persisted up to the end with a consumer of its own (large
fetches, no group), writes each fetch as one RocksDB write batch (a tombstone deletes the key), and
persists the last offset. Faust's recovery then starts from there and has only the records written
meanwhile left to read. Standby partitions and the memory store are left to Faust. Our RocksDB
store (rocksdb_store.py) calls ``load`` after Faust's own ``assign_partitions``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.stores import rocksdb

log = logging.getLogger(__name__)

FETCH_BYTES = 32 * 1024 * 1024  # per partition and per fetch: recovery reads are large and sequential
STALL_S = 30.0  # no record for this long: leave the rest to Faust's own recovery


async def load(store: Any, table: Any, tps: set[Any], bootstrap: str, security: Mapping[str, Any]) -> None:
    """Copy the changelog of ``store``'s newly opened active partitions in ``tps`` into their databases."""
    if not store.use_rocksdict:
        return
    standbys = store.app.assignor.assigned_standbys()
    wanted = [
        TopicPartition(tp.topic, tp.partition)
        for tp in tps
        if tp.topic in table.changelog_topic.topics and tp not in standbys and tp.partition in store._dbs
    ]
    if not wanted:
        return
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False,
        max_partition_fetch_bytes=FETCH_BYTES, fetch_max_bytes=FETCH_BYTES * 2, **security,
    )  # fmt: skip
    await consumer.start()
    try:
        await _copy(store, consumer, wanted)
    finally:
        await consumer.stop()


async def _copy(store: Any, consumer: AIOKafkaConsumer, wanted: list[TopicPartition]) -> None:
    consumer.assign(wanted)
    ends = await consumer.end_offsets(wanted)
    firsts = await consumer.beginning_offsets(wanted)
    left: set[TopicPartition] = set()
    for tp in wanted:
        persisted = store.persisted_offset(tp)
        start = max(firsts[tp], 0 if persisted is None else persisted + 1)
        if start < ends[tp]:
            consumer.seek(tp, start)
            left.add(tp)
    started, copied, last_progress = time.monotonic(), 0, time.monotonic()
    while left:
        fetched = await consumer.getmany(*left, timeout_ms=1000, max_records=100_000)
        for tp, messages in fetched.items():
            if not messages:
                continue
            batch = rocksdb.rocksdict.WriteBatch(raw_mode=True)
            for message in messages:
                if message.value is None:
                    batch.delete(message.key)
                else:
                    batch.put(message.key, message.value)
            store._db_for_partition(tp.partition).write(batch)
            store.set_persisted_offset(tp, messages[-1].offset)
            copied += len(messages)
            last_progress = time.monotonic()
        for tp in list(left):
            if await consumer.position(tp) >= ends[tp]:
                left.discard(tp)
        if left and time.monotonic() - last_progress > STALL_S:
            log.warning("bulk recovery stalled on %s; Faust reads the rest", sorted(left))
            return
    if copied:
        took = time.monotonic() - started
        log.info(
            "bulk recovery: %d changelog records into %d partitions of %s in %.1fs (%.0f records/s)",
            copied, len(wanted), wanted[0].topic, took, copied / max(took, 1e-9),
        )  # fmt: skip
