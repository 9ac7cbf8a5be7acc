"""The ``intercom-stream`` command: worker, broker, emulator, publish, sandbox."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer

from streams.errors import IntercomStreamError

app = typer.Typer(
    help="Deliver Segment-spec events from Kafka to Intercom.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


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
) -> None:
    """Publish events from a JSONL file, keyed by userId (anonymousId when there is none).

    TLS/SASL settings come from the INTERCOM_STREAM_* variables, as for the worker."""
    from streams.kafka_io import publish_lines, read_jsonl
    from streams.kafka_security import aiokafka_security, check_connection
    from streams.settings import load_settings

    try:
        settings = load_settings(**({"bootstrap_servers": bootstrap} if bootstrap else {}))
        asyncio.run(check_connection(settings))
        security = aiokafka_security(settings)
        count = asyncio.run(
            publish_lines(settings.bootstrap_servers, topic, read_jsonl(file), security=security)
        )
    except IntercomStreamError as error:
        _fail(error)
    typer.echo(f"published {count} events to {topic} at {settings.bootstrap_servers}")


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


@app.command()
def sandbox(
    events: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="JSONL events to send.")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document instead.")] = False,
) -> None:
    """Broker + emulator + worker + events: show what reaches Intercom, then stop everything."""
    from streams.sandbox import run_sandbox

    try:
        sys.exit(run_sandbox(events, json_output=json_output))
    except IntercomStreamError as error:
        _fail(error)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
