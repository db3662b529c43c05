"""The pure-Python reference implementation of docs/processing.md.

This package is the oracle the Rust core (``data_processor_rs``) is tested against record for
record, and the baseline it is benchmarked against. It is written to be obviously correct:
the standard library (``json``, ``csv``, ``zlib``, ``re``) with plain dicts and lists, and
pyarrow only for the final conversion to Arrow. Every rule of the spec is implemented here in
the order the spec states it; where the spec leaves a choice open, the choice is written next
to the code (``Interpretation:``) so the Rust side can follow it.

    batch = parse_events(body)                      # ParsedBatch
    valid = validate_schema(batch, contract)        # ValidatedBatch
    rows = transform_batch(valid, job_id="j1")      # TransformedBatch
    rows = deduplicate(rows)                        # or Deduplicator(capacity).deduplicate(rows)
    table = to_arrow(rows)                          # pyarrow.RecordBatch

Its modules mirror the core's files (``crates/processor-core/src/*.rs``): ``input``, ``json``,
``parse``, ``timestamp``, ``contract``, ``validate``, ``transform``, ``dedup``, ``rejection``,
``batch``, ``error``, and ``process`` for the four steps in one call.
"""

from eventlake.processing.reference.batch import TransformedBatch, ValidatedBatch
from eventlake.processing.reference.dedup import Deduplicator, deduplicate
from eventlake.processing.reference.error import InputError
from eventlake.processing.reference.input import FORMATS
from eventlake.processing.reference.json import MAX_DEPTH
from eventlake.processing.reference.parse import (
    DEFAULT_MAX_DECOMPRESSED_BYTES,
    DEFAULT_MAX_RECORD_BYTES,
    ParsedBatch,
    ParsedRecord,
    parse_events,
)
from eventlake.processing.reference.process import process
from eventlake.processing.reference.rejection import (
    RAW_LIMIT,
    Rejection,
    rejected_schema,
    rejected_to_arrow,
)
from eventlake.processing.reference.timestamp import (
    EPOCH_MS_THRESHOLD,
    MAX_TIMESTAMP_US,
    MICROS_PER_DAY,
    MIN_TIMESTAMP_US,
)
from eventlake.processing.reference.transform import arrow_schema, to_arrow, transform_batch
from eventlake.processing.reference.validate import INT64_MAX, INT64_MIN, validate_schema

__all__ = [
    "DEFAULT_MAX_DECOMPRESSED_BYTES",
    "DEFAULT_MAX_RECORD_BYTES",
    "EPOCH_MS_THRESHOLD",
    "FORMATS",
    "INT64_MAX",
    "INT64_MIN",
    "MAX_DEPTH",
    "MAX_TIMESTAMP_US",
    "MICROS_PER_DAY",
    "MIN_TIMESTAMP_US",
    "RAW_LIMIT",
    "Deduplicator",
    "InputError",
    "ParsedBatch",
    "ParsedRecord",
    "Rejection",
    "TransformedBatch",
    "ValidatedBatch",
    "arrow_schema",
    "deduplicate",
    "parse_events",
    "process",
    "rejected_schema",
    "rejected_to_arrow",
    "to_arrow",
    "transform_batch",
    "validate_schema",
]
