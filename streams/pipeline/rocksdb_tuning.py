"""RocksDB options for many known contacts: bounded memory for the whole process, zstd on disk.

Faust opens one RocksDB database per table partition, each with its own 2 GB block cache and up to
3 x 64 MB of memtables: with five tables and a few partitions per worker, memory is bounded only by
the data. Here every database of the process shares one block cache and one write-buffer manager
whose memtables are charged to that cache, so ``ROCKSDB_MEMORY_MB`` caps both together. Table values
are JSON full of hex hashes and ids, which Snappy (RocksDB's default) barely shrinks; zstd's entropy
coding does.
"""

from __future__ import annotations

from typing import Any

from faust.stores import rocksdb

WRITE_BUFFER_BYTES = 8 * 1024 * 1024  # per database: flushed early, the manager caps the sum

_shared: dict[str, Any] = {}


def install(memory_mb: int) -> None:
    """Apply to every RocksDB database the process opens from now on (idempotent)."""
    lib = rocksdb.rocksdict
    if lib is None:  # the rocksdb extra is not installed: nothing opens RocksDB
        return
    budget = memory_mb * 1024 * 1024
    if _shared.get("budget") != budget:
        cache = lib.Cache(budget)
        _shared.update(
            budget=budget,
            cache=cache,
            # Memtables count against the same cache: one figure bounds RocksDB's memory.
            manager=lib.WriteBufferManager.new_write_buffer_manager_with_cache(budget // 2, False, cache),
        )
    options = rocksdb.RocksDBOptions
    if getattr(options.as_options, "_tuned", False):
        return
    original = options.as_options

    def as_options(self: Any) -> Any:
        db_options = original(self)
        if not self.use_rocksdict:
            return db_options
        db_options.set_write_buffer_size(min(self.write_buffer_size, WRITE_BUFFER_BYTES))
        db_options.set_max_write_buffer_number(2)
        db_options.set_write_buffer_manager(_shared["manager"])
        db_options.set_compression_type(lib.DBCompressionType.zstd())
        table = lib.BlockBasedOptions()
        table.set_bloom_filter(self.bloom_filter_size, block_based=True)
        table.set_block_cache(_shared["cache"])
        table.set_index_type(lib.BlockBasedIndexType.binary_search())
        db_options.set_block_based_table_factory(table)
        return db_options

    as_options._tuned = True  # type: ignore[attr-defined]
    options.as_options = as_options  # type: ignore[method-assign]
