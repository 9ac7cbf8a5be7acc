"""The ``intercom-stream`` command: worker, broker, emulator, publish, sandbox, topics, dlq."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from streams.errors import IntercomStreamError

if TYPE_CHECKING:
    from streams.deadletter.select import Selection
    from streams.settings import Settings

app = typer.Typer(
    help="Deliver Segment-spec events from Kafka to Intercom.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"intercom-stream {version('intercom-stream')}")
        raise typer.Exit()


@app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the installed version and exit."
        ),
    ] = False,
) -> None:
    """Deliver Segment-spec events from Kafka to Intercom."""


def _fail(error: Exception) -> None:
    typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


@app.command()
def worker(loglevel: Annotated[str, typer.Option(help="Log level.")] = "info") -> None:
    """Run the stream processor (production entry point); settings from INTERCOM_STREAM_* variables."""
    from streams.pipeline.worker import run_worker
    from streams.settings import load_settings

    try:
        run_worker(load_settings(), loglevel=loglevel)
    except IntercomStreamError as error:
        _fail(error)


@app.command()
def broker(
    port: Annotated[int | None, typer.Option(help="Broker port (default: a free one).")] = None,
) -> None:
    """Start the project's local Apache Kafka for development and run until interrupted."""
    from streams.localkafka import run_broker

    try:
        run_broker(port)
    except IntercomStreamError as error:
        _fail(error)


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}
)
def emulator(ctx: typer.Context) -> None:
    """Run the Intercom API emulator (--help for its options)."""
    from streams.emulator.cli import main as emulator_main

    raise typer.Exit(emulator_main(list(ctx.args)))


@app.command()
def publish(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="Events, one JSON object per line.")
    ],
    bootstrap: Annotated[
        str | None,
        typer.Option(help="Kafka bootstrap servers (default: INTERCOM_STREAM_BOOTSTRAP_SERVERS)."),
    ] = None,
    topic: Annotated[str, typer.Option(help="Topic to publish to.")] = "raw-events",
    schema: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="Avro (.avsc) or JSON Schema (.json): wire format."),
    ] = None,
    schema_registry: Annotated[
        str | None, typer.Option(help="Registry for --schema (default: INTERCOM_STREAM_SCHEMA_REGISTRY_URL).")
    ] = None,
) -> None:
    """Publish events from a JSONL file, keyed by userId (anonymousId when there is none).

    With --schema, as Confluent wire-format records (the schema registered under <topic>-value).
    TLS/SASL settings come from the INTERCOM_STREAM_* variables, as for the worker."""
    from streams.kafka_io import publish_lines, read_jsonl
    from streams.kafka_security import aiokafka_security, check_connection
    from streams.settings import load_settings

    try:
        settings = load_settings(**({"bootstrap_servers": bootstrap} if bootstrap else {}))
        asyncio.run(check_connection(settings))
        security = aiokafka_security(settings)
        if schema is not None:
            from streams.registry.produce import publish_schema_file

            count = asyncio.run(
                publish_schema_file(settings, topic, read_jsonl(file), schema, schema_registry)
            )
        else:
            count = asyncio.run(
                publish_lines(
                    settings.bootstrap_servers,
                    topic,
                    read_jsonl(file),
                    security=security,
                    on_problem=_warn_line,
                )
            )
    except IntercomStreamError as error:
        _fail(error)
    typer.echo(f"published {count} events to {topic} at {settings.bootstrap_servers}")


def _warn_line(number: int, problem: str) -> None:
    typer.echo(f"line {number}: {problem} (published as it is: the worker dead-letters it)", err=True)


