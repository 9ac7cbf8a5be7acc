"""Watch child processes while waiting on them: a wait fails as soon as a child dies or stops making
progress, naming the child, its exit code and the last lines of its log (instead of a bare time-out).

    IntercomStreamError
     └── ChildFailed          a child exited, or is alive but makes no progress
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Protocol, TypeVar

from streams.errors import IntercomStreamError

T = TypeVar("T")
TAIL_LINES = 20
CHECK_INTERVAL_S = 0.2


class ChildFailed(IntercomStreamError):
    """A child process exited, or is running but makes no progress."""


ERROR_LINE = re.compile(r'"level": "(error|critical)"|^Traceback|^error:|^\S*(Error|Exception): |\bERROR\b')
MAX_ERROR_CHARS = 3000


class Watched(Protocol):
    """What the watchdog needs of a child: a name, its exit code once it exited, and its log."""

    @property
    def name(self) -> str: ...

    @property
    def returncode(self) -> int | None: ...

    def log_text(self) -> str: ...


def read_log(path: Path | None) -> str:
    """A log file's text ("" when there is none yet)."""
    if path is None:
        return ""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def tail(text: str, lines: int = TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def first_error(text: str) -> str:
    """The first line that reports an error (a shutdown after it can fill the whole tail)."""
    for line in text.splitlines():
        if ERROR_LINE.search(line):
            return line[:MAX_ERROR_CHARS]
    return ""


def describe_exit(code: int) -> str:
    """``exited with code 2``, or ``was killed by SIGKILL`` for a negative (signal) code."""
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
        return f"was killed by signal {-code}"
    return f"exited with code {code}"


def _with_log(child: Watched, what: str) -> ChildFailed:
    text = child.log_text()
    last = tail(text)
    if not last:
        return ChildFailed(f"{what} (its log is empty)")
    error = first_error(text)
    if error and error not in last:
        what = f"{what}; its first error:\n{error}\n…"
    return ChildFailed(f"{what}; the last lines of its log:\n{last}")


def died(child: Watched) -> ChildFailed | None:
    """The error to raise if ``child`` has exited, else None."""
    code = child.returncode
    if code is None:
        return None
    return _with_log(child, f"{child.name} {describe_exit(code)}")


def stalled(child: Watched, what: str) -> ChildFailed:
    """The error for a child that is still running but ``what`` (e.g. "made no progress for 30s")."""
    return died(child) or _with_log(child, f"{child.name} is running but {what}")


def check_alive(children: Sequence[Watched]) -> None:
    """Raise ChildFailed for the first child that has exited."""
    for child in children:
        error = died(child)
        if error is not None:
            raise error


async def guarded(awaitable: Awaitable[T], children: Sequence[Watched]) -> T:
    """Await ``awaitable``, but fail at once (cancelling it) when one of ``children`` exits."""
    task = asyncio.ensure_future(awaitable)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=CHECK_INTERVAL_S)
            if done:
                return task.result()
            check_alive(children)
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


class StallClock:
    """Tells when a measure of progress has not changed for ``stall_s`` seconds.

    The measure is any comparable snapshot (e.g. lags per topic): a change is progress, since work
    moving from one topic to the next can raise one count while lowering another."""

    def __init__(self, stall_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.stall_s = stall_s
        self._clock = clock
        self._last: object = None
        self._since = clock()

    def observe(self, snapshot: object) -> bool:
        """Record the current snapshot (None: not known yet); True when stalled."""
        now = self._clock()
        if snapshot is not None and snapshot != self._last:
            self._last, self._since = snapshot, now
        return now - self._since >= self.stall_s
