"""eventlake's Rust processing core.

Parse JSON / NDJSON / CSV (optionally gzipped) into batches that stay in Rust, validate them
against a data contract, transform and deduplicate them, and hand them to Python as Arrow.
The exact behaviour of every step is written down in docs/processing.md. Each step's batch is
computed when first asked for (its rows, rejections or length), so a chain looked at only at
its end runs in one pass over the body, as ``process`` does; results and errors are the same.

    import data_processor_rs
    events = data_processor_rs.parse_events(raw_data)
    validated = data_processor_rs.validate_schema(events)   # a contract can be given
    transformed = data_processor_rs.transform_batch(validated)
    table = transformed.to_arrow()                          # pyarrow.RecordBatch
    files = data_processor_rs.write_iceberg(transformed, table_path, field_ids, file_prefix="f")
"""

from collections.abc import Mapping, Sequence
from os import PathLike
from typing import Literal, Protocol, TypeAlias, final

import pyarrow

__version__: str

Format: TypeAlias = Literal["auto", "json", "ndjson", "csv"]  # noqa: PYI047 (used by callers)

class _ArrowArrayExportable(Protocol):
    """A record batch or struct array under the Arrow PyCapsule interface."""

    def __arrow_c_array__(
        self, requested_schema: object | None = None
    ) -> tuple[object, object]: ...

class _ArrowStreamExportable(Protocol):
    """A stream of record batches under the Arrow PyCapsule interface (e.g. pyarrow.Table)."""

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...

class ProcessorError(ValueError):
    """Base class of every error raised by data_processor_rs."""

class ContractError(ProcessorError):
    """A data contract is malformed. ``path`` is the file (or ``<string>``), ``field`` the
    place in it (``fields[2].type``) when known, ``reason`` what is wrong."""

    path: str
    field: str | None
    reason: str

class InputError(ProcessorError):
    """The body as a whole cannot be read (corrupt gzip, too large once decompressed, an
    unusable CSV header, an unknown format; a cut-off JSON array when asked to by
    ``validate_events``). Single bad records never raise: they are rejected."""

    reason: str

