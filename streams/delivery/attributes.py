"""The workspace's data attributes, cached in a table, and the policy for attributes Intercom lacks.

Intercom rejects a whole contact or company write (400 "Custom attribute 'x' does not exist") when one
custom attribute is unknown. The cache lists the workspace's attributes on first use, again every
``refresh_s``, and again on a miss (at most every ``miss_refresh_s``), so a write can be fixed up
*before* it is sent. Table layout (JSON values): ``data_attributes:<model>`` → ``{"names", "fetched_at"}``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

Request = Callable[..., Awaitable[Any]]
MODELS = ("contact", "company")


def infer_data_type(value: Any) -> str:
    """The data_type to create an attribute with, from the first value seen."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    return "string"


class AttributeCache:
    def __init__(
        self,
        table: MutableMapping[str, Any],
        refresh_s: float = 600.0,
        miss_refresh_s: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.table = table
        self.refresh_s = refresh_s
        self.miss_refresh_s = min(miss_refresh_s, refresh_s)
        self.clock = clock

    @staticmethod
    def _key(model: str) -> str:
        return f"data_attributes:{model}"

    async def _fetch(self, request: Request, model: str) -> dict[str, Any]:
        listed = await request("GET", f"/data_attributes?model={model}")
        names = sorted(
            str(a["name"])
            for a in (listed or {}).get("data", [])
            if isinstance(a, dict) and a.get("custom") and not a.get("archived") and a.get("name")
        )
        entry = {"names": names, "fetched_at": self.clock()}
        self.table[self._key(model)] = entry
        return entry

    async def unknown(self, request: Request, model: str, names: Iterable[str]) -> set[str]:
        """The names Intercom does not know, refreshing the list when it is old or on a miss."""
        wanted = set(names)
        if not wanted:
            return set()
        entry = self.table.get(self._key(model))
        now = self.clock()
        if entry is None or now - entry["fetched_at"] >= self.refresh_s:
            entry = await self._fetch(request, model)
        missing = wanted - set(entry["names"])
        if missing and now - entry["fetched_at"] >= self.miss_refresh_s:
            entry = await self._fetch(request, model)
            missing = wanted - set(entry["names"])
        return missing

    def add(self, model: str, name: str) -> None:
        entry = self.table.get(self._key(model)) or {"names": [], "fetched_at": self.clock()}
        self.table[self._key(model)] = {**entry, "names": sorted({*entry["names"], name})}

    def forget(self, model: str, name: str) -> None:
        """Intercom said the attribute does not exist (archived or deleted since we listed it)."""
        entry = self.table.get(self._key(model))
        if entry is not None:
            self.table[self._key(model)] = {**entry, "names": [n for n in entry["names"] if n != name]}
