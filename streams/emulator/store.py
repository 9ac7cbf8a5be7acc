"""All emulator state, in memory, behind one re-entrant lock.

Route handlers run their whole read-modify-write inside `with store.lock:` and never await while
holding it, so concurrent requests (event loop or threads) see consistent state.
"""

from __future__ import annotations

import copy
import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from streams.emulator.models import Company, Contact, DataAttribute, Event, Tag


@dataclass
class MergeRecord:
    into: str
    external_id: str | None


@dataclass
class _IndexEntry:
    ready_at: float
    snapshot: Contact | None  # None = deleted / merged away / archived


@dataclass
class Store:
    clock: Callable[[], float]
    seed: int | None = None
    search_lag_s: float = 0.0
    lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.rng = random.Random(self.seed)
            self.contacts: dict[str, Contact] = {}
            self.companies: dict[str, Company] = {}
            self.company_by_external: dict[str, str] = {}
            self.tags: dict[str, Tag] = {}
            self.events: list[Event] = []
            self.event_keys: set[tuple[str, str, int]] = set()
            self.event_names: set[str] = set()
            self.data_attributes: dict[tuple[str, str], DataAttribute] = {}
            self.merged: dict[str, MergeRecord] = {}
            self._index: dict[str, list[_IndexEntry]] = {}
            self._next_tag = 5_000_001
            self._next_attr = 10_001
            self._next_seq = 0

    # ids ---------------------------------------------------------------
    def now(self) -> int:
        return int(self.clock())

    def new_hex_id(self) -> str:
        while True:
            candidate = f"{self.rng.getrandbits(96):024x}"
            if candidate not in self.contacts and candidate not in self.companies:
                return candidate

    def next_seq(self) -> int:
        self._next_seq += 1
        return self._next_seq

    def new_tag_id(self) -> str:
        self._next_tag += 1
        return str(self._next_tag)

    def reserve_ids(self, *, tag_id: str | None = None, attr_id: int | None = None) -> None:
        """New ids continue after loaded ones (a state file's tags and attributes)."""
        if tag_id is not None and tag_id.isdigit():
            self._next_tag = max(self._next_tag, int(tag_id))
        if attr_id is not None:
            self._next_attr = max(self._next_attr, attr_id)

    def new_attr_id(self) -> int:
        self._next_attr += 1
        return self._next_attr

    # contacts ------------------------------------------------------------
    def find_contact(self, *, external_id: str | None = None, email: str | None = None) -> Contact | None:
        for c in self.contacts.values():
            if external_id is not None and c.external_id == external_id:
                return c
            if email is not None and c.email is not None and c.email.lower() == email.lower():
                return c
        return None

    def canonical_id(self, contact_id: str, max_hops: int = 3) -> str | None:
        """Follow merge records (up to `max_hops`, as Intercom's Link header does)."""
        current = contact_id
        for _ in range(max_hops):
            rec = self.merged.get(current)
            if rec is None:
                break
            current = rec.into
        return current if current != contact_id else None

    # search index (eventually consistent) ---------------------------------
    def reindex(self, contact: Contact, *, remove: bool = False) -> None:
        """Record the contact's new state; search sees it `search_lag_s` seconds from now."""
        snap = None if remove or contact.archived else copy.deepcopy(contact)
        now = self.clock()
        entries = self._index.setdefault(contact.id, [])
        entries.append(_IndexEntry(now + self.search_lag_s, snap))
        # Versions older than the newest visible one can never be seen again: drop them, so
        # frequent updates without searches do not grow the index.
        visible = [i for i, e in enumerate(entries) if e.ready_at <= now]
        if visible:
            del entries[: visible[-1]]
        if len(entries) == 1 and entries[0].snapshot is None and entries[0].ready_at <= now:
            del self._index[contact.id]

    def searchable(self) -> Iterator[Contact]:
        now = self.clock()
        for cid in list(self._index):
            entries = self._index[cid]
            visible = [i for i, e in enumerate(entries) if e.ready_at <= now]
            if not visible:
                continue
            last = visible[-1]
            del entries[:last]  # older versions can never be seen again
            snap = entries[0].snapshot
            if snap is None and len(entries) == 1:
                del self._index[cid]
                continue
            if snap is not None:
                yield snap

    # companies ----------------------------------------------------------
    def company_user_count(self, company_id: str) -> int:
        return sum(1 for c in self.contacts.values() if company_id in c.company_ids)

    def tag_by_name(self, name: str) -> Tag | None:
        lowered = name.lower()
        for t in self.tags.values():
            if t.name.lower() == lowered:
                return t
        return None

    def custom_attribute(self, model: str, name: str) -> DataAttribute | None:
        attr = self.data_attributes.get((model, name))
        return attr if attr is not None and not attr.archived else None
