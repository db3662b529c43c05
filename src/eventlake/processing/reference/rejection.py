"""Rejected records: a bad record is never dropped, it is kept with where and why
(``rejection.rs``)."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

RAW_LIMIT = 65_536


@dataclass(frozen=True)
class Rejection:
    """One rejected record (docs/processing.md, *Rejected records*)."""

    record_index: int
    line: int
    field: str | None
    reason: str
    message: str
    raw: str


def _raw(data: bytes) -> str:
    """Cut to RAW_LIMIT bytes, replace invalid UTF-8, cut again at a character boundary."""
    text = data[:RAW_LIMIT].decode("utf-8", "replace")
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) > RAW_LIMIT:
        text = encoded[:RAW_LIMIT].decode("utf-8", "ignore")
    return text


def rejected_schema() -> pa.Schema:
    return pa.schema(
        [
            pa.field("record_index", pa.int64(), nullable=False),
            pa.field("line", pa.int64(), nullable=False),
            pa.field("field", pa.string(), nullable=True),
            pa.field("reason", pa.string(), nullable=False),
            pa.field("message", pa.string(), nullable=False),
            pa.field("raw", pa.string(), nullable=False),
        ]
    )


def rejected_to_arrow(rejected: list[Rejection]) -> pa.RecordBatch:
    schema = rejected_schema()
    columns = {
        "record_index": [r.record_index for r in rejected],
        "line": [r.line for r in rejected],
        "field": [r.field for r in rejected],
        "reason": [r.reason for r in rejected],
        "message": [r.message for r in rejected],
        "raw": [r.raw for r in rejected],
    }
    arrays = [pa.array(columns[field.name], type=field.type) for field in schema]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
