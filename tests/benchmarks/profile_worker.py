"""Where a worker's CPU goes: py-spy attached to it while a benchmark measures it (``BENCH_PROFILE=1``).

``profiled(pid, name)`` records the process with ``py-spy record --format raw --function
--nonblocking`` (samples taken without pausing it; idle threads are not sampled, so the samples are
CPU) until the block ends, then writes ``results/profile-<name>.raw`` (collapsed stacks: flame graph
input) and ``results/profile-<name>.txt``: self time by group (asyncio loop, httpx stack, Faust,
aiokafka, our code by module, ...) and the top functions by self time. The summary also goes under
the benchmark table (report.TEXT). Attaching needs ptrace rights (root, CAP_SYS_PTRACE, or
``kernel.yama.ptrace_scope=0``).

    python -m tests.benchmarks.profile_worker results/profile-one-call.raw   # summarise a raw file again
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.benchmarks import report

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "results"
TOP = 25
MIN_GROUP = 0.005  # smaller groups are summed into one line
RATE_HZ = 200

# Frame as py-spy writes it: "function (path:line)".
_FRAME = re.compile(r"^(?P<function>.*) \((?P<path>.*?)(?::(?P<line>\d+))?\)$")

# (group, a fragment of the file's path); the first that matches names the group.
GROUPS = [
    ("asyncio loop", "/asyncio/"),
    ("asyncio loop", "/selectors.py"),
    ("httpx/httpcore/h11/anyio", "/httpx/"),
    ("httpx/httpcore/h11/anyio", "/httpcore/"),
    ("httpx/httpcore/h11/anyio", "/h11/"),
    ("httpx/httpcore/h11/anyio", "/anyio/"),
    ("httpx/httpcore/h11/anyio", "/sniffio/"),
    ("faust/mode", "/faust/"),
    ("faust/mode", "/mode/"),
    ("aiokafka", "/aiokafka/"),
    ("aiokafka", "/kafka/"),
    ("avro/fastavro", "/avro/"),
    ("avro/fastavro", "/fastavro/"),
    ("prometheus", "/prometheus_client/"),
    ("json", "/json/"),
    ("logging", "/logging/"),
]


def enabled() -> bool:
    return os.environ.get("BENCH_PROFILE") == "1"


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(found).exists():
        raise RuntimeError("BENCH_PROFILE=1 needs py-spy: .venv/bin/pip install py-spy")
    return found


@contextmanager
def profiled(pid: int, name: str, folder: Path = RESULTS) -> Iterator[None]:
    """Record ``pid`` with py-spy while the block runs (nothing when BENCH_PROFILE is not 1)."""
    if not enabled():
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    raw = folder / f"profile-{name}.raw"
    log = (folder / f"profile-{name}.py-spy.log").open("w")
    argv = [py_spy(), "record", "--pid", str(pid), "--nonblocking", "--function", "--format", "raw",
            "--rate", str(RATE_HZ), "--output", str(raw)]  # fmt: skip
    spy = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    time.sleep(1.0)  # attached and sampling before the measured work starts
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
        try:
            spy.wait(60)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait(5)
        log.close()
    if spy.returncode not in (0, -signal.SIGINT) or not raw.exists():
        raise RuntimeError(f"py-spy failed ({spy.returncode}): {(folder / log.name).read_text()[-2000:]}")
    lines = summary(name, load(raw))
    (folder / f"profile-{name}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report.TEXT.extend(["", *lines])


@dataclass(frozen=True)
class Frame:
    function: str
    path: str

    @property
    def group(self) -> str:
        module = our_module(self.path)
        if module:
            return module
        if self.path == "streams":
            return "faust/mode"  # faust/_cython/streams: Faust's compiled stream iterator
        if self.path.startswith("<frozen importlib"):
            return "imports at run time"
        path = "/" + self.path.lstrip("/")  # py-spy shortens paths under sys.path ("asyncio/events.py")
        for group, fragment in GROUPS:
            if fragment in path:
                return group
        if "/site-packages/" in path:
            return "other: " + path.split("/site-packages/", 1)[1].split("/", 1)[0]
        return "other: " + path.strip("/").split("/", 1)[0].removesuffix(".py")

    @property
    def label(self) -> str:
        where = our_module(self.path) or self.path.rsplit("/site-packages/", 1)[-1]
        return f"{self.function} ({where})"


def our_module(path: str) -> str:
    """``streams.pipeline.intake`` for [.../]streams/pipeline/intake.py ('' for files not ours; Faust
    has a compiled ``streams`` module of its own, without .py)."""
    parts = Path(path).parts
    if "site-packages" in parts or not path.endswith(".py") or "streams" not in parts:
        return ""
    start = len(parts) - 1 - parts[::-1].index("streams")
    return ".".join(Path(*parts[start:]).with_suffix("").parts)


def load(raw: Path) -> Counter[Frame]:
    """Samples per leaf frame (self time) from py-spy's raw output: "root;...;leaf count" a line."""
    self_samples: Counter[Frame] = Counter()
    for line in raw.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        leaf = stack.rsplit(";", 1)[-1]
        match = _FRAME.match(leaf)
        frame = Frame(match["function"], match["path"]) if match else Frame(leaf, "")
        self_samples[frame] += int(count)
    return self_samples


def summary(name: str, samples: Counter[Frame]) -> list[str]:
    total = sum(samples.values()) or 1
    groups: Counter[str] = Counter()
    for frame, count in samples.items():
        groups[frame.group] += count
    lines = [f"profile of the worker, {name} ({total:,} samples at {RATE_HZ} Hz, py-spy, self time):"]
    shown = [(group, count) for group, count in groups.most_common() if count / total >= MIN_GROUP]
    rest = total - sum(count for _, count in shown)
    rows = [(group, f"{count / total:.1%}") for group, count in shown]
    rows.append(
        (f"the rest ({len(groups) - len(shown)} groups under {MIN_GROUP:.1%} each)", f"{rest / total:.1%}")
    )
    ours = sum(count for group, count in groups.items() if group.startswith("streams."))
    rows.append(("our code (streams.*), all modules together", f"{ours / total:.1%}"))
    lines += ["  " + line for line in report.table(("group", "self"), rows)]
    lines += ["", f"  top {TOP} functions by self time:"]
    top = [(f"{count / total:.1%}", frame.label, frame.group) for frame, count in samples.most_common(TOP)]
    lines += ["  " + line for line in report.table(("self", "function", "group"), top)]
    return lines


if __name__ == "__main__":
    for path in sys.argv[1:]:
        print("\n".join(summary(Path(path).stem.removeprefix("profile-"), load(Path(path)))))
