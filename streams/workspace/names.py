"""Event-name slots shared by every worker through the workspace topic.

``reserve`` appends ``event_name/<name>/<worker>`` and reads the log back up to it: the first ``cap``
distinct names by offset hold a slot, so all workers together send at most ``cap`` names and each
computes the same verdict. A reserved slot is kept even if Intercom then refuses the name (Intercom
is full anyway); Intercom's refusals are shared too, so one worker's 422 spares the others the call.
"""

from __future__ import annotations

import asyncio

from streams.workspace.log import WorkspaceLog
from streams.workspace.state import Refusal, refusal_key, reservation_key


class SharedEventNames:
    def __init__(self, workspace: WorkspaceLog) -> None:
        self.log = workspace
        self.cap = workspace.state.cap
        self._pending: dict[str, asyncio.Future[None]] = {}  # one reservation per name in flight

    async def reserve(self, name: str) -> bool:
        await self.log.caught_up()
        while (verdict := self.log.state.holds_slot(name)) is None:
            pending = self._pending.get(name)
            if pending is not None:  # another request of this worker is reserving it: share its answer
                await asyncio.shield(pending)
                continue
            pending = self._pending[name] = asyncio.get_running_loop().create_future()
            try:
                await self.log.write(reservation_key(name, self.log.worker), "event_name", name)
            finally:
                del self._pending[name]
                pending.set_result(None)
        return verdict

    def taken(self) -> int:
        return self.log.state.slots_taken()

    def refusal(self, name: str) -> Refusal | None:
        return self.log.state.refusals.get(name)

    async def refuse(self, name: str, message: str) -> None:
        await self.log.write(refusal_key(name), "event_name_refused", name, message=message)

    async def accept(self, name: str) -> None:
        if name in self.log.state.refusals:
            await self.log.withdraw(refusal_key(name))
