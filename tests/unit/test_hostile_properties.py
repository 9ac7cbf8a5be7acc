"""Property: any input record, however hostile, goes decode → plan → delivery record → Intercom request
without a crash, and nothing that leaves the worker is anything but strict JSON.

Records are arbitrary JSON (hostile floats, huge and endless numbers, unicode, deep nesting, a BOM,
capitalised types, non-objects) around a Segment-like envelope. The plans run through the real
executor and Intercom client against the in-process emulator; every request body is captured on the
wire. Only the project's own errors (``IntercomStreamError``) may come out.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from streams.deadletter.records import SourceRecord, dead_letter_for_input, dead_letter_for_report
from streams.delivery import Executor
from streams.delivery.retry import RetryPolicy
from streams.emulator.app import create_app
from streams.emulator.config import EmulatorConfig
from streams.errors import IntercomStreamError, InvalidEventError
from streams.events import decode_raw_event, parse_event
from streams.intercom.client import IntercomClient
from streams.mapping import Operation, Plan, Report, plan_event
from streams.pipeline.requests import DeliveryRequest
from streams.records import codec_for

TOKEN = "prop-token"
SOURCE = SourceRecord("raw-events", 0, 1, b"k", b"{}", 1)
NO_RETRIES = RetryPolicy(max_attempts=1, base_delay_s=0.001, max_delay_s=0.001)
DELIVERY = codec_for("delivery_request")
DEAD_LETTER = codec_for("dead_letter")

# Number literals spliced into the JSON text as they are: json.dumps cannot write most of them.
LITERALS = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "9" * 400, "8" * 5000, "1e-400", "-0.0",
            "1.7976931348623157e308", "-1e308", "1e306", str(2**63), "1714557600000"]  # fmt: skip


def strict(text: str | bytes) -> Any:
    def refuse(literal: str) -> Any:
        raise AssertionError(f"non-strict JSON on the way out: {literal}")

    return json.loads(text, parse_constant=refuse)


DEEP = "@@deep@@"


def _placeholder(index: int) -> str:
    return f"@@literal{index}@@"


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),  # any unicode, surrogates excluded by hypothesis' default alphabet
    st.sampled_from(range(len(LITERALS))).map(_placeholder),
    st.sampled_from(["2024-05-01T10:00:00Z", "1714557600000", "inf", "nan", "", " ", "a@b"]),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)
field_names = st.sampled_from(
    ["email", "name", "plan", "createdAt", "company", "companies", "revenue", "currency", "total",
     "price", "phone", "owner_id", "lastSeenAt", "tags", "id", "remove", "firstName", "x_date", "url"]
)  # fmt: skip
objects = st.dictionaries(st.one_of(field_names, st.text(max_size=10)), json_values, max_size=8)


def mostly(usual: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``usual`` seven times in eight, else any JSON value: most events get past the envelope checks."""
    return st.integers(0, 7).flatmap(lambda n: json_values if n == 0 else usual)


ids = st.one_of(st.text(min_size=1, max_size=12), st.integers(min_value=-(2**70), max_value=2**70))
events = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            [
                "identify",
                "identify",
                "track",
                "track",
                "group",
                "page",
                "alias",
                "delete",
                "Identify",
                "TRACK",
                "purchase",
            ]
        ),
        "userId": mostly(ids),
        "timestamp": mostly(st.sampled_from(["2024-05-01T10:00:00Z", 1714557600123, 1714557600])),
        "event": mostly(st.text(min_size=1, max_size=20)),
        "traits": mostly(objects),
        "properties": mostly(objects),
    },
    optional={
        "anonymousId": mostly(ids),
        "previousId": mostly(ids),
        "groupId": mostly(ids),
        "messageId": st.text(max_size=8),
        "context": mostly(st.fixed_dictionaries({}, optional={"traits": objects, "active": json_values})),
        "integrations": mostly(st.fixed_dictionaries({}, optional={"Intercom": json_values})),
    },
)


@st.composite
def records(draw: st.DrawFn) -> bytes:
    """One input record: an event (or any JSON value), with literals spliced in, maybe nested deep
    somewhere, maybe behind a BOM."""
    value: Any = draw(mostly(events))
    depth = draw(st.sampled_from([0, 0, 0, 30, 63, 64, 65, 3000]))
    inner = "null"
    if depth and isinstance(value, dict):
        inner = json.dumps(value.get("traits"))
        value["traits"] = DEEP
    text = json.dumps(value, ensure_ascii=draw(st.booleans()))
    text = text.replace(json.dumps(DEEP), '{"d": ' * depth + inner + "}" * depth)
    for index, literal in enumerate(LITERALS):
        text = text.replace(json.dumps(_placeholder(index)), literal)
    data = text.encode("utf-8")
    return b"\xef\xbb\xbf" + data if draw(st.integers(0, 3)) == 0 else data


