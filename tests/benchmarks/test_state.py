"""Scale of state: bytes per known contact in the tables for 1M contacts.

The entries are what the sink writes (``Executor._remember_contact``): one is made by running the
real executor against the in-process emulator (identify with typical traits, then a group), and 1M
are made from it, each with its own user key, Intercom id and fingerprint hashes, decoded from JSON
the way Faust's table gets them from its changelog.

- memory store: Python heap held by Faust's memory store for them (its ``data`` dict and its
  key → partition dict), measured with tracemalloc.
- RocksDB store (``rocksdb://``, through rocksdict, the optional extra ``rocksdb``): the same
  JSON keys and values written with the worker's RocksDB options (streams/pipeline/rocksdb_tuning.py:
  Faust's, with zstd and a shared memory budget), compacted, bytes on disk.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from streams.delivery import Executor
from streams.delivery.retry import RetryPolicy
from streams.emulator.app import create_app
from streams.emulator.config import EmulatorConfig
from streams.events import parse_event
from streams.intercom import IntercomClient
from streams.mapping import plan_event
from tests.benchmarks import report

pytestmark = pytest.mark.bench

TOKEN = "bench-token"
CONTACTS = 1_000_000


async def sample_entry() -> tuple[str, dict[str, Any]]:
    """A known-contacts entry exactly as the sink leaves it after an identify and a group."""
    app = create_app(EmulatorConfig(tokens=[TOKEN], rate_limit=0))
    client = IntercomClient("http://emulator", TOKEN, "2.10", transport=httpx.ASGITransport(app=app))
    await client.request(
        "POST", "/data_attributes", {"name": "plan", "model": "contact", "data_type": "string"}
    )
    contacts: dict[str, Any] = {}
    executor = Executor(client.request, contacts, {}, RetryPolicy(max_attempts=1), workspace={})
    user = "4f1c2a9e-7b3d-4e58-9a61-0c2d8e5f7a13"  # a typical userId: a UUID
    for raw in (
        {"type": "identify", "userId": user, "timestamp": 1_760_000_000,
         "traits": {"email": "ada.lovelace@example.com", "firstName": "Ada", "lastName": "Lovelace",
                    "plan": "pro", "createdAt": "2024-03-01T09:30:00Z", "phone": "+44 20 7946 0018"}},
        {"type": "group", "userId": user, "groupId": "acme-ltd", "timestamp": 1_760_000_001,
         "traits": {"name": "Acme Ltd"}},
    ):  # fmt: skip
        assert (await executor.execute(plan_event(parse_event(raw)))).reports == ()
    await client.aclose()
    return user, contacts[user]


_MARK = "\x00"


def _template(value: Any, lengths: list[int]) -> Any:
    """``value`` with each per-contact string (ids, hashes, company ids) replaced by a marker."""
    if isinstance(value, dict):
        return {k: _template(v, lengths) for k, v in value.items()}
    if isinstance(value, list):
        return [_template(v, lengths) for v in value]
    if isinstance(value, str) and value not in ("user", "lead"):
        lengths.append(len(value))
        return _MARK
    return value


def entries(template_key: str, template: dict[str, Any], count: int) -> list[tuple[bytes, bytes]]:
    """(JSON key, JSON value) pairs as Faust serialises them (key and value serializer ``json``):
    the sample's shape and string lengths, with values of its own for every contact."""
    lengths: list[int] = []
    text = json.dumps(_template(template, lengths), separators=(",", ":"))
    text = text.replace("%", "%%").replace(json.dumps(_MARK), '"%s"')
    need = sum(lengths) + len(template_key)
    out = []
    for _ in range(count):
        noise = os.urandom((need + 1) // 2).hex()
        parts, at = [], len(template_key)
        for n in lengths:
            parts.append(noise[at : at + n])
            at += n
        key = f'"{noise[: len(template_key)]}"'.encode()
        out.append((key, (text % tuple(parts)).encode()))
    return out


def deep_size(roots: list[Any]) -> int:
    """Bytes of ``roots`` and everything they hold (each object once)."""
    seen: set[int] = set()
    total = 0
    stack = list(roots)
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, list | tuple):
            stack.extend(obj)
    return total


@pytest.fixture(scope="module")
def contact_records() -> tuple[dict[str, Any], list[tuple[bytes, bytes]]]:
    import asyncio

    key, entry = asyncio.run(sample_entry())
    started = time.monotonic()
    records = entries(key, entry, CONTACTS)
    print(f"\nmade {len(records):,} contact records in {time.monotonic() - started:.1f}s; one is {entry}")
    return entry, records


def test_memory_store_bytes_per_contact(contact_records: tuple[dict[str, Any], list[Any]]) -> None:
    """Faust's memory store keeps ``data`` (key → value) and ``_key_partition`` (key → partition).

    The two dicts' own tables are measured at 1M keys; the keys and values they hold are measured
    on samples of 20,000 contacts decoded from the records (they all have the same shape)."""
    _, records = contact_records
    data: dict[int, None] = {}
    key_partition: dict[int, int] = {}
    for n in range(CONTACTS):  # grown one insert at a time, like the store's dicts
        data[n] = None
        key_partition[n] = n % 4
    tables = sys.getsizeof(data) + sys.getsizeof(key_partition)
    runs = []
    sample = 20_000
    for run in range(3):
        chunk = records[run * sample : (run + 1) * sample]
        objects = [(json.loads(key), json.loads(value)) for key, value in chunk]
        runs.append(tables / CONTACTS + deep_size(objects) / sample - sys.getsizeof(objects) / sample
                    - sys.getsizeof(objects[0]))  # fmt: skip
    figure = report.record(
        "memory store, per contact",
        "bytes",
        runs,
        note=f"{CONTACTS:,} contacts: the store's two dicts at 1M keys + sys.getsizeof of each key and "
        "value object (samples of 20k); Python heap only, allocator overhead not counted",
    )
    print(f"memory store: {[round(r) for r in runs]} bytes/contact, median {figure.value:,.0f}")


def test_rocksdb_bytes_per_contact(contact_records: tuple[dict[str, Any], list[Any]], tmp_path: Path) -> None:
    try:
        import faust.stores.rocksdb  # noqa: F401
        import rocksdict
    except ImportError:
        report.record(
            "RocksDB on disk, per contact",
            "bytes",
            [],
            goal_max=300,
            note="not measured: rocksdict is not installed (pip install -e '.[rocksdb]')",
        )
        pytest.skip("rocksdict not installed")
    from streams.pipeline.rocksdb_tuning import MemoryBudget, TunedRocksDBOptions

    budget = MemoryBudget(128)  # the worker's options on top of Faust's (shared memory budget, zstd)
    _, records = contact_records
    runs = []
    for run in range(3):
        path = tmp_path / f"known-contacts-{run}.db"
        db = TunedRocksDBOptions(budget, use_rocksdict=True).open(path)  # as the worker opens a partition
        for start in range(0, len(records), 10_000):
            batch = rocksdict.WriteBatch(raw_mode=True)
            for key, value in records[start : start + 10_000]:
                batch.put(key, value)
            db.write(batch)
        db.flush()
        db.compact_range(None, None)
        db.close()
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        runs.append(size / len(records))
    figure = report.record(
        "RocksDB on disk, per contact",
        "bytes",
        runs,
        goal_max=300,
        note=f"{CONTACTS:,} contacts, rocksdict with the worker's RocksDB options (zstd), flushed, compacted",
    )
    print(f"rocksdb: {[round(r) for r in runs]} bytes/contact on disk, median {figure.value:,.0f}")
