"""Scale: many known contacts on RocksDB. ``make bench-scale`` (``python -m tests.scale.run``); not in CI.

On 127.0.0.1 only: a fresh Kafka broker, the emulator, topics of 4 partitions, and the known-contacts
changelog filled with ``--contacts`` entries shaped like the sink's (tests/benchmarks/test_state.py).
Each worker has a data dir of its own (a pod's volume). Measured, in this order:

1. cold recovery: workers A and B start on empty disks and rebuild the table from the changelog, both
   at once: records/s from the first partition assignment to the last "Worker ready";
2. RSS of each worker once recovered (/proc), and bytes on disk per contact (the data dirs);
3. restart of B with its state on disk (SIGTERM, then started again at once, as a pod restart): from
   starting B to the delivery of a new event on each of the 4 partitions, published once B has its
   partitions (so every partition's owner must be ready, B's included);
4. a third worker C (empty disk) joins: measured the same way.

Figures are printed with the issue's targets; nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.partitioner import murmur2

from streams.emulator.testing import EmulatorServer
from streams.emulator_admin import EmulatorAdmin
from streams.kafka_io import wait_for_topics
from streams.localkafka import LocalKafka
from streams.processes import Child, start_worker, worker_env
from tests.benchmarks.kafka_bench import publish_fast
from tests.benchmarks.test_state import entries, sample_entry

PARTITIONS = 4
TOKEN = "scale-token"
READY = "Worker ready"
ASSIGNED = "partitions assigned"
BULK = "bulk recovery: "
TARGETS = {"rss_mb": 300, "restart_s": 15, "recovery_rps": 50_000, "disk_bytes": 150}


def partition_of(key: bytes) -> int:
    """Kafka's default partitioner (murmur2), as the producers of raw-events use it."""
    return (murmur2(key) & 0x7FFFFFFF) % PARTITIONS


def probe_users(tag: str) -> list[str]:
    """One new user id per partition."""
    found: dict[int, str] = {}
    n = 0
    while len(found) < PARTITIONS:
        user = f"probe-{tag}-{n}"
        found.setdefault(partition_of(user.encode()), user)
        n += 1
    return [found[p] for p in range(PARTITIONS)]


def log_times(text: str, message: str) -> list[float]:
    times = []
    for line in text.splitlines():
        if message in line:
            try:
                stamp = json.loads(line)["timestamp"]
            except (ValueError, KeyError):
                continue
            times.append(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp())
    return times


