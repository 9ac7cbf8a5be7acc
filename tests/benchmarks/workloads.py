"""Event workloads shared by the benchmarks (the call-economy mix, scaled and tagged)."""

from __future__ import annotations

from typing import Any

TAGS = ["customer"]


def traits(user: str, i: int) -> dict[str, Any]:
    return {"email": f"{user}@example.com", "name": f"User {i}", "plan": "pro"}


def identify(user: str, i: int, timestamp: int) -> dict[str, Any]:
    return {"type": "identify", "userId": user, "timestamp": timestamp, "traits": traits(user, i)}


def track(user: str, n: int, timestamp: int) -> dict[str, Any]:
    return {"type": "track", "userId": user, "event": f"Step {n % 5}", "timestamp": timestamp,
            "properties": {"n": n, "cart": {"items": n}}}  # fmt: skip


def page(user: str, n: int, timestamp: int) -> dict[str, Any]:
    """A page view as analytics.js sends it (ignored with PAGE_POLICY=ignore, the default)."""
    path = f"/docs/{n % 20}"
    return {"type": "page", "userId": user, "name": f"Docs {n % 20}", "timestamp": timestamp,
            "properties": {"path": path, "url": f"https://example.com{path}", "title": f"Docs {n % 20}",
                           "referrer": "https://example.com/"}}  # fmt: skip


def user_story(user: str, i: int, tracks: int = 10) -> list[dict[str, Any]]:
    """One user's events: identify, tracks, two groups, and a repeated identify (unchanged traits)."""
    events = [identify(user, i, 1_760_000_000)]
    events += [track(user, n, 1_760_000_001 + n) for n in range(tracks)]
    for company in (f"co-{i % 10}", f"co-{(i + 5) % 10}"):
        events.append(
            {"type": "group", "userId": user, "groupId": company, "timestamp": 1_760_000_020,
             "traits": {"name": company.upper(), "tier": "gold", "tags": TAGS}}
        )  # fmt: skip
    events.append(identify(user, i, 1_760_000_030))
    return events


def mixed(users: int, prefix: str = "user", tracks: int = 10) -> list[dict[str, Any]]:
    """``users`` stories, users interleaved the way a real topic mixes them (round robin)."""
    stories = [user_story(f"{prefix}-{i:05d}", i, tracks) for i in range(users)]
    out: list[dict[str, Any]] = []
    for step in range(max(len(s) for s in stories)):
        out += [s[step] for s in stories if step < len(s)]
    return out
