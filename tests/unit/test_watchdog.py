"""The watchdog names a dead or stuck child, its exit code and its log's last lines (real processes)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from streams.processes import Child
from streams.watchdog import ChildFailed, StallClock, describe_exit, guarded, stalled


def python_child(tmp_path: Path, code: str, name: str = "worker") -> Child:
    return Child(name, [sys.executable, "-c", code], tmp_path / f"{name}.log")


def test_a_child_that_dies_fails_the_wait_with_its_code_and_log(tmp_path: Path) -> None:
    dying = python_child(tmp_path, "import sys\nfor i in range(40): print('line', i)\nsys.exit(3)")
    alive = python_child(tmp_path, "import time; time.sleep(30)", name="emulator")
    try:
        with pytest.raises(ChildFailed) as failed:
            asyncio.run(guarded(asyncio.sleep(30), [alive, dying]))
    finally:
        alive.stop()
        dying.stop()
    message = str(failed.value)
    assert message.startswith("worker exited with code 3; the last lines of its log:")
    assert "line 39" in message and "line 20" in message and "line 19" not in message


def test_an_error_followed_by_a_long_shutdown_is_still_shown(tmp_path: Path) -> None:
    code = (
        "import json, sys\n"
        "print(json.dumps({'level': 'error', 'message': 'PermissionError: /tmp/data/v1'}))\n"
        "for i in range(40): print(json.dumps({'level': 'info', 'message': f'Stopping {i}'}))\n"
        "sys.exit(1)"
    )
    dying = python_child(tmp_path, code)
    dying.process.wait(10)
    message = str(stalled(dying, "made no progress"))
    dying.stop()
    assert message.startswith("worker exited with code 1; its first error:\n")
    assert "PermissionError: /tmp/data/v1" in message and "Stopping 39" in message


def test_the_wait_returns_its_result_while_the_children_live(tmp_path: Path) -> None:
    alive = python_child(tmp_path, "import time; time.sleep(30)")
    try:
        assert asyncio.run(guarded(asyncio.sleep(0.3, result="done"), [alive])) == "done"
    finally:
        alive.stop()


def test_a_startup_line_that_never_comes_names_the_child(tmp_path: Path) -> None:
    quiet = python_child(tmp_path, "print('starting', flush=True)\nimport time; time.sleep(30)")
    try:
        with pytest.raises(ChildFailed, match=r"worker is running but printed no ready line within 1s"):
            quiet.wait_for(lambda: False, 1, "ready line")
    finally:
        quiet.stop()


def test_a_child_killed_by_a_signal_says_so(tmp_path: Path) -> None:
    child = python_child(tmp_path, "import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    child.process.wait(10)
    error = stalled(child, "made no progress")
    child.stop()
    assert str(error) == "worker was killed by SIGKILL (its log is empty)"
    assert describe_exit(2) == "exited with code 2"


def test_stall_clock_counts_from_the_last_change() -> None:
    now = [0.0]
    clock = StallClock(10, clock=lambda: now[0])
    assert not clock.observe(None)
    now[0] = 5
    assert not clock.observe((3, 0))
    now[0] = 14
    assert not clock.observe((3, 0))
    now[0] = 15
    assert clock.observe((3, 0))
    assert not clock.observe((2, 1))  # work moved on: the clock starts again
    now[0] = 24.9
    assert not clock.observe(None)  # "unknown" is not progress, but not a stall either yet
    now[0] = 25
    assert clock.observe(None)
