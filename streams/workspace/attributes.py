"""Data-attribute creations shared by every worker through the workspace topic.

A worker about to create an attribute claims it first; the first open claim by offset creates it,
the others wait for its outcome (``attribute/<model>/<name>``) instead of sending a create that
Intercom would refuse. Every worker's ``AttributeCache`` also counts the created names as known, so
an attribute made by one worker costs the others no call at all.
"""

from __future__ import annotations

import asyncio
import logging
import time

from streams.workspace.log import WorkspaceLog
from streams.workspace.state import CLAIM_STALE_MS, claim_key, outcome_key

log = logging.getLogger(__name__)


class SharedAttributes:
    def __init__(self, workspace: WorkspaceLog) -> None:
        self.log = workspace
        self._background: set[asyncio.Task[None]] = set()
        self._creating: set[tuple[str, str]] = set()  # claims of ours a request here is carrying out

    def known(self, model: str) -> set[str]:
        return self.log.state.created_names(model)

    async def claim(self, model: str, name: str) -> bool:
        """True: this worker creates it. False: another worker created it (it is known now)."""
        state, target = self.log.state, (model, name)
        await self.log.caught_up()
        if name in state.created_names(model):
            return False
        now_ms = int(time.time() * 1000)
        open_claim = state.claims.get(target)
        if open_claim is None or now_ms - open_claim.at_ms > CLAIM_STALE_MS:
            await self.log.write(claim_key(model, name, self.log.worker, now_ms), "attribute_claim", name,
                                 model, at_ms=now_ms)  # fmt: skip
            if name in state.created_names(model):  # created by another while our claim was on its way
                return False
            open_claim = state.claims.get(target)
        if open_claim is None:  # decided while ours was in flight
            return name not in state.created_names(model)
        if open_claim.worker == self.log.worker and target not in self._creating:
            self._creating.add(target)  # this request creates it; the others here wait like elsewhere
            return True
        wait_s = max(0.0, (open_claim.at_ms + CLAIM_STALE_MS) / 1000 - time.time())
        try:
            await asyncio.wait_for(self.log.until(lambda: state.claims.get(target) != open_claim), wait_s)
        except TimeoutError:
            log.info("no outcome for %s attribute %r from worker %s: creating it here", model, name,
                     open_claim.worker)  # fmt: skip
        return name not in state.created_names(model)

    async def created(self, model: str, name: str) -> None:
        try:
            await self.log.write(outcome_key(model, name), "attribute_created", name, model)
        finally:  # only once the outcome is in the state: until then the others here keep waiting
            self._creating.discard((model, name))

    def failed_soon(self, model: str, name: str) -> None:
        """Tell the waiting workers that the create failed (in the background: the caller is sync)."""
        write = self.log.write(outcome_key(model, name), "attribute_failed", name, model)
        task = asyncio.ensure_future(write)
        self._background.add(task)
        task.add_done_callback(lambda done: self._done(done, (model, name)))

    def _done(self, task: asyncio.Task[None], target: tuple[str, str]) -> None:
        self._creating.discard(target)
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("could not publish an attribute outcome: %s", task.exception())
