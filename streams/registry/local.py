"""A local Apicurio Registry (in-memory storage) for tests and the sandbox, fetched from Maven
Central once like the local Kafka: ``pom.xml`` names the ready-to-run tarball, Maven downloads it,
we unpack it into ``~/.cache/intercom-stream/apicurio-<version>`` and run its jar on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tarfile
import time
from pathlib import Path

import httpx

from streams.errors import BrokerError
from streams.localkafka.broker import _free_ports
from streams.localkafka.fetch import _locked, _run, find_java

APICURIO_VERSION = "2.6.13.Final"
POM_PATH = Path(__file__).with_name("pom.xml")
MAVEN_TIMEOUT_S = 900.0
READY_TIMEOUT_S = 90.0
CCOMPAT_PATH = "/apis/ccompat/v7"


def default_cache_dir() -> Path:
    base = os.environ.get("INTERCOM_STREAM_CACHE")
    root = Path(base).expanduser() if base else Path.home() / ".cache" / "intercom-stream"
    return root / f"apicurio-{APICURIO_VERSION}"


def _runner(root: Path) -> Path | None:
    found = sorted(root.glob("**/*-runner.jar"))
    return found[0] if found else None


def ensure_apicurio(cache_dir: Path | None = None) -> Path:
    """The runner jar of the unpacked distribution, downloading it with Maven if needed."""
    cache_dir = (cache_dir or default_cache_dir()).expanduser()
    dist = cache_dir / "dist"
    if (jar := _runner(dist)) and (cache_dir / ".complete").is_file():
        return jar
    cache_dir.mkdir(parents=True, exist_ok=True)
    with _locked(cache_dir):
        if (jar := _runner(dist)) and (cache_dir / ".complete").is_file():
            return jar
        _fetch(cache_dir)
    jar = _runner(dist)
    if jar is None:
        raise BrokerError(f"the Apicurio tarball in {cache_dir} holds no *-runner.jar")
    return jar


def _fetch(cache_dir: Path) -> None:
    find_java()
    mvn = shutil.which("mvn")
    if not mvn:
        raise BrokerError(
            f"mvn (Apache Maven) not found on PATH: needed once to fetch Apicurio into {cache_dir}"
        )
    pom = cache_dir / "pom.xml"
    shutil.copyfile(POM_PATH, pom)
    download = cache_dir / "download"
    shutil.rmtree(download, ignore_errors=True)
    argv = [mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
            f"-DoutputDirectory={download}", "-DincludeTypes=tar.gz"]  # fmt: skip
    try:
        result = _run(argv, cwd=cache_dir, timeout=MAVEN_TIMEOUT_S)
    except (subprocess.TimeoutExpired, OSError) as exc:
        raise BrokerError(f"Maven could not fetch Apicurio {APICURIO_VERSION}: {exc}") from exc
    tarballs = sorted(download.glob("*.tar.gz"))
    if result.returncode != 0 or not tarballs:
        tail = "\n".join((result.stdout or "").strip().splitlines()[-30:])
        raise BrokerError(f"Maven failed to fetch Apicurio {APICURIO_VERSION}:\n{tail or '(no output)'}")
    dist = cache_dir / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    with tarfile.open(tarballs[0]) as tar:
        tar.extractall(dist, filter="data")
    shutil.rmtree(download, ignore_errors=True)  # the unpacked copy is all we need
    shutil.rmtree(cache_dir / "target", ignore_errors=True)
    (cache_dir / ".complete").write_text(APICURIO_VERSION)


class LocalRegistry:
    """``with LocalRegistry(log) as reg: reg.url`` — the Confluent-compatible API of a fresh registry."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return self.base_url + CCOMPAT_PATH

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def start(self) -> LocalRegistry:
        jar = ensure_apicurio()
        self.port = _free_ports(1)[0]
        env = {**os.environ, "QUARKUS_HTTP_HOST": "127.0.0.1", "QUARKUS_HTTP_PORT": str(self.port)}
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                [find_java(), "-Xmx512m", "-jar", str(jar)], cwd=jar.parent, env=env,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise BrokerError(f"Apicurio exited ({self._proc.returncode}); see {self.log_path}")
            try:
                if httpx.get(self.url + "/subjects", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise BrokerError(f"Apicurio was not ready within {READY_TIMEOUT_S:.0f}s; see {self.log_path}")

    def freeze(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self._proc is None or self._proc.poll() is not None:
            return
        os.kill(self._proc.pid, signal.SIGCONT)
        self._proc.terminate()
        try:
            self._proc.wait(15)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(5)

    def __enter__(self) -> LocalRegistry:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
