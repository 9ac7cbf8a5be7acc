"""How ``intercom-stream dlq`` prints dead letters: rich tables for people, JSON for scripts."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from streams.deadletter.select import Letter

SHORT_MESSAGE = 80


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _text(value: bytes | None) -> str | None:
    """Bytes as UTF-8 text, or ``base64:...`` when they are not text (say, an Avro input)."""
    if value is None:
        return None
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(value).decode("ascii")


def short(message: str, width: int = SHORT_MESSAGE) -> str:
    line = " ".join(message.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def summary_json(letter: Letter) -> dict[str, Any]:
    record = letter.record or {}
    return {
        "position": letter.position,
        "partition": letter.partition,
        "offset": letter.offset,
        "time": iso(letter.failed_at_ms),
        "reason": letter.reason,
        "user": letter.user,
        "event_type": record.get("event_type"),
        "message": record.get("message", letter.problem),
    }


def full_json(letter: Letter) -> dict[str, Any]:
    """Everything: the decoded record (bytes as text), the Kafka coordinates, key and headers."""
    source = letter.record or {}
    record: dict[str, Any] = {
        name: _text(value) if isinstance(value, bytes) else value for name, value in source.items()
    }
    for name in ("first_seen_at_ms", "failed_at_ms", "first_attempt_at_ms", "last_attempt_at_ms"):
        if name in source:  # the same moment, readable
            record[name.removesuffix("_ms")] = iso(source[name])
    return {
        "topic": letter.topic,
        "partition": letter.partition,
        "offset": letter.offset,
        "timestamp": iso(letter.timestamp_ms),
        "key": _text(letter.key),
        "headers": [[name, _text(value)] for name, value in letter.headers],
        "record": record if letter.record is not None else None,
        "problem": letter.problem,
    }


def list_json(shown: Sequence[Letter], counts: Mapping[str, int], matched: int, total: int) -> str:
    return json.dumps(
        {
            "records": [summary_json(letter) for letter in shown],
            "matched": matched,
            "total": total,
            "by_reason": dict(counts),
        },
        indent=2,
    )


def print_list(
    console: Console, topic: str, shown: Sequence[Letter], counts: Mapping[str, int], matched: int, total: int
) -> None:
    rows = [summary_json(letter) for letter in shown]
    for row in rows:
        row["time"] = (row["time"] or "").replace("T", " ")[:19]
    columns = {
        "p:offset": "position", "time (UTC)": "time", "reason": "reason",
        "user": "user", "event": "event_type",
    }  # fmt: skip
    widths = {
        name: max([len(name), *(len(str(row[key] or "")) for row in rows)]) for name, key in columns.items()
    }
    # The identifying columns keep their width; the message gets the rest of the line (cut with …).
    message_width = max(10, console.width - sum(widths.values()) - 3 * (len(widths) + 1) - 1)
    table = Table(title_justify="left")
    for name, width in widths.items():
        table.add_column(name, no_wrap=True, min_width=width)
    table.add_column("message", no_wrap=True)
    table.title = f"{topic}: {matched} of {total} records match" + (
        f", showing the latest {len(shown)}" if len(shown) < matched else ""
    )
    for row in rows:
        table.add_row(
            *(str(row[key] or "") for key in columns.values()), short(row["message"] or "", message_width)
        )
    console.print(table)
    by_reason = Table("reason", "count", title="By reason", title_justify="left")
    for reason, count in counts.items():
        by_reason.add_row(reason, str(count))
    console.print(by_reason)


def _pretty(text: str | None) -> str:
    """JSON text indented, anything else as it is."""
    if text is None:
        return ""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):  # RecursionError: a too_deep record, shown as it is
        return text


def print_letter(console: Console, letter: Letter) -> None:
    data = full_json(letter)
    fields = Table("field", "value", show_header=False, title=f"{letter.topic} {letter.position}")
    fields.add_row("kafka timestamp", data["timestamp"])
    fields.add_row("key", data["key"] or "")
    if letter.problem:
        fields.add_row("problem", letter.problem)
    long_fields = ("message", "original_value", "intercom_error", "intercom_request", "details")
    for name, value in (data["record"] or {}).items():
        if name in long_fields or value is None or name.endswith("_ms"):  # times: the ISO copies
            continue
        fields.add_row(name, str(value))
    console.print(fields)
    record = data["record"] or {}
    for name in long_fields:
        if record.get(name):
            console.rule(name, align="left")
            console.print(_pretty(record[name]), markup=False, highlight=False)
    headers = Table("header", "value", title="Headers", title_justify="left")
    for name, value in data["headers"]:
        headers.add_row(name, value or "")
    console.print(headers if letter.headers else "(no headers)")
