"""examples/plan-sync as another team runs it: our wheel installed into a fresh virtualenv, their
project installed beside it, their pytest run from their folder. It uses only the pytest plugin."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.integration.test_wheel_install import REPO, build_wheel, run

pytestmark = pytest.mark.integration

EXAMPLE = REPO / "examples" / "plan-sync"


def test_the_example_project_passes_on_the_installed_wheel(tmp_path: Path) -> None:
    source, dist, venv, project = (
        tmp_path / "source",
        tmp_path / "dist",
        tmp_path / "venv",
        tmp_path / "plan-sync",
    )
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"))
    wheel = build_wheel(source, dist, tmp_path)
    run([sys.executable, "-m", "venv", str(venv)], tmp_path, 120)
    pip = str(venv / "bin" / "pip")
    run([pip, "install", "-q", str(wheel)], tmp_path, 600)
    run([pip, "install", "-q", f"{project}[test]"], tmp_path, 300)

    done = run([str(venv / "bin" / "pytest"), "-q"], project, 300)
    assert "5 passed" in done.stdout, done.stdout