@final
class Contract:
    """A validated data contract (fields, types, constraints, dedup key, partitioning)."""

    @staticmethod
    def from_yaml(text: str, source: str = "<string>") -> Contract: ...
    @staticmethod
    def from_file(path: str | PathLike[str]) -> Contract: ...
    @staticmethod
    def default_events() -> Contract:
        """The events contract shipped with eventlake (resources/contracts/events.yaml)."""
    @property
    def name(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def dedup_key(self) -> list[str]: ...
    @property
    def field_names(self) -> list[str]: ...
    def to_json(self) -> str:
        """The normalised contract as JSON (every default filled in)."""
    def arrow_schema(self) -> pyarrow.Schema:
        """The schema of a transformed batch (fields, partition column, metadata)."""

@final
class ParsedBatch:
    """Records parsed from one body, kept in Rust; not yet checked against a contract."""

    @property
    def format(self) -> Literal["json", "ndjson", "csv"]: ...
    @property
    def num_rejected(self) -> int: ...
    @property
    def num_received(self) -> int:
        """Records read from the body: valid + rejected (+ duplicates, once deduplicated)."""
    @property
    def rejected(self) -> pyarrow.RecordBatch: ...
    def __len__(self) -> int: ...

@final
class ValidatedBatch:
    """Rows that passed the contract, typed, kept in Rust; plus every rejection so far."""

    @property
    def contract(self) -> Contract: ...
    @property
    def num_rejected(self) -> int: ...
    @property
    def num_received(self) -> int:
        """Records read from the body: valid + rejected (+ duplicates, once deduplicated)."""
    @property
    def rejected(self) -> pyarrow.RecordBatch: ...
    def to_arrow(self) -> pyarrow.RecordBatch: ...
    def __len__(self) -> int: ...
    def __arrow_c_array__(self, requested_schema: object | None = None) -> tuple[object, object]: ...

@final
class RecordExtents:
    """Where each record of a body lies, and the format it was read as: what
    ``validate_events`` noted for ``route``, kept in Rust."""

    def __len__(self) -> int: ...

@final
class TransformedBatch:
    """Rows ready for the lake: normalised, partition column derived, metadata added."""

    @property
    def contract(self) -> Contract: ...
    @property
    def num_rejected(self) -> int: ...
    @property
    def num_received(self) -> int:
        """Records read from the body: valid + rejected (+ duplicates, once deduplicated)."""
    @property
    def num_duplicates(self) -> int:
        """Rows removed by deduplication so far (0 until deduplicated)."""
    @property
    def rejected(self) -> pyarrow.RecordBatch: ...
    def to_arrow(self) -> pyarrow.RecordBatch: ...
    def __len__(self) -> int: ...
    def __arrow_c_array__(self, requested_schema: object | None = None) -> tuple[object, object]: ...

@final
class Deduplicator:
    """Remembers dedup keys across batches, at most ``capacity`` of them, oldest forgotten first."""

    def __new__(cls, capacity: int = 10_000_000) -> Deduplicator: ...
    @property
    def capacity(self) -> int: ...
    def __len__(self) -> int: ...
    def deduplicate(self, batch: TransformedBatch) -> TransformedBatch:
        """Drop rows whose key was seen in this batch or an earlier one; remember the rest."""
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(data: bytes) -> Deduplicator: ...
    def save(self, path: str | PathLike[str]) -> None:
        """Write the state atomically (temporary file, then rename)."""
    @staticmethod
    def load(path: str | PathLike[str]) -> Deduplicator: ...

@final
class DataFile:
    """One Parquet data file of an Iceberg table, encoded in memory and not yet stored.

    The caller writes ``data`` to ``path`` (e.g. through pyiceberg's FileIO, local or S3) and
    adds the file to the table."""

    @property
    def path(self) -> str:
        """``{table_path}/data/{partition_name}={YYYY-MM-DD|null}/{file_prefix}-{n:05d}.parquet``,
        or ``{table_path}/data/{file_prefix}-{n:05d}.parquet`` when not partitioned."""
    @property
    def partition_day(self) -> int | None:
        """Days since 1970-01-01 of every row (Iceberg's day transform); None when not
        partitioned, or for the rows whose partition source is null."""
    @property
    def record_count(self) -> int: ...
    @property
    def file_size_in_bytes(self) -> int: ...
    @property
    def data(self) -> bytes:
        """The whole Parquet file."""

def parse_events(
    data: bytes,
    format: Format = "auto",
    *,
    max_record_bytes: int = 1_048_576,
    max_decompressed_bytes: int = 1_073_741_824,
) -> ParsedBatch: ...
def validate_schema(
    batch: ParsedBatch, contract: Contract | str | PathLike[str] | None = None
) -> ValidatedBatch:
    """Split valid rows from rejected ones. ``contract`` is a Contract, a path to a YAML
    contract, or None for the events contract."""

def transform_batch(
    batch: ValidatedBatch,
    *,
    job_id: str = "",
    source: str = "",
    ingested_at_us: int | None = None,
) -> TransformedBatch: ...
def deduplicate(batch: TransformedBatch) -> TransformedBatch:
    """Keep the first row of each dedup key within the batch."""

def process(
    data: bytes,
    contract: Contract | str | PathLike[str] | None = None,
    *,
    format: Format = "auto",
    job_id: str = "",
    source: str = "",
    ingested_at_us: int | None = None,
    deduplicator: Deduplicator | None = None,
    max_record_bytes: int = 1_048_576,
    max_decompressed_bytes: int = 1_073_741_824,
) -> TransformedBatch:
    """parse → validate → transform → deduplicate in one call (one crossing of the boundary)."""

def write_iceberg(
    batch: TransformedBatch | ValidatedBatch | _ArrowArrayExportable | _ArrowStreamExportable,
    table_path: str,
    field_ids: Mapping[str, int],
    *,
    file_prefix: str,
    partition_source: str | None = None,
    partition_name: str | None = None,
    zstd_level: int = 1,
    threads: int = 1,
) -> list[DataFile]:
    """Encode rows as Iceberg Parquet data files, in memory: one file, or one per day of
    ``partition_source`` (a timestamp[us] or date32 column) in ascending order, the rows with a
    null source last. Rows keep their order within a file; an empty batch gives no files.

    ``field_ids`` maps every column to its Iceberg field id (nested fields carry theirs as
    ``PARQUET:field_id`` metadata); the ids go into the Parquet schema and no Arrow schema is
    embedded. Files are ZSTD-compressed at ``zstd_level``, with min/max statistics per column
    chunk; non-nullable columns are REQUIRED. ``partition_name`` names the partition folders
    and is required with ``partition_source``. Partition files are encoded on up to ``threads``
    threads (the GIL is released throughout). A column without an id, or a partition source
    that is missing or of another type, raises ProcessorError; a batch that is not Arrow,
    TypeError."""

def gunzip(data: bytes, limit: int) -> bytes:
    """Decompress gzip data (every member, as ``gzip -c a b`` writes), stopping as soon as the
    output passes ``limit`` bytes. InputError with reason ``bad_gzip`` (corrupt, truncated) or
    ``too_large``."""

def record_extents(
    data: bytes,
    format: Format = "auto",
    *,
    max_record_bytes: int = 1_048_576,
    max_decompressed_bytes: int = 1_073_741_824,
) -> list[tuple[int, int]]:
    """``(start, end)`` byte offsets of every record, by record index as the core counts them
    (accepted and rejected alike), into the body once decompressed (a UTF-8 byte-order mark
    counts). A JSON array element spans its value, an NDJSON record its line without the line
    end, a CSV row its text without line ends. Raises InputError as ``parse_events`` does."""

def validate_events(
    data: bytes,
    contract: Contract | str | PathLike[str] | None = None,
    format: Format = "auto",
    *,
    max_record_bytes: int = 1_048_576,
    max_decompressed_bytes: int = 1_073_741_824,
    truncated_is_error: bool = False,
) -> tuple[ValidatedBatch, RecordExtents]:
    """``validate_schema(parse_events(data, format), contract)`` in one pass over the body (the
    same batch), noting where each record lies for ``route``. Raises InputError as
    ``parse_events`` does; with ``truncated_is_error``, also for a JSON array body that ends
    before its ``]`` (reason ``truncated_body``: cut off in transit) instead of rejecting
    its last record."""

def route(
    data: bytes, batch: ValidatedBatch, extents: RecordExtents, starts: Sequence[int]
) -> list[tuple[int, int, bytes | None, int]] | None:
    """The body cut into one part per shard owning its records' dedup keys, for shards whose
    hash key ranges start at ``starts`` (sorted, the first at 0), in the order of their first
    records: ``(shard index, explicit hash key, bytes, records)``, bytes None when the part is
    the whole body as sent (all its records go to one shard). A key's hash key is Iceberg's
    bucket hash of its text (murmur3, ``& 0x7fffffff``, mod 2**31 - 1) shifted left by 97;
    rejected records travel in the first part. None when the body cannot be cut (no dedup key,
    no valid record, a gzip body, a CSV body without a header). ``data``, ``batch`` and
    ``extents`` are one body's, from ``validate_events``."""

def rejected_schema() -> pyarrow.Schema:
    """The schema of a batch's ``rejected``: record_index, line, field, reason, message, raw."""

def dead_letter_schema() -> pyarrow.Schema:
    """The dead-letter table: dataset, job_id, received_at (timestamp[us, UTC]), source, then
    the columns of ``rejected_schema()``; only ``field`` is nullable."""

def dead_letter_reasons() -> list[str]:
    """Every ``reason`` a dead-letter row can carry: a record's (``invalid_json``, ...), a whole
    body's (``bad_gzip``, ...), and the stream's own (``unreadable_record``,
    ``unreadable_body``, ``expired_in_stream``)."""
