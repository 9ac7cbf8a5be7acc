"""The transform step alone, in-process (no Kafka): decode + parse + plan_event + Avro encode of the
delivery record, exactly the work the transform agent does per event. CPU time of one process, so
the figure is per core. Then one profile of the same loop (pyinstrument): where the time goes.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from typing import Any

import pyinstrument
import pytest

from streams.deadletter import SourceRecord
from streams.events import decode_raw_event, parse_event
from streams.mapping import plan_event
from streams.pipeline.requests import DeliveryRequest, DeliveryTopicCodec
from tests.benchmarks import report
from tests.benchmarks.workloads import mixed

pytestmark = pytest.mark.bench

RUNS = 5


def transform_all(values: list[bytes]) -> int:
    codec = DeliveryTopicCodec()
    out = 0
    for offset, value in enumerate(values):
        raw = decode_raw_event(value, None)
        plan = plan_event(parse_event(raw))
        source = SourceRecord("raw-events", 0, offset, plan.user_key.encode(), value, 1_760_000_000_000)
        for part in (plan, *plan.related):
            out += len(codec.encode_request(DeliveryRequest.planned(part, raw, source)))
    return out


def test_transform_events_per_core() -> None:
    values = [json.dumps(e).encode() for e in mixed(400)]  # 400 users, 5,600 events
    transform_all(values[:500])  # warm caches (schemas, compiled patterns)
    runs = []
    for _ in range(RUNS):
        started = time.process_time()
        transform_all(values)
        runs.append(len(values) / (time.process_time() - started))
    figure = report.record(
        "transform in-process",
        "events/s/core",
        runs,
        goal_min=5_000,
        note=f"{len(values)} events (identify/track/group mix), CPU time of one process",
    )
    print(f"\ntransform: {[round(r) for r in runs]} events/s/core, median {figure.value:,.0f}")


def _self_times(frame: Any, totals: dict[str, float], inclusive: dict[str, float], stack: set[str]) -> None:
    name = f"{frame.function} ({frame.file_path_short}:{frame.line_no})"
    real = [child for child in frame.children if not child.is_synthetic]  # "[self]" is our own time
    totals[name] += frame.time - sum(child.time for child in real)
    if name not in stack:  # count recursion once
        inclusive[name] += frame.time
    for child in real:
        _self_times(child, totals, inclusive, stack | {name})


def test_profile_transform() -> None:
    values = [json.dumps(e).encode() for e in mixed(400)]
    profiler = pyinstrument.Profiler(interval=0.0005)
    profiler.start()
    for _ in range(3):
        transform_all(values)
    session = profiler.stop()
    root = session.root_frame()
    assert root is not None
    own: dict[str, float] = defaultdict(float)
    inclusive: dict[str, float] = defaultdict(float)
    _self_times(root, own, inclusive, set())
    total = root.time
    top_own = sorted(own.items(), key=lambda kv: -kv[1])[:5]
    ours = {k: v for k, v in inclusive.items() if "streams/" in k and "transform_all" not in k}
    top_ours = sorted(ours.items(), key=lambda kv: -kv[1])[:5]
    lines = ["transform profile (pyinstrument), top 5 functions by own time:"]
    lines += [f"  {seconds / total:6.1%}  {name}" for name, seconds in top_own]
    lines += ["top 5 project functions by time including callees:"]
    lines += [f"  {seconds / total:6.1%}  {name}" for name, seconds in top_ours]
    print("\n" + "\n".join(lines))
    report.TEXT.extend(lines)
