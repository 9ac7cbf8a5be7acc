"""`intercom-stream emulator` / `python -m streams.emulator` command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from streams.emulator.config import SUPPORTED_VERSIONS, EmulatorConfig, parse_rate_limit
from streams.emulator.latency import parse_latency


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="intercom-stream emulator", description="Run the Intercom API emulator.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8089)
    p.add_argument(
        "--token", action="append", dest="tokens", metavar="TOKEN", help="accepted bearer token (repeatable)"
    )
    p.add_argument(
        "--rate-limit", default="83/10s", help="requests per window per token, e.g. 83/10s, or 'off'"
    )
    p.add_argument("--api-version", default="2.10", choices=SUPPORTED_VERSIONS)
    p.add_argument("--search-lag", type=float, default=0.0, metavar="SECONDS")
    p.add_argument("--fault-rate", type=float, default=0.0, metavar="FLOAT")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument(
        "--latency", default="0", help="added response time, e.g. 150ms or 80-250ms (uniform), default none"
    )
    p.add_argument(
        "--state",
        type=Path,
        metavar="FILE",
        help="workspace to load at start (GET /_emulator/state's shape)",
    )
    p.add_argument("--dump-state", type=Path, metavar="FILE", help="write the workspace to FILE on exit")
    return p


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    limit, window = parse_rate_limit(args.rate_limit)
    latency_min, latency_max = parse_latency(args.latency)
    return EmulatorConfig(
        tokens=args.tokens or ["test-token"],
        rate_limit=limit,
        rate_window_s=window,
        api_version=args.api_version,
        search_lag_s=args.search_lag,
        fault_rate=args.fault_rate,
        seed=args.seed,
        latency_min_s=latency_min,
        latency_max_s=latency_max,
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    from streams.emulator.server import run  # uvicorn import only when serving
    from streams.emulator.snapshot import SnapshotError

    try:
        run(
            config, host=args.host, port=args.port, on_ready=_print_ready,
            state_in=args.state, state_out=args.dump_state,
        )  # fmt: skip
    except SnapshotError as exc:
        print(f"intercom-stream emulator: {exc}", file=sys.stderr)
        return 2
    return 0


def _print_ready(url: str) -> None:
    print(f"Intercom emulator listening on {url}", flush=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