@app.command()
def unsuppress(
    user_id: Annotated[str, typer.Argument(help="The userId whose deletion suppression to lift.")],
    bootstrap: Annotated[
        str | None,
        typer.Option(help="Kafka bootstrap servers (default: INTERCOM_STREAM_BOOTSTRAP_SERVERS)."),
    ] = None,
) -> None:
    """Lift the suppression a deletion put on a user, so their later events reach Intercom again.

    Publishes the control record the worker understands to the input topic, keyed by the user."""
    import json

    from streams.kafka_io import publish_lines
    from streams.kafka_security import aiokafka_security, check_connection
    from streams.settings import load_settings

    record = {"type": "delete", "userId": user_id, "context": {"intercom_stream": {"unsuppress": True}}}
    try:
        settings = load_settings(**({"bootstrap_servers": bootstrap} if bootstrap else {}))
        asyncio.run(check_connection(settings))
        asyncio.run(
            publish_lines(
                settings.bootstrap_servers,
                settings.raw_events_topic,
                [json.dumps(record)],
                security=aiokafka_security(settings),
            )
        )
    except IntercomStreamError as error:
        _fail(error)
    typer.echo(f"asked the worker to lift the suppression of {user_id!r} (via {settings.raw_events_topic})")


topics_app = typer.Typer(help="Manage the worker's Kafka topics.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")


@topics_app.command("create")
def topics_create() -> None:
    """Create missing topics and check co-partitioning, then exit (the Helm chart's topics Job)."""
    import logging

    from streams.pipeline.topics import ensure_topics
    from streams.settings import load_settings

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings(create_topics=True)
        counts = asyncio.run(ensure_topics(settings))
    except IntercomStreamError as error:
        _fail(error)
    for name, count in counts.items():
        typer.echo(f"{name}: {count} partitions")


dlq_app = typer.Typer(
    help="Browse the dead-letter topic and replay records to the input topic (settings from "
    "INTERCOM_STREAM_*: dead_letter_topic, raw_events_topic, bootstrap and TLS/SASL).",
    no_args_is_help=True,
)
app.add_typer(dlq_app, name="dlq")

BootstrapOption = Annotated[
    str | None, typer.Option(help="Kafka bootstrap servers (default: INTERCOM_STREAM_BOOTSTRAP_SERVERS).")
]
ReasonOption = Annotated[
    list[str] | None, typer.Option("--reason", help="Only this reason code (repeat or comma-separate).")
]
SinceOption = Annotated[
    str | None,
    typer.Option(help="Dead-lettered at or after: ISO 8601 (UTC if no zone) or a duration ago (2h)."),
]
UntilOption = Annotated[str | None, typer.Option(help="Dead-lettered before: ISO 8601 or a duration ago.")]


def _kafka(bootstrap: str | None) -> tuple[Settings, dict[str, Any]]:
    """Settings from the environment and the aiokafka TLS/SASL options, after one connection check."""
    from streams.kafka_security import aiokafka_security, check_connection
    from streams.settings import load_settings

    settings = load_settings(**({"bootstrap_servers": bootstrap} if bootstrap else {}))
    asyncio.run(check_connection(settings))
    return settings, aiokafka_security(settings)


def _selection(
    reason: list[str] | None, since: str | None, until: str | None, offsets: str | None = None
) -> Selection:
    import time

    from streams.deadletter.select import Selection, parse_positions, parse_reasons, parse_time

    now_ms = int(time.time() * 1000)
    return Selection(
        reasons=parse_reasons(reason),
        since_ms=None if since is None else parse_time(since, now_ms),
        until_ms=None if until is None else parse_time(until, now_ms),
        positions=frozenset() if offsets is None else parse_positions(offsets),
    )


@dlq_app.command("list")
def dlq_list(
    reason: ReasonOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    limit: Annotated[int, typer.Option(min=1, help="Show the latest N matching records.")] = 50,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document instead.")] = False,
    bootstrap: BootstrapOption = None,
) -> None:
    """List dead letters (partition:offset, time, reason, user, event type, message) and counts per reason."""
    from rich.console import Console

    from streams.deadletter.render import list_json, print_list
    from streams.deadletter.tool import list_letters

    try:
        selection = _selection(reason, since, until)
        settings, security = _kafka(bootstrap)
        listing = asyncio.run(list_letters(settings, security, selection, limit))
    except IntercomStreamError as error:
        _fail(error)
    if json_output:
        typer.echo(list_json(listing.shown, listing.counts, listing.matched, listing.total))
    else:
        print_list(
            Console(),
            settings.dead_letter_topic,
            listing.shown,
            listing.counts,
            listing.matched,
            listing.total,
        )


