"""make bench-scale: many known contacts on RocksDB (not in CI)."""
