"""The benchmark figures: each test records its runs here; conftest prints one table and writes JSON.

A figure's value is the median of its runs. ``goal_min``/``goal_max`` give the pass/miss column;
``compare`` names what the ratio column compares against (``ratio`` = value / that reference).
A figure that could not be measured here carries ``value=None`` and says why in ``note``.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Figure:
    name: str
    unit: str
    runs: list[float] = field(default_factory=list)
    goal_min: float | None = None
    goal_max: float | None = None
    ratio: float | None = None
    compare: str = ""
    note: str = ""

    @property
    def value(self) -> float | None:
        return statistics.median(self.runs) if self.runs else None

    @property
    def goal(self) -> str:
        if self.goal_min is not None:
            return f"≥ {_number(self.goal_min)}"
        if self.goal_max is not None:
            return f"≤ {_number(self.goal_max)}"
        return ""

    @property
    def verdict(self) -> str:
        value = self.value
        if value is None:
            return "n/a"
        if self.goal_min is not None:
            return "pass" if value >= self.goal_min else "MISS"
        if self.goal_max is not None:
            return "pass" if value <= self.goal_max else "MISS"
        return ""

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "value": self.value, "goal": self.goal, "verdict": self.verdict}


FIGURES: list[Figure] = []
TEXT: list[str] = []  # printed under the table (the profile)


def record(
    name: str,
    unit: str,
    runs: list[float],
    *,
    goal_min: float | None = None,
    goal_max: float | None = None,
    reference: float | None = None,
    compare: str = "",
    note: str = "",
) -> Figure:
    figure = Figure(name, unit, [float(r) for r in runs], goal_min, goal_max, compare=compare, note=note)
    if reference and figure.value is not None:
        figure.ratio = figure.value / reference
    FIGURES.append(figure)
    return figure


def _number(value: float) -> str:
    if abs(value) >= 100 or value == 0:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _spread(runs: list[float]) -> str:
    if len(runs) < 2:
        return str(len(runs))
    return f"{len(runs)} ({_number(min(runs))}-{_number(max(runs))})"


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": model or platform.processor(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def render(figures: list[Figure]) -> list[str]:
    header = ("figure", "median", "unit", "runs (min-max)", "ratio", "goal", "result")
    rows = [
        (
            f.name,
            "-" if f.value is None else _number(f.value),
            f.unit,
            _spread(f.runs),
            f"{f.ratio:.2f} {f.compare}" if f.ratio is not None else "",
            f.goal,
            f.verdict,
        )
        for f in figures
    ]
    out = table(header, rows)
    notes = [f"  {f.name}: {f.note}" for f in figures if f.note]
    if notes:
        out += ["", "notes:", *notes]
    return out


def table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> list[str]:
    """Columns aligned, a rule under the header (the benchmark table's style)."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()

    return [line(header), "  ".join("-" * w for w in widths), *(line(row) for row in rows)]


def write_json(figures: list[Figure], text: list[str], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    payload = {"when": stamp, "machine": machine(), "figures": [f.as_json() for f in figures], "text": text}
    path = folder / f"bench-{stamp}.json"
    content = json.dumps(payload, indent=2, ensure_ascii=False)
    path.write_text(content, encoding="utf-8")
    (folder / "bench-latest.json").write_text(content, encoding="utf-8")
    return path
