"""Dead-letter rows the consumer writes itself: for a whole stream record that cannot be
processed (an unreadable record or body, records expired from the stream). The core writes
the rows of single rejected records; these follow its rejected-record schema."""

from __future__ import annotations

import pyarrow as pa

# Dead-letter ``raw`` is capped like the core caps it.
MAX_RAW_CHARS = 65_536
REJECTED_SCHEMA = pa.schema(
    [
        pa.field("record_index", pa.int64(), nullable=False),
        pa.field("line", pa.int64(), nullable=False),
        pa.field("field", pa.string()),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("message", pa.string(), nullable=False),
        pa.field("raw", pa.string(), nullable=False),
    ]
)


def raw_excerpt(data: bytes) -> str:
    """The start of an unreadable record or body, as text, for the dead-letter ``raw``."""
    return data[:MAX_RAW_CHARS].decode("utf-8", errors="replace")


def whole_record_rejection(reason: str, message: str, raw: str) -> pa.RecordBatch:
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
