"""What the pipeline asks of Faust (streams/pipeline/faust_app.py): one version, our transport and
store found by Faust's own registries (entry points of the installed package), hooks per app."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from faust.stores.memory import Store as MemoryStore

from streams.errors import ConfigurationError
from streams.pipeline import rocksdb_store, transport
from streams.pipeline.faust_app import (
    FAUST_VERSION,
    Hooks,
    PipelineApp,
    broker_urls,
    check_faust,
    store_url,
)
from streams.pipeline.rocksdb_tuning import TunedRocksDBOptions

REPO = Path(__file__).resolve().parents[2]


def test_another_faust_version_is_refused_naming_both() -> None:
    with pytest.raises(ConfigurationError) as refused:
        check_faust(version_of={"faust-streaming": "0.15.4"}.__getitem__)
    assert "faust-streaming 0.15.4 is installed" in str(refused.value)
    assert f"requires exactly {FAUST_VERSION}" in str(refused.value)


def test_the_pinned_version_passes_and_is_the_one_pyproject_pins() -> None:
    check_faust(version_of={"faust-streaming": FAUST_VERSION}.__getitem__)
    check_faust()  # this environment: installed as pyproject.toml says, entry points registered
    assert f'"faust-streaming=={FAUST_VERSION}"' in (REPO / "pyproject.toml").read_text()


def test_user_facing_store_urls_map_to_our_schemes() -> None:
    assert store_url("rocksdb://") == "intercom-rocksdb://"
    assert store_url("memory://") == "memory://"
    with pytest.raises(ConfigurationError, match="rocksdb:// or memory://"):
        store_url("redis://localhost")
    assert broker_urls("a:9092, kafka://b:9093,") == ["intercom-kafka://a:9092", "intercom-kafka://b:9093"]


def _app(tmp_path: Path, store: str, hooks: Hooks | None = None) -> PipelineApp:
    return PipelineApp(
        "faust-app-test", hooks=hooks, broker=broker_urls("127.0.0.1:1"), store=store_url(store),
        datadir=str(tmp_path), rocksdb_memory_mb=16,
    )  # fmt: skip


async def test_faust_builds_our_transport_and_guarded_consumer_from_the_url(tmp_path: Path) -> None:
    hooks = Hooks()
    app = _app(tmp_path, "memory://", hooks)
    assert type(app.transport) is transport.Transport
    assert type(app.consumer) is transport.Consumer and type(app.producer) is transport.Producer
    assert app.guarded_consumer.hooks is hooks
    assert app.ledger is app.guarded_consumer.ledger  # the consumer owns it
    assert type(app.Table("t", default=None).data) is MemoryStore  # memory:// stays Faust's


async def test_rocksdb_tables_of_one_app_share_its_budget(tmp_path: Path) -> None:
    pytest.importorskip("rocksdict")
    app = _app(tmp_path, "rocksdb://")
    stores = [app.Table(name, default=None).data for name in ("a", "b")]
    assert all(type(store) is rocksdb_store.Store for store in stores)
    options = [store.rocksdb_options for store in stores]  # type: ignore[attr-defined]
    assert all(isinstance(o, TunedRocksDBOptions) and o.budget is app.rocksdb_budget for o in options)
    db = options[0].open(tmp_path / "probe.db")  # Faust's open, with our options
    db[b"k"] = b"v"
    assert db[b"k"] == b"v"
    db.close()
    assert app.rocksdb_budget.parts()[0] is app.rocksdb_budget.parts()[0]  # one cache, made once


async def test_hooks_run_in_order_of_wiring() -> None:
    calls: list[str] = []
    hooks = Hooks()
    hooks.on_reading_restarted.append(lambda: calls.append("forget"))

    async def drain() -> None:
        await asyncio.sleep(0)
        calls.append("drain")

    hooks.on_before_rebalance_wait.append(drain)
    hooks.reading_restarted()
    await hooks.before_rebalance_wait()
    assert calls == ["forget", "drain"]


async def test_the_rebalance_wait_runs_the_hook_first(tmp_path: Path) -> None:
    calls: list[str] = []

    async def drain() -> None:
        calls.append("drain")

    hooks = Hooks(on_before_rebalance_wait=[drain])
    consumer = _app(tmp_path, "memory://", hooks).guarded_consumer
    await consumer.wait_empty()  # nothing in flight, nothing committable: Faust's wait ends at once
    assert calls == ["drain"]
