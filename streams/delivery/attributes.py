"""The workspace's data attributes, cached in a table, and the policy for attributes Intercom lacks.

Intercom rejects a whole contact or company write (400 "Custom attribute 'x' does not exist") when one
custom attribute is unknown. The cache lists the workspace's attributes on first use, again every
``refresh_s``, and again on a miss (at most every ``miss_refresh_s``), so a write can be fixed up
*before* it is sent. Names Intercom refused to create (``refuse``) are remembered for ``refresh_s`` so
that the ``create`` policy does not ask again on every event.
With several workers, ``shared`` (streams/workspace/attributes.py) makes a creation known to all of
them, and lets only one of them create a given attribute (``claim``).
Table layout (JSON values): ``data_attributes:<model>`` → ``{"names", "fetched_at", "refused"}``;
``fetched_at`` is absent until the model's attributes have been listed once, ``refused`` maps a name
to when Intercom refused it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any, Protocol

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


class Shared(Protocol):
    """What the workspace topic adds: creations by any worker, and one creator per attribute."""

    def known(self, model: str) -> set[str]: ...
    async def claim(self, model: str, name: str) -> bool: ...
    async def created(self, model: str, name: str) -> None: ...
    def failed_soon(self, model: str, name: str) -> None: ...


class AttributeCache:
    def __init__(
        self,
        table: MutableMapping[str, Any],
        refresh_s: float = 600.0,
        miss_refresh_s: float = 60.0,
        clock: Callable[[], float] = time.time,
        shared: Shared | None = None,
    ) -> None:
        self.table = table
        self.shared = shared
        self.refresh_s = refresh_s
        self.miss_refresh_s = min(miss_refresh_s, refresh_s)
        self.clock = clock

    @staticmethod
    def _key(model: str) -> str:
        return f"data_attributes:{model}"

    def _entry(self, model: str) -> dict[str, Any]:
        return dict(self.table.get(self._key(model)) or {"names": []})

    def _older_than(self, entry: dict[str, Any], age_s: float, now: float) -> bool:
        fetched_at = entry.get("fetched_at")
        return fetched_at is None or now - fetched_at >= age_s

    async def refresh(self, request: Request, model: str) -> dict[str, Any]:
        """List the model's attributes now (one call), keeping the refused names still remembered."""
        listed = await request("GET", f"/data_attributes?model={model}")
        names = sorted(
            str(a["name"])
            for a in (listed or {}).get("data", [])
            if isinstance(a, dict) and a.get("custom") and not a.get("archived") and a.get("name")
        )
        now = self.clock()
        refused = {
            name: at
            for name, at in (self._entry(model).get("refused") or {}).items()
            if now - at < self.refresh_s and name not in names
        }
        entry: dict[str, Any] = {"names": names, "fetched_at": now}
        if refused:
            entry["refused"] = refused
        self.table[self._key(model)] = entry
        return entry

    async def unknown(self, request: Request, model: str, names: Iterable[str]) -> set[str]:
        """The names Intercom does not know, refreshing the list when it is old or on a miss."""
        wanted = set(names) - (self.shared.known(model) if self.shared else set())
        if not wanted:
            return set()
        entry = self._entry(model)
        now = self.clock()
        if self._older_than(entry, self.refresh_s, now):
            entry = await self.refresh(request, model)
        missing = wanted - set(entry["names"])
        if missing and self._older_than(entry, self.miss_refresh_s, now):
            entry = await self.refresh(request, model)
            missing = wanted - set(entry["names"])
        return missing

    def add(self, model: str, name: str) -> None:
        """Intercom has the attribute now (we created it). Never marks an unlisted model as listed."""
        entry = self._entry(model)
        entry["names"] = sorted({*entry["names"], name})
        refused = {n: at for n, at in (entry.pop("refused", None) or {}).items() if n != name}
        if refused:
            entry["refused"] = refused
        self.table[self._key(model)] = entry

    async def claim(self, model: str, name: str) -> bool:
        """Whether this worker should create ``name`` now; False when another worker just did."""
        if self.shared is None or await self.shared.claim(model, name):
            return True
        self.add(model, name)
        return False

    async def created(self, model: str, name: str) -> None:
        """We created ``name``: known here, and (shared) on every worker."""
        self.add(model, name)
        if self.shared is not None:
            await self.shared.created(model, name)

    def forget(self, model: str, name: str) -> None:
        """Intercom said the attribute does not exist (archived or deleted since we listed it)."""
        entry = self.table.get(self._key(model))
        if entry is not None:
            self.table[self._key(model)] = {**entry, "names": [n for n in entry["names"] if n != name]}

    def refuse(self, model: str, name: str) -> None:
        """Intercom refused to create ``name`` (invalid, reserved, or taken by the other model)."""
        entry = self._entry(model)
        entry["refused"] = {**(entry.get("refused") or {}), name: self.clock()}
        self.table[self._key(model)] = entry
        if self.shared is not None:
            self.shared.failed_soon(model, name)

    def refused(self, model: str, name: str) -> bool:
        """Whether Intercom refused to create ``name`` less than ``refresh_s`` ago."""
        at = (self._entry(model).get("refused") or {}).get(name)
        return at is not None and self.clock() - at < self.refresh_s
