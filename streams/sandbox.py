"""``intercom-stream sandbox``: a real broker, the emulator and a worker; publish events; show what happened.

No fixed sleeps: it waits until the worker's consumer group has committed every record of the input,
re-key and delivery topics, i.e. every event has been delivered or dead-lettered. Every wait watches
the broker, the emulator and the worker: when one dies, or the worker stops making progress, the
sandbox stops at once and says which, with its exit code and the last lines of its log.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from contextlib import ExitStack
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table

from streams.emulator_admin import EmulatorAdmin
from streams.errors import IntercomStreamError
from streams.kafka_io import group_lag, publish_lines, read_all, read_jsonl, wait_for_topics
from streams.localkafka import LocalKafka
from streams.processes import settings_from_env, start_emulator, start_worker, worker_env
from streams.records import codec_for
from streams.registry.local import LocalRegistry
from streams.registry.produce import publish_with_schema
from streams.settings import Settings
from streams.watchdog import StallClock, Watched, guarded, stalled

SANDBOX_TOKEN = "sandbox-token"
# The workspace the sandbox pretends to be: custom attributes defined, as in a real Intercom workspace.
SANDBOX_ATTRIBUTES = [("plan", "string", "contact"), ("tier", "string", "company")]
DRAIN_TIMEOUT_S = 60.0
# No change in the lags for this long means the worker is stuck (it commits every 0.5 s here).
STALL_S = 30.0


class DrainStalled(IntercomStreamError):
    """The published events were not all processed: no progress for a while, or out of time."""


def sample_events() -> Path:
    return Path(str(resources.files("streams.samples").joinpath("events.jsonl")))


async def wait_until_drained(
    settings: Settings, total: int, progress: Progress | None = None, *, stall_s: float | None = None
) -> float:
    """Wait until every published event is processed; returns seconds taken.

    DrainStalled after DRAIN_TIMEOUT_S, or when the lags stop changing for ``stall_s`` (None: never;
    tests that pause the worker on purpose wait the whole time-out)."""
    started = time.monotonic()
    task = progress.add_task("processed", total=total) if progress else None
    inputs = [settings.raw_events_topic, settings.rekey_topic]
    quiet_rounds = 0
    clock = StallClock(DRAIN_TIMEOUT_S if stall_s is None else stall_s)
    input_lag: int | None = None
    delivery_lag: int | None = None
    while time.monotonic() - started < DRAIN_TIMEOUT_S:
        input_lag = await group_lag(settings.bootstrap_servers, settings.app_id, inputs)
        delivery_lag = await group_lag(settings.bootstrap_servers, settings.app_id, [settings.delivery_topic])
        if progress is not None and task is not None:
            raw_lag = await group_lag(
                settings.bootstrap_servers, settings.app_id, [settings.raw_events_topic]
            )
            progress.update(task, completed=total - (total if raw_lag is None else raw_lag))
        quiet_rounds = quiet_rounds + 1 if input_lag == 0 and delivery_lag == 0 else 0
        if quiet_rounds >= 2:
            return time.monotonic() - started
        snapshot = None if input_lag is None or delivery_lag is None else (input_lag, delivery_lag)
        if clock.observe(snapshot):
            raise DrainStalled(
                f"made no progress for {clock.stall_s:.0f}s ({_left(input_lag, delivery_lag)})"
            )
        await asyncio.sleep(0.5)
    raise DrainStalled(
        f"did not process every event within {DRAIN_TIMEOUT_S:.0f}s ({_left(input_lag, delivery_lag)})"
    )


def _left(input_lag: int | None, delivery_lag: int | None) -> str:
    if input_lag is None or delivery_lag is None:
        return "its consumer group has committed nothing yet"
    return f"{input_lag} input and {delivery_lag} delivery records not yet processed"


def decode_dead_letters(records: list[Any]) -> list[dict[str, Any]]:
    codec = codec_for("dead_letter")
    out = []
    for record in records:
        letter = codec.decode(record.value)
        letter["original_value"] = letter["original_value"].decode("utf-8", errors="replace")
        letter["original_key"] = (
            None
            if letter["original_key"] is None
            else letter["original_key"].decode("utf-8", errors="replace")
        )
        out.append(letter)
    return out


async def settle_parked(settings: Settings, total: int, hold_s: float, stall_s: float) -> None:
    """After the input is drained: parked work ends ``hold_s`` later (delivered or dead-lettered, by a
    tick through the delivery topic); wait that long, then until that is processed too."""
    await asyncio.sleep(hold_s + 2)
    await wait_until_drained(settings, total, None, stall_s=stall_s)


# How long the sandbox's worker parks work whose contact is unknown (the production default is 30 s).
SANDBOX_HOLD_S = 5.0


def run_sandbox(events: Path | None, *, json_output: bool = False, schema: Path | None = None) -> int:
    console = Console(stderr=True)
    lines = read_jsonl(events or sample_events())
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="intercom-stream-sandbox-")))
        console.print("[bold]starting Apache Kafka[/] (first run downloads it with Maven)…")
        kafka = stack.enter_context(LocalKafka())
        emulator, base_url = start_emulator(workdir / "emulator.log", token=SANDBOX_TOKEN)
        stack.callback(emulator.stop)
        admin = EmulatorAdmin(base_url, SANDBOX_TOKEN)
        for name, data_type, model in SANDBOX_ATTRIBUTES:
            admin.create_attribute(name, data_type, model)
        registry = stack.enter_context(LocalRegistry(workdir / "registry.log")) if schema else None
        watched: list[Watched] = [kafka, emulator]
        setup_calls = len(admin.requests())
        env = worker_env(
            kafka.bootstrap, base_url, SANDBOX_TOKEN, workdir / "data", app_id="intercom-stream-sandbox",
            unknown_user_hold_s=str(SANDBOX_HOLD_S),
            **({"schema_registry_url": registry.url} if registry else {}),
        )  # fmt: skip
        settings = settings_from_env(env)
        worker = start_worker(workdir / "worker.log", env)
        stack.callback(worker.stop)
        watched.append(worker)
        console.print(f"broker {kafka.bootstrap} · emulator {base_url} · worker pid {worker.process.pid}")
        started = time.monotonic()
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            console=console,
            transient=True,
        ) as progress:
            asyncio.run(guarded(wait_for_topics(kafka.bootstrap, [settings.raw_events_topic]), watched))
            publish = (  # with --schema: Confluent wire format through the sandbox's own registry
                publish_with_schema(registry.url, kafka.bootstrap, settings.raw_events_topic, lines, schema)
                if registry and schema
                else publish_lines(
                    kafka.bootstrap, settings.raw_events_topic, lines, on_problem=partial(_warn_line, console)
                )
            )
            asyncio.run(guarded(publish, watched))
            progress.add_task("published", total=len(lines), completed=len(lines))
            try:
                drained = wait_until_drained(settings, len(lines), progress, stall_s=STALL_S)
                asyncio.run(guarded(drained, watched))
            except DrainStalled as error:
                raise stalled(worker, str(error)) from None
        # Work parked for users not identified (yet) ends after the hold: wait, so the report shows it.
        console.print(f"waiting {SANDBOX_HOLD_S + 2:g}s for parked work (users not identified yet)…")
        try:
            asyncio.run(guarded(settle_parked(settings, len(lines), SANDBOX_HOLD_S, STALL_S), watched))
        except DrainStalled as error:
            raise stalled(worker, str(error)) from None
        elapsed = time.monotonic() - started
        calls = admin.requests()[setup_calls:]
        state = admin.state()
        dead_letters = decode_dead_letters(asyncio.run(read_all(kafka.bootstrap, settings.dead_letter_topic)))
        if json_output:
            print(
                json.dumps(
                    {"calls": calls, "dead_letters": dead_letters, "state": _public_state(state)},
                    indent=2,
                    default=str,
                )
            )
        else:
            _print_report(Console(), len(lines), elapsed, calls, state, dead_letters)
    return 0


def _warn_line(console: Console, number: int, problem: str) -> None:
    message = f"line {number}: {problem} (published as it is: the worker dead-letters it)"
    console.print(message, markup=False, highlight=False, soft_wrap=True)


def _public_state(state: dict[str, Any]) -> dict[str, Any]:
    return {key: state.get(key, []) for key in ("contacts", "companies", "events", "tags")}


def _print_report(
    console: Console,
    published: int,
    elapsed: float,
    calls: list[dict[str, Any]],
    state: dict[str, Any],
    dead_letters: list[dict[str, Any]],
) -> None:
    console.rule(
        f"{published} events → {len(calls)} Intercom calls, {len(dead_letters)} dead letters, {elapsed:.1f}s"
    )
    table = Table("#", "call", "status", "body", title="Calls that reached Intercom", title_justify="left")
    for number, call in enumerate(calls, 1):
        body = json.dumps(call.get("request_body"), separators=(",", ":")) if call.get("request_body") else ""
        table.add_row(str(number), f"{call['method']} {call['path']}", str(call["status"]), body[:90])
    console.print(table)
    contacts = Table(
        "id",
        "role",
        "external_id",
        "email",
        "name",
        "custom_attributes",
        title="Contacts",
        title_justify="left",
    )
    for c in state.get("contacts", []):
        contacts.add_row(
            c["id"],
            c.get("role", ""),
            str(c.get("external_id")),
            str(c.get("email")),
            str(c.get("name")),
            json.dumps(c.get("custom_attributes", {})),
        )
    console.print(contacts)
    companies = Table(
        "id", "company_id", "name", "user_count", "custom_attributes", title="Companies", title_justify="left"
    )
    for c in state.get("companies", []):
        companies.add_row(
            c["id"],
            str(c.get("company_id")),
            str(c.get("name")),
            str(c.get("user_count")),
            json.dumps(c.get("custom_attributes", {})),
        )
    console.print(companies)
    events = Table("event_name", "user_id", "created_at", "metadata", title="Events", title_justify="left")
    for e in state.get("events", []):
        events.add_row(
            str(e.get("event_name")),
            str(e.get("user_id")),
            str(e.get("created_at")),
            json.dumps(e.get("metadata", {}))[:80],
        )
    console.print(events)
    console.print(f"Tags: {', '.join(t.get('name', '') for t in state.get('tags', [])) or 'none'}")
    letters = Table("source", "reason", "message", title="Dead letters", title_justify="left")
    for d in dead_letters:
        letters.add_row(
            f"{d['source_topic']}/{d['source_partition']}@{d['source_offset']}",
            d["reason"],
            d["message"][:120],
        )
    console.print(letters)
