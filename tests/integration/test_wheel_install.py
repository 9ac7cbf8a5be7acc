"""Install the way a user does: build the wheel, install it into a fresh virtualenv outside the checkout,
and run ``intercom-stream sandbox --json`` from another folder (no repository files, no variables)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.sample_result import check_sample_result

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
# What a wheel is built from (as the Dockerfile copies it); a copy, so no stale build/ folder leaks in.
SOURCES = ["pyproject.toml", "setup.py", "README.md", "streams", "schemas"]
# Files the package reads at run time, besides its modules.
PACKAGE_DATA = [
    "streams/schemas/raw_event.avsc",
    "streams/schemas/delivery_request.avsc",
    "streams/schemas/dead_letter.avsc",
    "streams/schemas/control_record.avsc",
    "streams/schemas/previous/dead_letter.v1.avsc",
    "streams/localkafka/pom.xml",
    "streams/registry/pom.xml",
    "streams/emulator/openapi/2.10-api.intercom.io.yaml",
    "streams/emulator/openapi/2.16-api.intercom.io.yaml",
    "streams/samples/events.jsonl",
]


FIND_EXTENSIONS = (
    "from faust.stores import STORES; from faust.transport.drivers import TRANSPORTS; "
    "from streams.pipeline.faust_app import check_faust; check_faust(); "
    "print(*(f'{c.__module__}.{c.__qualname__}' for c in "
    "(TRANSPORTS.by_url('intercom-kafka://localhost'), STORES.by_url('intercom-rocksdb://'))))"
)


def run(argv: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    # Nothing of the checkout or of the test's own virtualenv leaks into the user's shell.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr[-3000:]}"
    return done


def build_wheel(source: Path, dist: Path, cwd: Path) -> Path:
    """Our wheel, built from a copy of what the Dockerfile copies (no stale build/ folder leaks in)."""
    source.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(REPO / name, source / name)
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(source)], cwd, 300)
    [wheel] = dist.glob("intercom_stream-*.whl")
    return wheel


def test_installed_wheel_runs_the_sandbox_from_another_folder(tmp_path: Path) -> None:
    source, dist, venv = tmp_path / "source", tmp_path / "dist", tmp_path / "venv"
    elsewhere = tmp_path / "somewhere-else"
    elsewhere.mkdir()
    wheel = build_wheel(source, dist, elsewhere)
    names = set(zipfile.ZipFile(wheel).namelist())
    assert [name for name in PACKAGE_DATA if name not in names] == []

    run([sys.executable, "-m", "venv", str(venv)], elsewhere, 120)
    run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], elsewhere, 600)
    cli = str(venv / "bin" / "intercom-stream")
    located = run(
        [str(venv / "bin" / "python"), "-c", "import streams; print(streams.__file__)"], elsewhere, 60
    )
    assert located.stdout.strip().startswith(str(venv)), located.stdout
    assert run([cli, "--version"], elsewhere, 60).stdout.strip().startswith("intercom-stream ")
    # Faust finds our transport and store through the wheel's entry points (the sandbox's worker runs
    # on the transport; the RocksDB store is only looked up here, as the memory store is the default).
    found = run([str(venv / "bin" / "python"), "-c", FIND_EXTENSIONS], elsewhere, 60).stdout.split()
    assert found == ["streams.pipeline.transport.Transport", "streams.pipeline.rocksdb_store.Store"]

    sandbox = run([cli, "sandbox", "--json"], elsewhere, 240)
    check_sample_result(json.loads(sandbox.stdout))