def rss_mb(child: Child) -> int | str:
    """Resident memory of a running worker, in MB; a worker that died says so (its log has why)."""
    if child.returncode is not None:
        return f"died ({child.returncode}): {child.log_path}"
    for line in Path(f"/proc/{child.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024)
    return "unknown"


def disk_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def wait(what: str, ready: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout_s:.0f}s")
        time.sleep(0.1)


class Scale:
    def __init__(
        self, bootstrap: str, emulator: EmulatorAdmin, workdir: Path, contacts: int, standbys: int = 0
    ) -> None:
        self.bootstrap, self.emulator, self.workdir, self.contacts = bootstrap, emulator, workdir, contacts
        self.standbys = standbys
        self.app_id = "scale"
        self.raw = "scale-raw"
        self.workers: dict[str, Child] = {}
        self.starts = 0

    def env(self, name: str) -> dict[str, str]:
        return worker_env(
            self.bootstrap, self.emulator.base_url, TOKEN, self.workdir / f"data-{name}", app_id=self.app_id,
            raw_events_topic=self.raw, delivery_topic="scale-delivery", rekey_topic="scale-rekey",
            dead_letter_topic="scale-dlq", partitions=str(PARTITIONS), log_format="json",
            table_store="rocksdb://", rate_limit="100000/10s", standby_replicas=str(self.standbys),
        )  # fmt: skip

    def start(self, name: str) -> Child:
        self.starts += 1
        child = start_worker(self.workdir / f"{name}-{self.starts}.log", self.env(name))
        self.workers[name] = child
        return child

    def stop(self, name: str) -> None:
        self.workers.pop(name).stop(timeout_s=60)

    async def create_topics(self) -> None:
        names = [self.raw, "scale-delivery", "scale-rekey", "scale-dlq"]
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(n, PARTITIONS, 1) for n in names])
        finally:
            await admin.close()
        await wait_for_topics(self.bootstrap, names)

    def join_and_probe(self, name: str, tag: str) -> float:
        """Start ``name``; once it holds partitions, publish the probe; seconds from start to delivered."""
        started = time.monotonic()
        child = self.start(name)
        child.wait_for(lambda: ASSIGNED in child.log_text(), 600, f"{name} assigned")
        self.probe(tag)
        return round(time.monotonic() - started, 1)

    def probe(self, tag: str) -> float:
        """Publish an identify of a new user on each partition; seconds until all four were created."""
        users = probe_users(tag)
        since = len(self.emulator.requests())
        started = time.monotonic()
        records = [(u.encode(), json.dumps({"type": "identify", "userId": u, "messageId": f"{u}-1"}).encode())
                   for u in users]  # fmt: skip
        asyncio.run(publish_fast(self.bootstrap, self.raw, records))

        def delivered() -> bool:
            calls = self.emulator.requests(since)
            made = {
                (c.get("request_body") or {}).get("external_id") for c in calls if c["path"] == "/contacts"
            }
            return set(users) <= made

        wait(f"probe {tag}", delivered, 900)
        return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--standby-replicas", type=int, default=0, help="INTERCOM_STREAM_STANDBY_REPLICAS")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="intercom-stream-scale-"))
    figures: dict[str, Any] = {"contacts": args.contacts, "standby_replicas": args.standby_replicas}
    emulator_child = EmulatorServer(workdir / "emulator.log", token=TOKEN)
    url = emulator_child.base_url
    try:
        with LocalKafka() as kafka:
            emulator = EmulatorAdmin(url, TOKEN)
            emulator.configure(rate_limit=0)
            scale = Scale(kafka.bootstrap, emulator, workdir, args.contacts, args.standby_replicas)
            try:
                run(scale, figures)
            finally:  # never leave a worker behind (it would wait for the stopped broker forever)
                for child in scale.workers.values():
                    child.stop(timeout_s=10, sig=signal.SIGKILL)
    finally:
        emulator_child.stop()
    print(json.dumps(figures, indent=2))
    report(figures)
    shutil.rmtree(workdir, ignore_errors=True)


def run(scale: Scale, figures: dict[str, Any]) -> None:
    asyncio.run(scale.create_topics())
    for name in ("a", "b"):  # creates the changelogs (and the workspace topic)
        scale.start(name)
    for name in ("a", "b"):
        scale.workers[name].wait_for(lambda n=name: READY in scale.workers[n].log_text(), 180, "ready")  # type: ignore[misc]
    for name in ("a", "b"):
        scale.stop(name)
    for name in ("a", "b"):
        shutil.rmtree(scale.workdir / f"data-{name}", ignore_errors=True)

    key, entry = asyncio.run(sample_entry())
    made = time.monotonic()
    records = entries(key, entry, scale.contacts)
    print(f"made {len(records):,} contacts in {time.monotonic() - made:.0f}s", flush=True)
    took = asyncio.run(publish_fast(scale.bootstrap, f"{scale.app_id}-known-contacts-changelog", records))
    print(f"published them in {took:.0f}s", flush=True)
    del records

    # 1. cold recovery, both at once
    for name in ("a", "b"):
        scale.start(name)
    for name in ("a", "b"):
        child = scale.workers[name]
        child.wait_for(lambda c=child: READY in c.log_text(), 3600, "cold recovery")  # type: ignore[misc]
    texts = [scale.workers[name].log_text() for name in ("a", "b")]
    first = min(log_times(text, ASSIGNED)[0] for text in texts)
    wall = max(log_times(text, READY)[-1] for text in texts) - first
    figures["cold_recovery_s"] = round(wall, 1)
    figures["cold_recovery_rps"] = round(scale.contacts / wall)
    figures["bulk_copies"] = [bulk_line(line) for text in texts for line in text.splitlines() if BULK in line]
    time.sleep(5)
    # 2. memory and disk
    figures["rss_mb"] = {n: rss_mb(c) for n, c in scale.workers.items()}
    figures["first_probe_s"] = round(scale.probe("warm"), 1)
    on_disk = sum(disk_bytes(scale.workdir / f"data-{n}") for n in ("a", "b"))
    figures["data_dirs_bytes_per_contact"] = round(on_disk / scale.contacts, 1)
    figures["rss_mb_after_probe"] = {n: rss_mb(c) for n, c in scale.workers.items()}

    # 3. restart of B, state on disk
    scale.stop("b")
    figures["restart_to_first_delivery_s"] = scale.join_and_probe("b", "restart")

    # 4. a third worker joins, empty disk
    figures["join_to_first_delivery_s"] = scale.join_and_probe("c", "join")
    figures["rss_mb_three_workers"] = {n: rss_mb(c) for n, c in scale.workers.items()}
    for name in list(scale.workers):
        scale.stop(name)
    figures["disk_bytes_per_contact"], figures["compacted_bytes_per_contact"] = one_copy_on_disk(scale)