class WireRecorder(httpx.AsyncBaseTransport):
    """Passes every request to the emulator, after checking its body is strict JSON."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.bodies: list[bytes] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        if body:
            self.bodies.append(body)
            strict(body)
        return await self.inner.handle_async_request(request)


def round_trip(plan: Plan, raw: dict[str, Any]) -> list[Plan]:
    """The plan (and its related plans) as the sink gets them: through the delivery topic's codec."""
    out = []
    for part in (plan, *plan.related):
        request = DELIVERY.decode(DELIVERY.encode(DeliveryRequest.planned(part, raw, SOURCE).to_record()))
        strict(request["event"])
        for op in request["operations"]:
            strict(op["body"])
        for text in request["reports"]:
            strict(text)
        reports = tuple(Report.from_json(text) for text in request["reports"])
        operations = tuple(Operation.from_record(op) for op in request["operations"])
        out.append(Plan(request["user_key"], request["event_type"], operations, reports))
    return out


async def deliver(plans: list[Plan]) -> WireRecorder:
    app = create_app(EmulatorConfig(tokens=[TOKEN], rate_limit=0, auto_create_attributes=True))
    wire = WireRecorder(httpx.ASGITransport(app=app))
    client = IntercomClient("http://emulator", TOKEN, "2.10", transport=wire, adapt_to_rate_headers=False)
    executor = Executor(client.request, {}, {}, NO_RETRIES)
    try:
        for plan in plans:
            try:
                reports = (await executor.execute(plan)).reports
            except IntercomStreamError:  # refused by Intercom, pending contact: the project's own
                continue
            for report in reports:
                strict(
                    DEAD_LETTER.decode(DEAD_LETTER.encode(dead_letter_for_report(SOURCE, report, "u", "t")))[
                        "details"
                    ]
                )
    finally:
        await client.aclose()
    return wire


def check(record: bytes) -> None:
    """The property, for one record."""
    try:
        raw = decode_raw_event(record)
        plan = plan_event(parse_event(raw))
    except InvalidEventError as error:  # dead-lettered at intake, with its reason
        DEAD_LETTER.encode(dead_letter_for_input(SOURCE, error))
        event(f"intake: {error.reason}")
        return
    wire = asyncio.run(deliver(round_trip(plan, raw)))
    event(f"planned {plan.event_type}: {'filtered' if plan.filtered else 'sent'}")
    event(f"bodies on the wire: {min(len(wire.bodies), 3)}+")
    if any(report.reason == "invalid_numbers" for report in plan.reports):
        event("numbers dropped and delivered")


PROPERTY = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@PROPERTY
@given(record=records())
def test_any_record_ends_in_strict_json_or_a_project_error(record: bytes) -> None:
    check(record)


# Where the mapping does arithmetic on a number: money, timestamps, counts, ids.
NUMERIC_FIELDS = {
    "track": ["properties.revenue", "properties.total", "properties.price", "properties.x_date", "timestamp"],
    "identify": ["traits.createdAt", "traits.lastSeenAt", "traits.owner_id", "userId", "traits.score"],
    "group": ["traits.employees", "traits.monthlySpend", "traits.createdAt", "groupId"],
}
numbers = st.one_of(
    st.sampled_from(LITERALS),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers(min_value=-(10**320), max_value=10**320).map(str),
)


@st.composite
def numeric_records(draw: st.DrawFn) -> bytes:
    """A deliverable event whose numeric fields hold extreme numbers, as literal JSON text."""
    kind = draw(st.sampled_from(sorted(NUMERIC_FIELDS)))
    paths = draw(st.lists(st.sampled_from(NUMERIC_FIELDS[kind]), min_size=1, unique=True))
    value: dict[str, Any] = {
        "type": kind, "userId": "u1", "groupId": "g1", "event": "Bought", "timestamp": "2024-05-01T10:00:00Z",
        "traits": {"name": "n"}, "properties": {"currency": draw(st.sampled_from(["EUR", "usd"]))},
    }  # fmt: skip
    literals = {}
    for index, path in enumerate(paths):
        *parents, name = path.split(".")
        target = value
        for parent in parents:
            target = target[parent]
        target[name] = _placeholder(100 + index)
        literals[json.dumps(_placeholder(100 + index))] = draw(numbers)
    text = json.dumps(value)
    for placeholder, literal in literals.items():
        text = text.replace(placeholder, literal)
    return text.encode()


@PROPERTY
@given(record=numeric_records())
def test_extreme_numbers_where_the_mapping_computes(record: bytes) -> None:
    check(record)
