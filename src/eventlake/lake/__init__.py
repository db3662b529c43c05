"""The lake: Iceberg tables through a catalog, committed exactly once per stream position."""

from eventlake.lake.schema import IncompatibleSchemaError, TableSpec
from eventlake.lake.watermark import SequenceRange, WatermarkOverlapError
from eventlake.lake.writer import (
    DEAD_LETTER_TABLE,
    BatchCommit,
    CommitConflictError,
    Lake,
    TableCommit,
    dead_letter_rows,
)

__all__ = [
    "DEAD_LETTER_TABLE",
    "BatchCommit",
    "CommitConflictError",
    "IncompatibleSchemaError",
    "Lake",
    "SequenceRange",
    "TableCommit",
    "TableSpec",
    "WatermarkOverlapError",
    "dead_letter_rows",
]
