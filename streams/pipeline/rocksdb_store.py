"""Our RocksDB table store (scheme ``intercom-rocksdb://``, registered in pyproject.toml).

Faust's RocksDB store, plus: every database of the app opened with the app's one memory budget and
zstd (rocksdb_tuning.py), and a newly assigned active partition copied from its changelog in bulk
before Faust's recovery reads the rest (bulk_recovery.py). Both need a ``PipelineApp``; under a plain
``faust.App`` it behaves as Faust's store. Reads Faust's private ``_dbs`` / ``_db_for_partition``
(through bulk_recovery) to write the copied batches into the partition's open database.
"""

from __future__ import annotations

import logging
from typing import Any

from faust.stores import rocksdb

from streams.pipeline import bulk_recovery
from streams.pipeline.faust_app import PipelineApp
from streams.pipeline.rocksdb_tuning import TunedRocksDBOptions

log = logging.getLogger(__name__)


class Store(rocksdb.Store):
    def __init__(self, url: Any, app: Any, table: Any, **kwargs: Any) -> None:
        super().__init__(url, app, table, **kwargs)
        if isinstance(app, PipelineApp):  # ``self.options`` is what Faust built its options from
            self.rocksdb_options = TunedRocksDBOptions(
                app.rocksdb_budget, **(self.options or {}), use_rocksdict=self.use_rocksdict
            )

    async def assign_partitions(self, table: Any, tps: Any, generation_id: int = 0) -> None:
        await super().assign_partitions(table, tps, generation_id)
        source = self.app.changelog_source if isinstance(self.app, PipelineApp) else None
        if source is None:
            return
        try:
            await bulk_recovery.load(self, table, set(tps), source.bootstrap_servers, source.security)
        except Exception as exc:  # Faust's recovery reads whatever is left: slower, never wrong
            log.warning(
                "bulk recovery of %s failed (%r): Faust recovers it record by record", table.name, exc
            )
