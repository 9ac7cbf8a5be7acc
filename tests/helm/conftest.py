"""Render the chart in-process with Helm 4 (``helm-python-sdk``: ctypes over libhelm_c, no helm binary)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

CHART_DIR = Path(__file__).resolve().parents[2] / "helm" / "intercom-stream"
RELEASE = "rel"
NAMESPACE = "streams"
FULLNAME = "rel-intercom-stream"
# The workers' kind by default: persistence.enabled runs them as a StatefulSet (a volume per pod).
WORKLOAD = "StatefulSet"
TOKEN: dict[str, Any] = {"intercom": {"token": "tok-123"}}

Manifest = dict[str, Any]


class Rendered:
    """The objects of one render, looked up by kind and name; NOTES.txt kept as text."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files
        self.notes = next((text for path, text in files.items() if path.endswith("NOTES.txt")), "")
        self.objects: list[Manifest] = []
        for path, text in files.items():
            if path.endswith(".txt"):
                continue
            for doc in yaml.safe_load_all(text):
                if doc:
                    self.objects.append(doc)

    def kinds(self) -> list[str]:
        return sorted(o["kind"] for o in self.objects)

    def all(self, kind: str) -> list[Manifest]:
        return [o for o in self.objects if o["kind"] == kind]

    def get(self, kind: str, name: str = FULLNAME) -> Manifest:
        found = [o for o in self.all(kind) if o["metadata"]["name"] == name]
        assert len(found) == 1, f"{kind}/{name}: found {len(found)} in {self.kinds()}"
        return found[0]

    def has(self, kind: str) -> bool:
        return bool(self.all(kind))


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


@pytest.fixture(scope="session")
def chart() -> helm.Chart:
    return helm.Chart.load(CHART_DIR)


@pytest.fixture(scope="session")
def render(chart: helm.Chart) -> Callable[..., Rendered]:
    def _render(values: dict[str, Any] | None = None, *, with_token: bool = True) -> Rendered:
        merged = deep_merge(TOKEN, values or {}) if with_token else (values or {})
        return Rendered(chart.render(merged, name=RELEASE, namespace=NAMESPACE, is_install=True))

    return _render
