"""The limits our worker is measured against, each in a process of its own that prints one JSON line.

    python -m tests.benchmarks.limits kafka --bootstrap B --topic IN --out OUT --count N --group G
    python -m tests.benchmarks.limits faust --bootstrap B --topic IN --out OUT --count N --group G
    LIMITS_TOKEN=tok python -m tests.benchmarks.limits http --base-url URL --bodies bodies.jsonl

- ``kafka``: a bare aiokafka loop: consume, ``json.loads``, produce one small record per input
  without awaiting each send, commit per batch once the batch's sends are acknowledged (acks=all):
  the at-least-once guarantee of the worker, at what Kafka and a Python client cost.
- ``faust``: a faust-streaming app with one agent that parses each record and forwards a small one,
  acked and committed as Faust does by default: what Faust itself costs before any work of ours.
- ``http``: one pooled ``httpx.AsyncClient`` posting the given bodies to ``POST /events``, 8 in flight.

Each measures its own CPU (/proc, all threads) from the first record (or the first measured call)
to the last commit (or answer), so start-up and imports are not counted; the worker is measured
warm too. The JSON: ``limit``, ``records``, ``cpu_s``, ``wall_s``, ``per_cpu_s``; ``error`` instead
when it could not finish (it then exits non-zero).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streams.pipeline.faust_app import PRODUCER_LINGER_S
from tests.benchmarks.kafka_bench import cpu_seconds

ROOT = Path(__file__).resolve().parents[2]
TOKEN_ENV = "LIMITS_TOKEN"  # the Intercom token reaches the http limit by environment, never argv
IN_FLIGHT = 8
API_VERSION = "2.10"  # the worker's default Intercom-Version


class LimitFailed(RuntimeError):
    pass


@dataclass
class Meter:
    """CPU and wall clock of this process from ``start()``."""

    wall: float = 0.0
    cpu: float = 0.0

    def start(self) -> None:
        self.wall, self.cpu = time.monotonic(), cpu_seconds(os.getpid())

    def result(self, limit: str, records: int) -> dict[str, Any]:
        cpu = cpu_seconds(os.getpid()) - self.cpu
        wall = time.monotonic() - self.wall
        return {"limit": limit, "records": records, "cpu_s": cpu, "wall_s": wall, "per_cpu_s": records / cpu}


def small_record(event: dict[str, Any], offset: int) -> bytes:
    """What a loop that decided something about an event writes for it: a few dozen bytes."""
    return json.dumps({"type": event.get("type"), "offset": offset}).encode()


async def kafka_loop(args: argparse.Namespace) -> dict[str, Any]:
    consumer = AIOKafkaConsumer(
        args.topic, bootstrap_servers=args.bootstrap, group_id=args.group,
        enable_auto_commit=False, auto_offset_reset="earliest",
    )  # fmt: skip
    producer = AIOKafkaProducer(bootstrap_servers=args.bootstrap, acks="all")
    await consumer.start()
    await producer.start()
    meter, count, started = Meter(), 0, False
    deadline = time.monotonic() + args.timeout
    try:
        while count < args.count:
            if time.monotonic() > deadline:
                raise LimitFailed(f"consumed {count} of {args.count} records in {args.timeout:.0f}s")
            batch = await consumer.getmany(timeout_ms=500)
            if not batch:
                continue
            if not started:
                meter.start()
                started = True
            sends = []
            for messages in batch.values():
                for message in messages:
                    out = small_record(json.loads(message.value or b"{}"), message.offset)
                    sends.append(await producer.send(args.out, out, key=message.key))
            await asyncio.gather(*sends)  # acknowledged by the broker before their inputs are committed
            await consumer.commit()
            count += len(sends)
        return meter.result("kafka", count)
    finally:
        await consumer.stop()
        await producer.stop()


def faust_floor(args: argparse.Namespace) -> None:
    """Runs a Faust worker; prints the result and leaves the process once all records are committed."""
    import faust

    app = faust.App(
        args.group, broker=f"kafka://{args.bootstrap}", store="memory://", datadir=args.datadir,
        web_enabled=False, topic_partitions=3, consumer_auto_offset_reset="earliest", producer_acks=-1,
        broker_commit_interval=0.5, stream_recovery_delay=0.0,  # as the worker (faust_app.py, worker_env)
        key_serializer="raw", value_serializer="raw", producer_linger=args.linger_ms / 1000,
    )  # fmt: skip
    source = app.topic(args.topic, key_serializer="raw", value_serializer="raw")
    meter, seen = Meter(), [0]

    @app.agent(source)
    async def forward(stream: Any) -> None:
        async for event in stream.events():  # acked by Faust when the body returns
            if not seen[0]:
                meter.start()
            value = json.loads(event.message.value or b"{}")
            record = small_record(value, event.message.offset)
            # Straight to the producer, as the worker's Output does (topic.send from an agent holds
            # the record until the next commit: slower still).
            await app.producer.send(args.out, event.message.key, record, None, None, None)
            seen[0] += 1

    @app.task
    async def finish() -> None:
        deadline = time.monotonic() + args.timeout
        while seen[0] < args.count:
            if time.monotonic() > deadline:
                emit({"limit": "faust", "error": f"saw {seen[0]} of {args.count} in {args.timeout:.0f}s"})
                os._exit(2)
            await asyncio.sleep(0.05)
        await asyncio.sleep(0)  # the last record's ack runs when the agent asks for the next one
        await app.producer.flush()
        # False when the periodic commit took everything already: the caller checks the group's lag.
        await app.consumer.commit()
        await app.producer.flush()
        emit(meter.result("faust", seen[0]))
        os._exit(0)  # a Faust worker's shutdown takes seconds and is not what is measured

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    worker = faust.Worker(app, loop=loop, loglevel="warning", quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()


async def http_client(args: argparse.Namespace, bodies: list[Any]) -> dict[str, Any]:
    headers = {
        "Authorization": f"Bearer {os.environ[TOKEN_ENV]}",
        "Intercom-Version": API_VERSION,
        "Accept": "application/json",
        "Content-Type": "application/json",
    }
    pool = httpx.Limits(max_connections=args.in_flight, max_keepalive_connections=args.in_flight)
    async with httpx.AsyncClient(base_url=args.base_url, headers=headers, limits=pool, timeout=10) as client:

        async def post(body: Any) -> None:
            response = await client.post("/events", content=json.dumps(body, separators=(",", ":")))
            response.raise_for_status()
            if response.content:
                response.json()  # a client reads its answers

        # Connections opened first, as the worker's are by the time it is measured.
        await asyncio.gather(*(post(body) for body in bodies[: args.in_flight]))
        meter, queue = Meter(), iter(bodies)

        async def lane() -> None:
            for body in queue:
                await post(body)

        meter.start()
        await asyncio.gather(*(lane() for _ in range(args.in_flight)))
    return meter.result("http", len(bodies))


def emit(result: dict[str, Any]) -> None:
    print(json.dumps(result), flush=True)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.limits", description=__doc__)
    sub = parser.add_subparsers(dest="limit", required=True)
    for name in ("kafka", "faust"):
        kafka = sub.add_parser(name)
        kafka.add_argument("--bootstrap", required=True)
        kafka.add_argument("--topic", required=True, help="input topic (3 partitions, created already)")
        kafka.add_argument("--out", required=True, help="output topic")
        kafka.add_argument("--count", type=int, required=True, help="records to consume")
        kafka.add_argument("--group", required=True, help="a consumer group of its own")
        kafka.add_argument("--timeout", type=float, default=120.0)
        if name == "faust":
            kafka.add_argument("--datadir", required=True)
            kafka.add_argument(
                "--linger-ms", type=float, default=PRODUCER_LINGER_S * 1000,
                help="producer linger (default: the worker's, streams/pipeline/faust_app.py)",
            )  # fmt: skip
    http = sub.add_parser("http")
    http.add_argument("--base-url", required=True)
    http.add_argument("--bodies", required=True, help="JSONL file: one POST /events body a line")
    http.add_argument("--in-flight", type=int, default=IN_FLIGHT)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.limit == "faust":
            faust_floor(args)
        elif args.limit == "kafka":
            emit(asyncio.run(kafka_loop(args)))
        else:
            bodies = [json.loads(line) for line in Path(args.bodies).read_text().splitlines() if line]
            emit(asyncio.run(http_client(args, bodies)))
    except LimitFailed as exc:
        emit({"limit": args.limit, "error": str(exc)})
        sys.exit(2)


def run(
    limit: str, *args: str, env: dict[str, str] | None = None, timeout_s: float = 240.0
) -> dict[str, Any]:
    """Run one limit in a process of its own; its JSON result, or LimitFailed with its output."""
    argv = [sys.executable, "-m", "tests.benchmarks.limits", limit, *args]
    done = subprocess.run(
        argv, cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout_s
    )
    result = last_json(done.stdout)
    if done.returncode != 0 or result is None or "error" in result:
        raise LimitFailed(
            f"the {limit} limit exited {done.returncode} with {result or 'no result'}\n"
            f"stdout:\n{done.stdout[-2000:]}\nstderr:\n{done.stderr[-4000:]}"
        )
    return result


def last_json(stdout: str) -> dict[str, Any] | None:
    for line in reversed(stdout.splitlines()):
        try:  # from the first brace: Faust's worker writes terminal control codes to stdout
            value = json.loads(line[line.find("{") :])
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


if __name__ == "__main__":
    main()
