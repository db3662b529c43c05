"""Dead-letter rows the consumer writes itself: for a whole stream record that cannot be
processed (an unreadable record or body, records expired from the stream). The core writes
the rows of single rejected records; these take its rejected-record schema and reason codes,
exported by the core so that they are defined once."""

from __future__ import annotations

import data_processor_rs
import pyarrow as pa

# Dead-letter ``raw`` is capped like the core caps it.
MAX_RAW_CHARS = 65_536
REJECTED_SCHEMA = data_processor_rs.rejected_schema()
REASONS = frozenset(data_processor_rs.dead_letter_reasons())


def raw_excerpt(data: bytes) -> str:
    """The start of an unreadable record or body, as text, for the dead-letter ``raw``."""
    return data[:MAX_RAW_CHARS].decode("utf-8", errors="replace")


def whole_record_rejection(reason: str, message: str, raw: str) -> pa.RecordBatch:
    if reason not in REASONS:
        raise ValueError(f"{reason!r} is not a dead-letter reason the core defines")
    return pa.record_batch(
        [
            pa.array([0], pa.int64()),
            pa.array([0], pa.int64()),
            pa.array([None], pa.string()),
            pa.array([reason]),
            pa.array([message]),
            pa.array([raw]),
        ],
        schema=REJECTED_SCHEMA,
    )
