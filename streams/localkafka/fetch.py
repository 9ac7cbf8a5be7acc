"""Fetch Apache Kafka's jars from Maven Central into a per-user cache, once.

Maven does the dependency resolution (``pom.xml`` next to this file); we only decide whether the
cache is complete, serialise concurrent fetches with a lock file and turn failures into
:class:`~streams.errors.BrokerError` with a message a developer can act on.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

from streams.errors import BrokerError

KAFKA_VERSION = "4.1.1"
POM_PATH = Path(__file__).with_name("pom.xml")
MARKER_NAME = ".complete.json"
LIBS_NAME = "libs"
MAVEN_TIMEOUT_S = 900.0
_TAIL_LINES = 30


def _run(argv: Sequence[str], *, cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    # Indirection so tests can prove a cached fetch never starts Maven.
    return subprocess.run(
        list(argv),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )


def default_cache_dir() -> Path:
    """``$INTERCOM_STREAM_CACHE/kafka-<version>``, else ``~/.cache/intercom-stream/kafka-<version>``."""
    base = os.environ.get("INTERCOM_STREAM_CACHE")
    root = Path(base).expanduser() if base else Path.home() / ".cache" / "intercom-stream"
    return root / f"kafka-{KAFKA_VERSION}"


def find_java() -> str:
    """Path of the ``java`` executable (``$JAVA_HOME`` first, then ``PATH``)."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("java")
    if not found:
        raise BrokerError(
            "java not found: the local Kafka broker needs a Java 17+ runtime on PATH (or JAVA_HOME). "
            "Alternatively point the tests at your own cluster with INTERCOM_STREAM_TEST_BOOTSTRAP."
        )
    return found


def _pom_digest() -> str:
    return hashlib.sha256(POM_PATH.read_bytes()).hexdigest()


def _is_complete(cache_dir: Path) -> bool:
    """True when a previous fetch of *this* pom finished and all its jars are still there."""
    try:
        marker = json.loads((cache_dir / MARKER_NAME).read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(marker, dict) or marker.get("pom_sha256") != _pom_digest():
        return False
    jars = marker.get("jars")
    libs = cache_dir / LIBS_NAME
    return isinstance(jars, list) and bool(jars) and all((libs / str(j)).is_file() for j in jars)


@contextlib.contextmanager
def _locked(cache_dir: Path) -> Iterator[None]:
    # flock is released by the kernel if we die, so a crashed fetch never wedges later runs.
    with open(cache_dir / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_kafka_jars(cache_dir: Path | None = None) -> Path:
    """Return a directory holding Kafka's runtime jars, downloading them with Maven if needed.

    Safe to call from parallel processes: one fetches, the others wait on the lock and reuse it.
    """
    cache_dir = (cache_dir or default_cache_dir()).expanduser()
    libs = cache_dir / LIBS_NAME
    if _is_complete(cache_dir):
        return libs
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BrokerError(f"cannot create the Kafka cache directory {cache_dir}: {exc}") from exc
    with _locked(cache_dir):
        if _is_complete(cache_dir):  # another process finished while we waited
            return libs
        _fetch(cache_dir)
    return libs


def _fetch(cache_dir: Path) -> None:
    find_java()  # Maven is useless without it, and the broker needs it anyway: fail early and clearly
    mvn = shutil.which("mvn")
    if not mvn:
        raise BrokerError(
            "mvn (Apache Maven 3.6+) not found on PATH: it is needed once to download Kafka "
            f"{KAFKA_VERSION} into {cache_dir}. Install Maven, or set INTERCOM_STREAM_TEST_BOOTSTRAP "
            "to use an existing Kafka cluster."
        )
    # Copy the pom so Maven's target/ never lands inside the (possibly read-only) installed package.
    pom = cache_dir / "pom.xml"
    shutil.copyfile(POM_PATH, pom)
    staging = cache_dir / f"{LIBS_NAME}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    argv = [
        mvn,
        "-q",
        "-B",
        "-f",
        str(pom),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={staging}",
        "-DincludeScope=runtime",
    ]
    try:
        result = _run(argv, cwd=cache_dir, timeout=MAVEN_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise BrokerError(f"Maven did not finish fetching Kafka within {MAVEN_TIMEOUT_S:.0f}s") from exc
    except OSError as exc:
        raise BrokerError(f"cannot run Maven ({mvn}): {exc}") from exc
    jars = sorted(p.name for p in staging.glob("*.jar")) if staging.is_dir() else []
    if result.returncode != 0 or not any(j.startswith("kafka_") for j in jars):
        tail = "\n".join((result.stdout or "").strip().splitlines()[-_TAIL_LINES:])
        raise BrokerError(
            f"Maven failed to fetch Kafka {KAFKA_VERSION} (exit code {result.returncode}); "
            f"command: {' '.join(argv)}\nlast lines of its output:\n{tail or '(no output)'}"
        )
    # Swap in the complete directory, then write the marker last: a crash in between only
    # means the next run fetches again.
    shutil.rmtree(libs := cache_dir / LIBS_NAME, ignore_errors=True)
    staging.rename(libs)
    shutil.rmtree(cache_dir / "target", ignore_errors=True)
    marker = {"kafka_version": KAFKA_VERSION, "pom_sha256": _pom_digest(), "jars": jars}
    tmp = cache_dir / f"{MARKER_NAME}.tmp"
    tmp.write_text(json.dumps(marker, indent=1))
    tmp.replace(cache_dir / MARKER_NAME)
