"""Call economy: Intercom calls per event for a fixed workload, ours against RudderStack's flow.

Workload: 100 users, each: identify, 10 tracks, 2 groups (10 shared companies, one tag each), and a
repeated identify with the same traits. The events go through the real mapping and executor against
the in-process emulator (no rate limit), exactly as the sink performs them, with tables that persist.

RudderStack's count for the same events (reference/rudderstack-intercom.md §5, INTERCOM v2):
identify = search + write (2), group = search + company + attach + 1 POST /tags per tag (3 + N),
track = 1.
"""

from __future__ import annotations

from collections import Counter
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
from tests.benchmarks.workloads import TAGS, user_story

pytestmark = pytest.mark.bench

TOKEN = "bench-token"
USERS = 100
TRACKS = 10
RUDDERSTACK_COST = {"identify": 2, "track": 1, "group": 3 + len(TAGS)}


def workload() -> list[dict[str, Any]]:
    """Each user's story in turn (the order within a user is what the call count depends on)."""
    return [event for i in range(USERS) for event in user_story(f"user-{i:03d}", i, TRACKS)]


async def test_call_economy_beats_the_rudderstack_flow() -> None:
    app = create_app(EmulatorConfig(tokens=[TOKEN], rate_limit=0))
    client = IntercomClient("http://emulator", TOKEN, "2.10", transport=httpx.ASGITransport(app=app))
    await client.request(
        "POST", "/data_attributes", {"name": "plan", "model": "contact", "data_type": "string"}
    )
    await client.request(
        "POST", "/data_attributes", {"name": "tier", "model": "company", "data_type": "string"}
    )

    ours: Counter[str] = Counter()
    events_by_type: Counter[str] = Counter()
    rudderstack: Counter[str] = Counter()
    routes: Counter[str] = Counter()
    current = {"type": "", "new_user": False}
    seen: set[str] = set()
    new_identify_calls = 0

    async def call(method: str, path: str, body: Any) -> Any:
        nonlocal new_identify_calls
        ours[current["type"]] += 1
        # A new user's identify: its contact calls (the workspace's one-off attribute listing aside).
        if current["new_user"] and not path.startswith("/data_attributes"):
            new_identify_calls += 1
        routes[f"{method} {path.split('/')[1].split('?')[0]}"] += 1
        return await client.request(method, path, body)

    contacts: dict[str, Any] = {}
    companies: dict[str, Any] = {}
    workspace: dict[str, Any] = {}
    skipped = 0
    for raw in workload():
        plan = plan_event(parse_event(raw))
        current["type"] = plan.event_type
        current["new_user"] = plan.event_type == "identify" and plan.user_key not in seen
        seen.add(plan.user_key)
        events_by_type[plan.event_type] += 1
        rudderstack[plan.event_type] += RUDDERSTACK_COST[plan.event_type]
        executor = Executor(call, contacts, companies, RetryPolicy(max_attempts=1), workspace=workspace)
        delivered = await executor.execute(plan)
        assert delivered.reports == ()
        skipped += executor.skipped
    await client.aclose()

    total_events = sum(events_by_type.values())
    print()
    print(f"call economy: {total_events} events ({USERS} users), Intercom calls")
    print(f"{'event':<10}{'events':>8}{'ours':>8}{'per event':>11}{'rudderstack':>13}{'per event':>11}")
    for kind in ("identify", "track", "group"):
        n = events_by_type[kind]
        print(
            f"{kind:<10}{n:>8}{ours[kind]:>8}{ours[kind] / n:>11.2f}"
            f"{rudderstack[kind]:>13}{rudderstack[kind] / n:>11.2f}"
        )
    total_ours, total_theirs = sum(ours.values()), sum(rudderstack.values())
    print(
        f"{'total':<10}{total_events:>8}{total_ours:>8}{total_ours / total_events:>11.2f}"
        f"{total_theirs:>13}{total_theirs / total_events:>11.2f}"
    )
    print(f"writes skipped as unchanged: {skipped}; calls by route: {dict(sorted(routes.items()))}")
    print(f"a new user's identify: {new_identify_calls / USERS:.2f} calls (RudderStack's flow: 2)")
    # Deterministic (same calls every run): one run is the median.
    report.record(
        "calls per event (workload)",
        "calls/event",
        [total_ours / total_events],
        goal_max=total_theirs / total_events,
        reference=total_theirs / total_events,
        compare="of RudderStack's",
        note=f"{total_events} events, {USERS} users: {total_ours} calls vs RudderStack's {total_theirs}",
    )
    report.record(
        "calls of a new user's identify",
        "calls",
        [new_identify_calls / USERS],
        goal_max=1,
        reference=RUDDERSTACK_COST["identify"],
        compare="of RudderStack's",
        note="created first: Intercom's 409 names a contact it already has",
    )
    for kind in ("identify", "track", "group"):
        assert ours[kind] <= rudderstack[kind], kind
    assert total_ours <= total_theirs
