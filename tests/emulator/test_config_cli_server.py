from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from streams.emulator import spec
from streams.emulator.cli import build_parser, config_from_args
from streams.emulator.config import EmulatorConfig, parse_rate_limit
from streams.emulator.server import running_emulator
from tests.emulator import contract
from tests.emulator.conftest import AUTH, make_client

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("83/10s", (83, 10.0)),
        ("500/1m", (84, 10.0)),
        ("10000/1m", (1667, 10.0)),
        ("7", (7, 10.0)),
        ("off", (0, 10.0)),
        ("0", (0, 10.0)),
    ],
)
def test_parse_rate_limit(text: str, expected: tuple[int, float]) -> None:
    assert parse_rate_limit(text) == expected


@pytest.mark.parametrize("text", ["fast", "10/0s", "-1/10s", "10/x"])
def test_parse_rate_limit_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rate_limit(text)


def test_config_validation() -> None:
    assert EmulatorConfig().tokens == ["test-token"] and EmulatorConfig().rate_limit == 83
    for bad in (
        {"api_version": "2.11"},
        {"fault_rate": 2.0},
        {"rate_limit": -1},
        {"company_lookup_shape": "x"},
    ):
        with pytest.raises(ValueError):
            EmulatorConfig(**bad)  # type: ignore[arg-type]


def test_cli_flags() -> None:
    args = build_parser().parse_args(
        [
            *("--token", "a", "--token", "b", "--rate-limit", "off", "--api-version", "2.16"),
            *(
                "--search-lag",
                "3",
                "--fault-rate",
                "0.1",
                "--seed",
                "4",
                "--host",
                "0.0.0.0",
                "--port",
                "1234",
            ),
        ]
    )
    cfg = config_from_args(args)
    assert (cfg.tokens, cfg.rate_limit, cfg.api_version, cfg.search_lag_s) == (["a", "b"], 0, "2.16", 3.0)
    assert (cfg.fault_rate, cfg.seed, args.host, args.port) == (0.1, 4, "0.0.0.0", 1234)
    assert config_from_args(build_parser().parse_args([])).tokens == ["test-token"]


def test_module_entry_point_announces_and_stops_on_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "streams.emulator", "--port", "0", "--token", "t1"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("Intercom emulator listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1]
        assert httpx.get(f"{url}/me", headers={"Authorization": "Bearer t1"}).status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_spec_dir_can_be_overridden(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("INTERCOM_OPENAPI_DIR", str(tmp_path))
    assert spec._spec_dir() == tmp_path
    monkeypatch.delenv("INTERCOM_OPENAPI_DIR")
    assert (spec._spec_dir() / "2.10-api.intercom.io.yaml").is_file()
    assert (spec._spec_dir() / "LICENSE-intercom-openapi").is_file()


def test_contract_checker_catches_bad_answers() -> None:
    with pytest.raises(AssertionError, match="owner_id"):
        contract.check("2.10", "GET", "/contacts/abc", 200, b'{"type": "contact", "owner_id": "12"}')
    with pytest.raises(AssertionError):
        contract.check("2.10", "GET", "/nothing", 404, b'{"message": "not an error.list"}')
    contract.check("2.16", "GET", "/contacts/abc", 200, b'{"type": "contact", "owner_id": "12"}')


async def test_concurrent_creates_race_to_one_winner(app: Starlette) -> None:
    async with make_client(app) as c:
        results = await asyncio.gather(
            *(c.post("/contacts", json={"external_id": "race"}) for _ in range(30))
        )
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200] + [409] * 29
    winner = next(r.json()["id"] for r in results if r.status_code == 200)
    assert all(winner in r.json()["errors"][0]["message"] for r in results if r.status_code == 409)


def test_threads_against_a_real_server() -> None:
    errors: list[str] = []
    with running_emulator(EmulatorConfig(rate_limit=0)) as base:
        httpx.post(f"{base}/contacts", json={"external_id": "u1"}, headers=AUTH).raise_for_status()

        def worker(n: int) -> None:
            with httpx.Client(base_url=base, headers=AUTH) as c:
                for i in range(20):
                    body = {"event_name": f"e{n}", "created_at": i, "user_id": "u1"}
                    r = c.post("/events", json=body)
                    if r.status_code != 202:
                        errors.append(r.text)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        state = httpx.get(f"{base}/_emulator/state").json()
        log = httpx.get(f"{base}/_emulator/requests").json()["requests"]
    assert errors == []
    assert len(state["events"]) == 120
    assert [e["seq"] for e in log] == sorted(e["seq"] for e in log) and len(log) == 121


def test_running_emulator_stops_cleanly() -> None:
    with running_emulator(EmulatorConfig()) as base:
        assert httpx.get(f"{base}/me", headers=AUTH).status_code == 200
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{base}/me", headers=AUTH, timeout=1)
