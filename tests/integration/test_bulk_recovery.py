"""RocksDB tables recovered in bulk from their changelogs (streams/pipeline/bulk_recovery.py).

The known-contacts changelog gets entries, later values for some keys and tombstones for others; a
worker with empty disks then starts on it. Its RocksDB partitions must hold exactly the latest value of
every key (none for the deleted ones), then a restart with the disks kept reads nothing in bulk again.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from streams.kafka_io import wait_for_topics
from tests.integration.conftest import RunningPipeline

pytestmark = pytest.mark.integration

READY = "Worker ready"
OFFSET_KEY = b"__faust\0offset__"


async def _publish(bootstrap: str, topic: str, records: list[tuple[bytes, bytes | None]]) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in records:
            await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


def _stored(data_dir: Path) -> dict[bytes, bytes]:
    from faust.stores.rocksdb import RocksDBOptions

    found: dict[bytes, bytes] = {}
    paths = sorted(data_dir.rglob("known-contacts-*.db"))
    assert paths, f"no known-contacts RocksDB partitions under {data_dir}"
    for path in paths:
        db = RocksDBOptions(use_rocksdict=True).open(path, read_only=True)
        try:
            found.update((k, v) for k, v in db.items() if k != OFFSET_KEY)
        finally:
            db.close()
    return found


def test_a_cold_worker_copies_the_changelog_latest_values_and_tombstones(pipeline: RunningPipeline) -> None:
    pipeline.env["INTERCOM_STREAM_TABLE_STORE"] = "rocksdb://"
    first = pipeline.start()  # creates the changelog topics
    first.wait_for(lambda: READY in first.log_text(), 120, "worker ready")
    first.stop()
    changelog = f"{pipeline.settings.app_id}-known-contacts-changelog"
    asyncio.run(wait_for_topics(pipeline.bootstrap, [changelog]))

    def key(n: int) -> bytes:
        return json.dumps(f"user-{n}").encode()

    def value(n: int, version: int) -> bytes:
        return json.dumps({"id": f"c{n}", "role": "user", "version": version}).encode()

    records: list[tuple[bytes, bytes | None]] = [(key(n), value(n, 1)) for n in range(300)]
    records += [(key(n), value(n, 2)) for n in range(0, 300, 3)]  # later values win
    records += [(key(n), None) for n in range(1, 300, 10)]  # users deleted on request
    asyncio.run(_publish(pipeline.bootstrap, changelog, records))
    expected = {k: v for k, v in records}
    expected = {k: v for k, v in expected.items() if v is not None}

    shutil.rmtree(pipeline.workdir / "data")  # an empty disk: a new pod
    cold = pipeline.start()
    cold.wait_for(lambda: READY in cold.log_text(), 120, "worker ready")
    cold.stop()
    assert "bulk recovery: " in cold.log_text()
    assert _stored(pipeline.workdir / "data") == expected

    warm = pipeline.start()  # the same disk: nothing left to copy
    warm.wait_for(lambda: READY in warm.log_text(), 120, "worker ready")
    warm.stop()
    assert "bulk recovery: " not in warm.log_text()
    assert _stored(pipeline.workdir / "data") == expected
