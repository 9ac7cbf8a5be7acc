"""Event workloads shared by the benchmarks (the call-economy mix, scaled and tagged)."""

from __future__ import annotations

from typing import Any

TAGS = ["customer"]


def user_story(user: str, i: int, tracks: int = 10) -> list[dict[str, Any]]:
    """One user's events: identify, tracks, two groups, and a repeated identify (unchanged traits)."""
    traits = {"email": f"{user}@example.com", "name": f"User {i}", "plan": "pro"}
    events: list[dict[str, Any]] = [
        {"type": "identify", "userId": user, "timestamp": 1_760_000_000, "traits": traits}
    ]
    events += [
        {"type": "track", "userId": user, "event": f"Step {n % 5}", "timestamp": 1_760_000_001 + n,
         "properties": {"n": n, "cart": {"items": n}}}
        for n in range(tracks)
    ]  # fmt: skip
    for company in (f"co-{i % 10}", f"co-{(i + 5) % 10}"):
        events.append(
            {"type": "group", "userId": user, "groupId": company, "timestamp": 1_760_000_020,
             "traits": {"name": company.upper(), "tier": "gold", "tags": TAGS}}
        )  # fmt: skip
    events.append({"type": "identify", "userId": user, "timestamp": 1_760_000_030, "traits": traits})
    return events


def mixed(users: int, prefix: str = "user", tracks: int = 10) -> list[dict[str, Any]]:
    """``users`` stories, users interleaved the way a real topic mixes them (round robin)."""
    stories = [user_story(f"{prefix}-{i:05d}", i, tracks) for i in range(users)]
    out: list[dict[str, Any]] = []
    for step in range(max(len(s) for s in stories)):
        out += [s[step] for s in stories if step < len(s)]
    return out
