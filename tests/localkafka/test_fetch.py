"""ensure_kafka_jars: cache hits never run Maven; failures become clear BrokerErrors."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from streams.errors import BrokerError
from streams.localkafka import fetch
from streams.localkafka.fetch import MARKER_NAME, ensure_kafka_jars


class FakeMaven:
    """Stands in for fetch._run: records calls and 'downloads' two jars into -DoutputDirectory."""

    def __init__(self, returncode: int = 0, output: str = "") -> None:
        self.calls: list[list[str]] = []
        self.returncode = returncode
        self.output = output

    def __call__(self, argv: Sequence[str], *, cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(argv))
        if self.returncode == 0:
            out = Path(next(a for a in argv if a.startswith("-DoutputDirectory=")).split("=", 1)[1])
            out.mkdir(parents=True)
            for name in ("kafka_2.13-4.1.1.jar", "kafka-clients-4.1.1.jar"):
                (out / name).write_bytes(b"PK")
        return subprocess.CompletedProcess(list(argv), self.returncode, stdout=self.output)


@pytest.fixture
def fake_maven(monkeypatch: pytest.MonkeyPatch) -> FakeMaven:
    maven = FakeMaven()
    monkeypatch.setattr(fetch, "_run", maven)
    monkeypatch.setattr(fetch.shutil, "which", lambda name: f"/usr/bin/{name}")
    return maven


def test_second_fetch_uses_the_cache(tmp_path: Path, fake_maven: FakeMaven) -> None:
    libs = ensure_kafka_jars(tmp_path)
    assert len(fake_maven.calls) == 1
    assert (libs / "kafka_2.13-4.1.1.jar").is_file()
    marker = tmp_path / MARKER_NAME
    stamp = marker.stat().st_mtime_ns

    assert ensure_kafka_jars(tmp_path) == libs
    assert len(fake_maven.calls) == 1, "Maven ran again although the cache was complete"
    assert marker.stat().st_mtime_ns == stamp
    assert not (tmp_path / "target").exists()


def test_incomplete_cache_is_fetched_again(tmp_path: Path, fake_maven: FakeMaven) -> None:
    libs = ensure_kafka_jars(tmp_path)
    (libs / "kafka-clients-4.1.1.jar").unlink()  # e.g. someone cleaned part of ~/.cache
    ensure_kafka_jars(tmp_path)
    assert len(fake_maven.calls) == 2
    assert json.loads((tmp_path / MARKER_NAME).read_text())["kafka_version"] == fetch.KAFKA_VERSION


def test_maven_failure_reports_its_last_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    output = "\n".join(f"line {i}" for i in range(100)) + "\n[ERROR] Could not resolve dependencies"
    monkeypatch.setattr(fetch, "_run", FakeMaven(returncode=1, output=output))
    monkeypatch.setattr(fetch.shutil, "which", lambda name: f"/usr/bin/{name}")
    with pytest.raises(BrokerError, match="exit code 1") as err:
        ensure_kafka_jars(tmp_path)
    assert "Could not resolve dependencies" in str(err.value)
    assert "line 0\n" not in str(err.value)
    assert not (tmp_path / MARKER_NAME).exists()


def test_missing_maven_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fetch.shutil, "which", lambda name: None if name == "mvn" else f"/usr/bin/{name}")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(BrokerError, match="mvn"):
        ensure_kafka_jars(tmp_path)


def test_missing_java_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fetch.shutil, "which", lambda name: None)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(BrokerError, match="java not found"):
        ensure_kafka_jars(tmp_path)


def test_default_cache_dir_honours_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("INTERCOM_STREAM_CACHE", str(tmp_path))
    assert fetch.default_cache_dir() == tmp_path / f"kafka-{fetch.KAFKA_VERSION}"


def test_version_matches_pom() -> None:
    assert f"<kafka.version>{fetch.KAFKA_VERSION}</kafka.version>" in fetch.POM_PATH.read_text()
