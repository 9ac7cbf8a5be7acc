"""Soak: combined faults, many runs. ``make soak`` (``python -m tests.soak.run --runs 20``); not in CI.

Each run, on 127.0.0.1 only: a fresh Kafka broker, an emulator with seeded faults (5xx, slow answers,
stalls, dropped connections), two workers on 4 partitions; ~2,400 events (identify, tracks and a
group for 200 users) plus garbage records; then, within about 100 s, 6-10 kill -9 of a random worker
(replaced after 1-3 s) and one broker restart on the same ports; with ``--brownout`` also 70 s of
every call faulted (a retry horizon of 20 s: nothing may be dead-lettered for it). With
``--unkeyed`` the producer sets no Kafka key (as unkeyed Segment or RudderStack producers do) and
spreads the same events over the partitions at random (seeded): the worker re-keys each one through
its re-key topic, and that topic's order is the only order a user's events have. When all is
processed, from what the emulator saw, the dead-letter topic and (``--unkeyed``) the re-key topic:

- lost:        events, contacts or company attaches missing in Intercom, valid events dead-lettered,
               garbage records not dead-lettered
- misordered:  a user's events first accepted out of order (the produced order; with ``--unkeyed``
               the order the worker re-keyed them in, first copy of each), or before their contact
               was created
- replayed:    accepted event posts beyond the first of each event (Intercom drops them; they spend
               budget); retries of failed posts are not counted
- stall:       the longest time no call reached Intercom while work remained, and the same less the
               time the broker itself was down (stopped until serving again)

A run passes with 0 lost and 0 misordered; the summary gives the medians the issue asks for.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from streams.emulator.middleware import CLIENT_CLOSED_REQUEST
from streams.emulator.testing import EmulatorServer
from streams.emulator_admin import EmulatorAdmin
from streams.kafka_io import publish_lines, read_all, wait_for_topics
from streams.localkafka import LocalKafka
from streams.processes import Child, settings_from_env, start_worker, worker_env
from streams.sandbox import decode_dead_letters, wait_until_drained

TOKEN = "soak-token"
USERS = 200
TRACKS = 10
GARBAGE = 20
PARTITIONS = "4"
SESSION_TIMEOUT_S = "10"
FAULT_RATE = 0.05
BROWNOUT_S = 70.0  # --brownout: every call faulted this long, with a 20 s retry horizon


@dataclass(frozen=True)
class Mode:
    static: bool = False  # a replacement worker keeps the killed one's group instance id
    brownout: bool = False  # BROWNOUT_S of every call faulted, a 20 s retry horizon
    unkeyed: bool = False  # no Kafka key, random partitions: the worker re-keys every event


@dataclass
class RunResult:
    seed: int
    kills: int
    lost: int = 0
    misordered: int = 0
    replayed: int = 0
    stall_s: float = 0.0
    calls: int = 0
    seconds: float = 0.0
    stall_at: float = 0.0  # seconds after the faults began
    stall_beyond_broker_s: float = 0.0  # the longest stall less the time the broker itself was down
    broker_down: tuple[float, float] = (0.0, 0.0)  # wall-clock stop and back-in-service of the restart
    reordered: int = 0  # --unkeyed: users whose re-keyed order is not the order produced
    timeline: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.misordered == 0


def _at(n: int) -> str:
    return f"2026-11-20T10:{n // 60:02d}:{n % 60:02d}Z"


def events_for(users: list[str]) -> list[str]:
    """Interleaved stories: identify, a group, then tracks 1..TRACKS, every user's in order."""
    stories = []
    for i, user in enumerate(users):
        story: list[dict[str, Any]] = [
            {"type": "identify", "messageId": f"{user}-i", "userId": user, "timestamp": _at(0),
             "traits": {"email": f"{user}@example.com", "name": f"User {i}"}},
            {"type": "group", "messageId": f"{user}-g", "userId": user, "groupId": f"co-{i % 20}",
             "timestamp": _at(1), "traits": {"name": f"Company {i % 20}"}},
        ]  # fmt: skip
        story += [
            {"type": "track", "messageId": f"{user}-t{n}", "userId": user, "event": f"Step {n}",
             "timestamp": _at(1 + n), "properties": {"n": n}}
            for n in range(1, TRACKS + 1)
        ]  # fmt: skip
        stories.append(story)
    lines = [json.dumps(event) for step in zip(*stories, strict=True) for event in step]
    garbage = [f'{{"type": "track", "userId": "junk-{n}", "event": ' for n in range(GARBAGE)]  # cut JSON
    for n, bad in enumerate(garbage):
        lines.insert((n + 1) * len(lines) // (GARBAGE + 1), bad)
    return lines


async def publish_unkeyed(bootstrap: str, topic: str, lines: list[str], rng: random.Random) -> None:
    """Each line with no key, to a random partition (an unkeyed producer's partitioner)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        partitions = sorted(await producer.partitions_for(topic))
        for line in lines:
            await producer.send_and_wait(topic, line.encode(), key=None, partition=rng.choice(partitions))
    finally:
        await producer.stop()


def rekeyed_order(records: list[Any]) -> dict[str, list[int]]:
    """Per user, the track numbers in the order the worker re-keyed them: one user's records share a
    partition of the re-key topic; a record written again after a kill counts where it came first."""
    order: dict[str, list[int]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        event = json.loads(record.value)
        if event.get("type") == "track":
            user, n = str(event["userId"]), int(event["properties"]["n"])
            if n not in order[user]:
                order[user].append(n)
    return order


def check(state: dict[str, Any], calls: list[dict[str, Any]], letters: list[dict[str, Any]],
          users: list[str], result: RunResult, faults_began: float,
          expected: dict[str, list[int]] | None = None) -> None:  # fmt: skip
    """``expected``: each user's track order where it is not 1..TRACKS (--unkeyed: the re-keyed order)."""
    contacts = Counter(c["external_id"] for c in state["contacts"])
    missing_contacts = [u for u in users if contacts[u] != 1]
    stored = {(e["user_id"], e["event_name"].lower()) for e in state["events"]}
    missing_events = [(u, n) for u in users for n in range(1, TRACKS + 1) if (u, f"step {n}") not in stored]
    attached = {c["external_id"] for c in state["contacts"] if (c.get("companies") or {}).get("data")}
    missing_attaches = [u for u in users if u not in attached]
    valid_letters = [d for d in letters if not str(d.get("user_key") or "").startswith("junk-")
                     and d["reason"] != "unparseable"]  # fmt: skip
    garbage_letters = len(letters) - len(valid_letters)
    result.lost = len(missing_contacts) + len(missing_events) + len(missing_attaches) + len(valid_letters)
    result.lost += max(0, GARBAGE - garbage_letters)
    if result.lost:
        reasons = [(d["reason"], d["message"][:80]) for d in valid_letters[:3]]
        result.notes.append(
            f"missing contacts {missing_contacts[:3]} events {missing_events[:3]} attaches "
            f"{missing_attaches[:3]}; valid dead letters {reasons}; "
            f"garbage dead-lettered {garbage_letters}/{GARBAGE}"
        )

    calls = [c for c in calls if c["status"] != CLIENT_CLOSED_REQUEST]
    created: dict[str, int] = {}
    first_seen: dict[str, list[int]] = defaultdict(list)
    early: set[str] = set()
    accepted: Counter[tuple[str, int]] = Counter()  # accepted posts per event: more than one is a replay
    for index, call in enumerate(calls):
        body = call.get("request_body") or {}
        if call["method"] == "POST" and call["path"] == "/contacts" and call["status"] == 200:
            created.setdefault(str(body.get("external_id")), index)
        if call["method"] == "POST" and call["path"] == "/events" and isinstance(body, dict):
            user, n = str(body.get("user_id")), int(str(body.get("event_name", "0")).split()[-1])
            if call["status"] == 202:
                accepted[(user, n)] += 1
                if index < created.get(user, -1) or user not in created:
                    early.add(user)
                if n not in first_seen[user]:
                    first_seen[user].append(n)

    def in_order(user: str, ns: list[int]) -> bool:
        if expected is None:
            return ns == sorted(ns)
        return ns == [n for n in expected.get(user, []) if n in ns]

    disordered = [u for u, ns in first_seen.items() if not in_order(u, ns)]
    result.misordered = len(disordered) + len(early)
    if result.misordered:
        result.notes.append(f"out of order {disordered[:3]}, events before the contact {sorted(early)[:3]}")
    result.replayed = sum(accepted.values()) - len(accepted)
    result.calls = len(calls)
    times = sorted(c["time"] for c in calls)
    gaps = [(b - a, a) for a, b in itertools.pairwise(times)]
    result.stall_s, stall_from = max(gaps, default=(0.0, 0.0))
    result.stall_at = stall_from - faults_began
    down_from, down_to = result.broker_down

    def beyond_broker(start: float, end: float) -> float:
        return (end - start) - max(0.0, min(end, down_to) - max(start, down_from))

    result.stall_beyond_broker_s = max(
        (beyond_broker(a, b) for a, b in itertools.pairwise(times)), default=0.0
    )


def brownout(admin: EmulatorAdmin, result: RunResult, at_s: float) -> threading.Timer:
    """Every call faulted for BROWNOUT_S from ``at_s`` (5xx, slow successes, stalls, drops), then the
    usual 5 % again."""

    def end() -> None:
        admin.configure(fault_rate=FAULT_RATE)

    def begin() -> None:
        admin.configure(fault_rate=1.0)
        threading.Timer(BROWNOUT_S, end).start()

    result.timeline.append(f"brownout {at_s:.0f}-{at_s + BROWNOUT_S:.0f}s")
    return threading.Timer(at_s, begin)


def one_run(seed: int, workdir: Path, mode: Mode) -> RunResult:
    rng = random.Random(seed)
    kills = rng.randint(6, 10)
    result = RunResult(seed, kills)
    started = time.monotonic()
    users = [f"s{seed % 1000:03d}-{i:03d}" for i in range(USERS)]
    lines = events_for(users)
    with LocalKafka() as kafka:
        emulator_child = EmulatorServer(
            workdir / "emulator.log",
            ["--seed", str(seed), "--fault-rate", str(FAULT_RATE), "--rate-limit", "off"],
            token=TOKEN,
        )  # fmt: skip
        url = emulator_child.base_url
        admin = EmulatorAdmin(url, TOKEN)
        env = worker_env(
            kafka.bootstrap, url, TOKEN, workdir / "data", app_id=f"soak-{seed}",
            partitions=PARTITIONS, consumer_session_timeout_s=SESSION_TIMEOUT_S,
            rate_limit="100000/10s", request_timeout_s="5",
            **({"retry_horizon_s": "20"} if mode.brownout else {}),
        )  # fmt: skip
        settings = settings_from_env(env)
        workers: list[Child] = []
        counter = iter(range(1000))

        slots: dict[Child, str] = {}

        def spawn(slot: str) -> Child:
            # --static: a replacement takes the killed worker's group instance id (a StatefulSet pod).
            own = {**env, "INTERCOM_STREAM_GROUP_INSTANCE_ID": slot} if mode.static else env
            child = start_worker(workdir / f"worker-{next(counter)}.log", own)
            workers.append(child)
            slots[child] = slot
            return child

        alive = [spawn("worker-a"), spawn("worker-b")]
        try:
            asyncio.run(wait_for_topics(kafka.bootstrap, [settings.raw_events_topic], timeout_s=60))
            if mode.unkeyed:
                # Its own generator: the faults below are those of a keyed run of the same seed.
                spread = random.Random(f"partitions-{seed}")
                asyncio.run(publish_unkeyed(kafka.bootstrap, settings.raw_events_topic, lines, spread))
            else:
                asyncio.run(publish_lines(kafka.bootstrap, settings.raw_events_topic, lines))
            # The faults: kills spread over ~100 s, and one broker restart somewhere among them.
            moments = sorted(rng.uniform(3, 95) for _ in range(kills))
            restart_at, downtime = rng.uniform(10, 80), rng.uniform(2, 5)

            def restart_broker() -> None:
                stopped = time.time()
                kafka.restart(downtime_s=downtime)
                result.broker_down = (stopped, time.time())

            restart = threading.Timer(restart_at, restart_broker)
            result.timeline.append(f"broker down {restart_at:.0f}-{restart_at + downtime:.0f}s")
            browning = brownout(admin, result, rng.uniform(5, 25)) if mode.brownout else None
            began, wall_began = time.monotonic(), time.time()
            restart.start()
            if browning is not None:
                browning.start()
            for moment in moments:
                time.sleep(max(0.0, began + moment - time.monotonic()))
                victim = alive.pop(rng.randrange(len(alive)))
                victim.stop(sig=signal.SIGKILL)
                result.timeline.append(f"kill {victim.log_path.name} {time.monotonic() - began:.0f}s")
                time.sleep(rng.uniform(1, 3))
                alive.append(spawn(slots[victim]))
            restart.join()
            if browning is not None:
                browning.join()
                time.sleep(max(0.0, began + 25 + BROWNOUT_S - time.monotonic()))
            asyncio.run(wait_until_drained(settings, len(lines)))
            time.sleep(2)  # the last commits
            state, calls = admin.state(), admin.requests()
            letters = decode_dead_letters(asyncio.run(read_all(kafka.bootstrap, settings.dead_letter_topic)))
            expected = None
            if mode.unkeyed:
                expected = rekeyed_order(asyncio.run(read_all(kafka.bootstrap, settings.rekey_topic)))
                produced = list(range(1, TRACKS + 1))
                result.reordered = sum(1 for u in users if expected.get(u) != produced)
            check(state, calls, letters, users, result, wall_began, expected)
        except Exception as exc:  # a run that did not finish counts as failed, with its reason
            result.lost = -1
            result.notes.append(f"{type(exc).__name__}: {exc}")
        finally:
            for child in workers:
                child.stop(timeout_s=5)
            emulator_child.stop()
    result.seconds = time.monotonic() - started
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=None, help="first run's seed (default: random)")
    parser.add_argument("--keep", type=Path, default=None, help="keep each run's logs under this folder")
    parser.add_argument(
        "--static",
        action="store_true",
        help="static group membership: a replacement keeps the killed one's id",
    )
    parser.add_argument(
        "--brownout",
        action="store_true",
        help=f"and a brownout: every call faulted for {BROWNOUT_S:.0f} s mid-run, retry horizon 20 s",
    )
    parser.add_argument(
        "--unkeyed",
        action="store_true",
        help="producers set no key (random partitions): order is checked against the re-key topic",
    )
    args = parser.parse_args(argv)
    mode = Mode(static=args.static, brownout=args.brownout, unkeyed=args.unkeyed)
    first = args.seed if args.seed is not None else random.randrange(1 << 20)
    results = []
    print(f"{'run':>4} {'seed':>8} {'kills':>5} {'lost':>5} {'misord':>6} {'replayed':>8} {'per kill':>8} "
          f"{'stall s':>7} {'-broker':>7} {'down s':>6} {'calls':>6} {'time s':>6}")  # fmt: skip
    for n in range(args.runs):
        if args.keep is not None:
            workdir = args.keep / f"run-{first + n}"
            workdir.mkdir(parents=True, exist_ok=True)
            result = one_run(first + n, workdir, mode)
        else:
            with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
                result = one_run(first + n, Path(tmp), mode)
        results.append(result)
        print(f"{n + 1:>4} {result.seed:>8} {result.kills:>5} {result.lost:>5} {result.misordered:>6} "
              f"{result.replayed:>8} {result.replayed / result.kills:>8.1f} {result.stall_s:>7.1f} "
              f"{result.stall_beyond_broker_s:>7.1f} {result.broker_down[1] - result.broker_down[0]:>6.1f} "
              f"{result.calls:>6} {result.seconds:>6.0f}", flush=True)  # fmt: skip
        if result.stall_beyond_broker_s > float(SESSION_TIMEOUT_S) + 5:
            result.notes.append(f"stall from {result.stall_at:.0f}s; " + ", ".join(result.timeline))
        if mode.unkeyed:
            result.notes.append(f"{result.reordered}/{USERS} users re-keyed in another order than produced")
        for note in result.notes:
            print(f"      {note}", flush=True)
    failed = [r for r in results if not r.ok]
    per_kill = [r.replayed / r.kills for r in results]
    print(
        f"\nsummary: {len(results)} runs, {len(failed)} with loss or misorder; "
        f"lost {sum(max(r.lost, 0) for r in results)}, misordered {sum(r.misordered for r in results)}; "
        f"replayed calls per kill median {statistics.median(per_kill):.1f} (max {max(per_kill):.1f}); "
        f"longest stall median {statistics.median(r.stall_s for r in results):.1f} s "
        f"(max {max(r.stall_s for r in results):.1f} s); less the broker's own downtime median "
        f"{statistics.median(r.stall_beyond_broker_s for r in results):.1f} s "
        f"(max {max(r.stall_beyond_broker_s for r in results):.1f} s; session timeout {SESSION_TIMEOUT_S} s)"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
