"""Avro codecs for every record the app reads or writes (schemas live in the top-level ``schemas/``)."""

from streams.records.codec import AvroCodec, RecordDecodeError, RecordEncodeError, codec_for, schema_dir

__all__ = ["AvroCodec", "RecordDecodeError", "RecordEncodeError", "codec_for", "schema_dir"]