@dlq_app.command("show")
def dlq_show(
    position: Annotated[str, typer.Argument(metavar="PARTITION:OFFSET", help="As `dlq list` shows it.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document instead.")] = False,
    bootstrap: BootstrapOption = None,
) -> None:
    """Show one dead letter in full: every field, the original event, Intercom's answer, the headers."""
    import json

    from rich.console import Console

    from streams.deadletter.render import full_json, print_letter
    from streams.deadletter.select import SelectionError, parse_positions
    from streams.deadletter.tool import show_letter
    from streams.deadletter.wire import decode_original

    try:
        positions = parse_positions(position)
        if len(positions) != 1:
            raise SelectionError("give one PARTITION:OFFSET")
        ((partition, offset),) = positions
        settings, security = _kafka(bootstrap)
        letter = asyncio.run(show_letter(settings, security, partition, offset))
        decoded = asyncio.run(decode_original(settings, letter))  # wire format through the registry
    except IntercomStreamError as error:
        _fail(error)
    if json_output:
        typer.echo(
            json.dumps({**full_json(letter), "original_decoded": decoded}, indent=2, ensure_ascii=False)
        )
    else:
        print_letter(Console(), letter)
        if decoded is not None:
            Console().rule("original_value decoded through the schema registry", align="left")
            typer.echo(
                decoded if isinstance(decoded, str) else json.dumps(decoded, indent=2, ensure_ascii=False)
            )


@dlq_app.command("replay")
def dlq_replay(
    reason: ReasonOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    offsets: Annotated[
        str | None, typer.Option(help="Only these records: PARTITION:OFFSET,... as `dlq list` shows them.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be replayed; send nothing.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    bootstrap: BootstrapOption = None,
) -> None:
    """Re-publish the selected dead letters' original events to the input topic.

    Keyed by user and marked with an intercom-stream-replay-of header. Fix the cause first; replay each
    record once (a replayed track is a new Intercom event)."""
    from rich.console import Console

    from streams.deadletter.render import print_list
    from streams.deadletter.tool import plan_replay, publish_replays

    try:
        selection = _selection(reason, since, until, offsets)
        settings, security = _kafka(bootstrap)
        plan = asyncio.run(plan_replay(settings, security, selection))
    except IntercomStreamError as error:
        _fail(error)
    source, target = settings.dead_letter_topic, settings.raw_events_topic
    for letter in plan.skipped:
        typer.secho(f"skipped {letter.position}: not a dead-letter record ({letter.problem})", err=True)
    if not plan.replays:
        typer.echo(f"no dead letters in {source} match: nothing to replay")
        return
    if dry_run or not yes:
        letters = [r.letter for r in plan.replays]
        print_list(Console(), source, letters, plan.planned, len(letters), len(letters))
    if dry_run:
        typer.echo(f"dry run: would replay {len(plan.replays)} records to {target}; nothing sent")
        return
    if not yes:
        typer.confirm(f"Replay these {len(plan.replays)} records to {target}?", abort=True)
    try:
        published = asyncio.run(publish_replays(settings, security, plan.replays))
    except IntercomStreamError as error:
        _fail(error)
    typer.echo(f"replayed {sum(published.values())} records from {source} to {target}:")
    for name, count in published.items():
        typer.echo(f"  {name}: {count}")


@app.command()
def sandbox(
    events: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="JSONL events to send.")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document instead.")] = False,
    schema: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="Also start a schema registry; send as wire format."),
    ] = None,
) -> None:
    """Broker + emulator + worker + events: show what reaches Intercom, then stop everything.

    With --schema (e.g. schemas/raw_event.avsc) a local Apicurio Registry starts too and the events go
    out in the Confluent wire format."""
    from streams.sandbox import run_sandbox

    try:
        sys.exit(run_sandbox(events, json_output=json_output, schema=schema))
    except IntercomStreamError as error:
        _fail(error)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
