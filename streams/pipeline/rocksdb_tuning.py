"""RocksDB options for many known contacts: bounded memory for the whole process, zstd on disk.

Faust opens one RocksDB database per table partition, each with its own 2 GB block cache and up to
3 x 64 MB of memtables: with five tables and a few partitions per worker, memory is bounded only by
the data. Here every database of the process shares one block cache and one write-buffer manager
whose memtables are charged to that cache, so ``ROCKSDB_MEMORY_MB`` caps both together. Table values
are JSON full of hex hashes and ids, which Snappy (RocksDB's default) barely shrinks; zstd's entropy
coding does. ``TunedRocksDBOptions`` is what our RocksDB store (rocksdb_store.py) opens databases with.
"""

from __future__ import annotations

from typing import Any

from faust.stores import rocksdb

WRITE_BUFFER_BYTES = 8 * 1024 * 1024  # per database: flushed early, the manager caps the sum


class MemoryBudget:
    """One block cache and one write-buffer manager for every database opened with it."""

    def __init__(self, memory_mb: int) -> None:
        self.budget_bytes = memory_mb * 1024 * 1024
        self._cache: Any = None
        self._manager: Any = None

    def parts(self) -> tuple[Any, Any]:
        """(block cache, write-buffer manager), made on first use (rocksdict is an optional extra)."""
        if self._cache is None:
            lib = rocksdb.rocksdict
            self._cache = lib.Cache(self.budget_bytes)
            # Memtables count against the same cache: one figure bounds RocksDB's memory.
            self._manager = lib.WriteBufferManager.new_write_buffer_manager_with_cache(
                self.budget_bytes // 2, False, self._cache
            )
        return self._cache, self._manager


class TunedRocksDBOptions(rocksdb.RocksDBOptions):
    """Faust's RocksDB options, then: small memtables charged to ``budget``, its cache, zstd."""

    def __init__(self, budget: MemoryBudget, **options: Any) -> None:
        super().__init__(**options)
        self.budget = budget

    def as_options(self) -> Any:
        db_options = super().as_options()
        if not self.use_rocksdict:
            return db_options
        lib = rocksdb.rocksdict
        cache, manager = self.budget.parts()
        db_options.set_write_buffer_size(min(self.write_buffer_size, WRITE_BUFFER_BYTES))
        db_options.set_max_write_buffer_number(2)
        db_options.set_write_buffer_manager(manager)
        db_options.set_compression_type(lib.DBCompressionType.zstd())
        table = lib.BlockBasedOptions()
        table.set_bloom_filter(self.bloom_filter_size, block_based=True)
        table.set_block_cache(cache)
        table.set_index_type(lib.BlockBasedIndexType.binary_search())
        db_options.set_block_based_table_factory(table)
        return db_options
