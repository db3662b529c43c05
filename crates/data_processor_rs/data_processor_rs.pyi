"""eventlake's Rust processing core.

Parse JSON / NDJSON / CSV (optionally gzipped) into batches that stay in Rust, validate them
against a data contract, transform and deduplicate them, and hand them to Python as Arrow.
The exact behaviour of every step is written down in docs/processing.md.

    import data_processor_rs
    events = data_processor_rs.parse_events(raw_data)
    validated = data_processor_rs.validate_schema(events)   # a contract can be given
    transformed = data_processor_rs.transform_batch(validated)
    table = transformed.to_arrow()                          # pyarrow.RecordBatch
"""

from os import PathLike
from typing import Literal, TypeAlias, final

import pyarrow

__version__: str

Format: TypeAlias = Literal["auto", "json", "ndjson", "csv"]  # noqa: PYI047 (used by callers)

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
    unusable CSV header, an unknown format). Single bad records never raise: they are rejected."""

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
        """The events contract shipped with eventlake (contracts/events.yaml)."""
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