def one_copy_on_disk(scale: Scale) -> tuple[float, float]:
    """Bytes per contact of one copy of the known-contacts table (each partition's largest database
    among the workers' data dirs: a revoked partition's database stays on disk), as left, then after
    a full compaction (what RocksDB converges to in the background)."""
    from streams.pipeline.rocksdb_tuning import MemoryBudget, TunedRocksDBOptions

    budget = MemoryBudget(128)  # the worker's options (zstd), so the compaction writes what it would
    copies: dict[str, Path] = {}
    for path in scale.workdir.glob("data-*/**/known-contacts-*.db"):
        if path.name not in copies or disk_bytes(path) > disk_bytes(copies[path.name]):
            copies[path.name] = path
    before = sum(disk_bytes(path) for path in copies.values())
    for path in copies.values():
        db = TunedRocksDBOptions(budget, use_rocksdict=True).open(path)
        db.compact_range(None, None)
        db.close()
    after = sum(disk_bytes(path) for path in copies.values())
    return round(before / scale.contacts, 1), round(after / scale.contacts, 1)


def bulk_line(line: str) -> str:
    try:
        return str(json.loads(line)["message"])
    except (ValueError, KeyError):
        return line


def report(figures: dict[str, Any]) -> None:
    n = figures["contacts"]
    worst_rss = max((v for v in figures["rss_mb"].values() if isinstance(v, int)), default="n/a")
    rows = [
        ("RSS per worker (MB, after recovery)", worst_rss, f"≤ {TARGETS['rss_mb']}"),
        ("restart (state on disk) → all partitions delivering (s)", figures["restart_to_first_delivery_s"],
         f"≤ {TARGETS['restart_s']}"),
        ("third worker joins → all partitions delivering (s)", figures["join_to_first_delivery_s"], ""),
        ("cold recovery (records/s, 2 workers)", figures["cold_recovery_rps"],
         f"≥ {TARGETS['recovery_rps']:,}"),
        ("RocksDB on disk per contact (bytes, one copy, as left)", figures["disk_bytes_per_contact"],
         f"≤ {TARGETS['disk_bytes']}"),
        ("  the same after a full compaction", figures["compacted_bytes_per_contact"], ""),
        ("  all data dirs, every table, WAL, old copies", figures["data_dirs_bytes_per_contact"], ""),
    ]  # fmt: skip
    standbys = figures["standby_replicas"]
    print(
        f"\nscale benchmark: {n:,} known contacts, {PARTITIONS} partitions, RocksDB, "
        f"{standbys} standby replicas"
    )
    for name, value, target in rows:
        print(f"  {name:58s} {value!s:>10}  {target}")
    print(
        f"  RSS (MB) after recovery {figures['rss_mb']}; with three workers {figures['rss_mb_three_workers']}"
    )


if __name__ == "__main__":
    main()
