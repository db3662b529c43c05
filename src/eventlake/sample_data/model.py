"""What a sample is: its configuration, the record kinds and invalid variants it holds, and
what :func:`~eventlake.sample_data.write_sample` reports (per file and for the sample)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, NamedTuple

from eventlake.sample_data.draws import _iso_z

Format = Literal["ndjson", "json", "csv"]
FORMATS: tuple[Format, ...] = ("ndjson", "json", "csv")
RecordKind = Literal["valid", "duplicate", "invalid"]

# Field order of resources/contracts/events.yaml, users.yaml and products.yaml (a test keeps
# them in sync; the contract loader lives in the Rust core, which this module does not need).
EVENT_FIELDS: tuple[str, ...] = (
    "event_id",
    "user_id",
    "event_type",
    "event_timestamp",
    "event_value",
    "product_id",
    "properties",
)
USER_FIELDS: tuple[str, ...] = ("user_id", "user_name", "created_at", "updated_at")
PRODUCT_FIELDS: tuple[str, ...] = ("product_id", "name", "category", "price")
EVENT_TYPES: tuple[str, ...] = (
    "page_view",
    "add_to_cart",
    "remove_from_cart",
    "purchase",
    "search",
    "signup",
    "login",
    "logout",
)

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1


# --------------------------------------------------------------------------------------------
# Configuration and results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleConfig:
    """What to generate. Invalid values raise ``ValueError`` with a readable message;
    ``renamed_users`` is capped at ``users``."""

    events: int = 100_000
    users: int = 2_000
    products: int = 300
    seed: int = 42
    duplicate_share: float = 0.02
    invalid_share: float = 0.01
    start: datetime = field(default_factory=lambda: datetime(2026, 11, 1, tzinfo=UTC))
    days: int = 28
    renamed_users: int = 20

    def __post_init__(self) -> None:
        def check_int(name: str, value: object, minimum: int) -> None:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name} must be an integer, got {value!r}")
            if value < minimum:
                raise ValueError(f"{name} must be at least {minimum}, got {value}")

        check_int("events", self.events, 0)
        check_int("users", self.users, 1)
        check_int("products", self.products, 1)
        check_int("seed", self.seed, 0)  # Random(-n) would be Random(n)
        check_int("days", self.days, 1)
        check_int("renamed_users", self.renamed_users, 0)
        if self.renamed_users > self.users:  # e.g. the default 20 with users=5
            object.__setattr__(self, "renamed_users", self.users)
        for name in ("duplicate_share", "invalid_share"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} must be a number, got {value!r}")
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if self.duplicate_share + self.invalid_share > 1.0:
            raise ValueError(
                "duplicate_share + invalid_share must not exceed 1, got "
                f"{self.duplicate_share} + {self.invalid_share}"
            )
        if not isinstance(self.start, datetime) or self.start.utcoffset() is None:
            raise ValueError(f"start must be a timezone-aware datetime, got {self.start!r}")
        object.__setattr__(self, "start", self.start.astimezone(UTC))
        end = self.start + timedelta(days=self.days)
        if end.year > 9999 or self.start.year < 1971:
            raise ValueError("the window start .. start + days must lie within 1971..9999")

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=self.days)

    @property
    def duplicate_count(self) -> int:
        return round(self.events * self.duplicate_share)

    @property
    def invalid_count(self) -> int:
        return round(self.events * self.invalid_share)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["start"] = _iso_z(self.start)
        return data


class InvalidVariant(NamedTuple):
    """One way of breaking a record, and the rejection it must get in each format."""

    name: str
    reason: str  # NDJSON and JSON (array) reason
    field: str | None  # contract field at fault; None when the record as a whole is bad
    csv_reason: str | None  # reason when written as CSV; None: the CSV row is a valid record
    csv_field: str | None


INVALID_VARIANTS: tuple[InvalidVariant, ...] = (
    InvalidVariant("missing_event_type", "missing", "event_type", "null", "event_type"),
    InvalidVariant("null_user_id", "null", "user_id", "null", "user_id"),
    InvalidVariant("wrong_type_event_value", "wrong_type", "event_value", None, None),
    InvalidVariant("wrong_type_user_id", "wrong_type", "user_id", None, None),
    InvalidVariant(
        "out_of_range_event_value", "out_of_range", "event_value", "out_of_range", "event_value"
    ),
    InvalidVariant(
        "not_in_enum_event_type", "not_in_enum", "event_type", "not_in_enum", "event_type"
    ),
    InvalidVariant(
        "bad_timestamp_text", "bad_timestamp", "event_timestamp", "bad_timestamp", "event_timestamp"
    ),
    InvalidVariant(
        "bad_timestamp_date", "bad_timestamp", "event_timestamp", "bad_timestamp", "event_timestamp"
    ),
    InvalidVariant("too_long_event_id", "too_long", "event_id", "too_long", "event_id"),
    InvalidVariant("too_short_user_id", "too_short", "user_id", "null", "user_id"),
    InvalidVariant("invalid_json_truncated", "invalid_json", None, "ragged_row", None),
    InvalidVariant("not_an_object_array", "not_an_object", None, "ragged_row", None),
    InvalidVariant(
        "missing_event_timestamp", "missing", "event_timestamp", "null", "event_timestamp"
    ),
    InvalidVariant("null_event_timestamp", "null", "event_timestamp", "null", "event_timestamp"),
    InvalidVariant("duplicate_key", "duplicate_key", None, "ragged_row", None),
    InvalidVariant("too_deep", "too_deep", None, "ragged_row", None),
)
_VARIANTS_BY_NAME = {variant.name: variant for variant in INVALID_VARIANTS}
_CSV_RAGGED = frozenset(v.name for v in INVALID_VARIANTS if v.csv_reason == "ragged_row")


class GeneratedRecord(NamedTuple):
    """One emitted event record.

    ``line`` is the NDJSON text (no newline). ``expected_reason``/``expected_field`` are the
    rejection the validator must report for that line (``None`` for valid and duplicate
    records); ``variant`` names the :class:`InvalidVariant` of an invalid record.
    """

    line: str
    kind: RecordKind
    expected_reason: str | None = None
    expected_field: str | None = None
    variant: str | None = None

    def parse(self) -> Any:
        """The JSON value of ``line`` (``ValueError`` for an ``invalid_json`` record)."""
        return json.loads(self.line)

    def expected_for(self, format: Format) -> tuple[RecordKind, str | None, str | None] | None:
        """``(kind, reason, field)`` of this record once written as ``format``.

        ``None`` means the record is not written in that format (``invalid_json`` in a JSON
        array). In CSV an invalid record may become valid (kind ``"valid"``, reason ``None``).
        """
        if self.kind != "invalid" or self.variant is None:
            return self.kind, None, None
        if format == "json" and self.expected_reason == "invalid_json":
            return None
        if format == "csv":
            variant = _VARIANTS_BY_NAME[self.variant]
            if variant.csv_reason is None:
                return "valid", None, None
            return "invalid", variant.csv_reason, variant.csv_field
        return "invalid", self.expected_reason, self.expected_field


@dataclass(frozen=True)
class FileStats:
    """One written file: what it holds and what a correct pipeline must make of it."""

    path: Path
    format: Format
    gzip: bool
    records: int  # records written
    valid: int
    duplicate: int
    invalid: int
    skipped: int  # records of the stream that this format cannot hold (not written)
    invalid_by_reason: Mapping[str, int]
    bytes: int  # size on disk
    uncompressed_bytes: int
    sha256: str  # of the uncompressed content

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "gzip": self.gzip,
            "records": self.records,
            "valid": self.valid,
            "duplicate": self.duplicate,
            "invalid": self.invalid,
            "skipped": self.skipped,
            "invalid_by_reason": dict(sorted(self.invalid_by_reason.items())),
            "bytes": self.bytes,
            "uncompressed_bytes": self.uncompressed_bytes,
            "sha256": self.sha256,
        }


@dataclass(frozen=True)
class SampleSummary:
    """What :func:`write_sample` wrote; ``manifest`` is the content of ``manifest.json``."""

    directory: Path
    manifest_path: Path
    config: SampleConfig
    files: Mapping[str, FileStats]  # by file name, e.g. "events.ndjson.gz"
    manifest: Mapping[str, Any]

    @property
    def events(self) -> Mapping[str, Any]:
        """Counts of the generated event stream (``manifest["events"]``)."""
        events: Mapping[str, Any] = self.manifest["events"]
        return events
