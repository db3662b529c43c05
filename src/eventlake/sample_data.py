"""Deterministic sample data: events (with duplicates and broken records), users, products.

Everything is drawn from ``random.Random(seed)`` (its ``random()`` and ``getrandbits()`` only,
with plain arithmetic on top) and nothing else: no clock, no ``hash()``, no ``uuid``, no libm
function. The same :class:`SampleConfig` gives byte-identical files on any machine (gzip output
also depends on the zlib build; the manifest's ``sha256`` is of the uncompressed content).
Generation streams in blocks (constant memory): about 10 µs per event in pure Python, in one
process or, with ``write_sample(..., workers=n)``, in several.

The event stream is ``config.events`` records long. Of those, ``round(events * duplicate_share)``
are exact repeats of a recent valid event (same line, same ``event_id``) and
``round(events * invalid_share)`` are broken on purpose, cycling through
:data:`INVALID_VARIANTS`; each :class:`GeneratedRecord` says what it is and which rejection
reason (``docs/processing.md``) the validator must give it. :func:`write_sample` writes the
files and a ``manifest.json`` that tests and benchmarks reconcile counts against.

Formats: every record has an NDJSON ``line``. JSON arrays hold the same texts as elements,
except ``invalid_json`` records, which cannot live inside an array without swallowing the rest
of the body: they are skipped (and counted as skipped). CSV cells are text, so some breakages
read differently there (see :data:`INVALID_VARIANTS`): an empty cell is null, a number sent as a
string is fine; records CSV cannot express at all (a truncated line, an array, a duplicate key,
deep nesting) are written as a one-cell row, which the parser rejects as ``ragged_row``.

This module only computes and writes files; it never prints.
"""

from __future__ import annotations

import bisect
import csv
import functools
import gzip
import hashlib
import io
import itertools
import json
import multiprocessing
import os
import queue
import random
import re
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, NamedTuple, TypeVar

__all__ = [
    "EVENT_FIELDS",
    "EVENT_TYPES",
    "FORMATS",
    "INVALID_VARIANTS",
    "PRODUCT_FIELDS",
    "USER_FIELDS",
    "FileStats",
    "Format",
    "GeneratedRecord",
    "InvalidVariant",
    "RecordKind",
    "SampleConfig",
    "SampleSummary",
    "generate_events",
    "generate_products",
    "generate_user_renames",
    "generate_users",
    "write_dataset",
    "write_sample",
]

T = TypeVar("T")
Format = Literal["ndjson", "json", "csv"]
FORMATS: tuple[Format, ...] = ("ndjson", "json", "csv")
RecordKind = Literal["valid", "duplicate", "invalid"]

# Field order of contracts/events.yaml, users.yaml and products.yaml (a test keeps them in sync;
# the contract loader lives in the Rust core, which this module does not need).
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
_EPOCH = datetime(1970, 1, 1)  # naive UTC; naive arithmetic + isoformat() is the fast path
_SECOND = 1_000_000
_HOUR = 3600 * _SECOND
_DAY = 24 * _HOUR


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


# --------------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------------

_FIRST_NAMES = (
    "Emma", "Liam", "Olivia", "Noah", "Ava", "Elijah", "Sophia", "Lucas", "Mia", "Mateo",
    "Isabella", "Levi", "Amelia", "Hugo", "Charlotte", "Leo", "Chloé", "Louis", "Zoë", "Jakob",
    "Sofía", "Diego", "Valentina", "Santiago", "Lucía", "Mohammed", "Fatima", "Omar", "Aisha",
    "Yusuf", "Priya", "Arjun", "Ananya", "Rohan", "Mei", "Wei", "Yuki", "Haruto", "Sakura",
    "Min-jun", "Ji-woo", "Anna", "Jonas", "Lena", "Finn", "Ingrid", "Søren", "Freya", "Mateusz",
    "Zuzanna", "Łukasz", "Kofi", "Amara", "Chinedu", "Nia", "Thiago", "Beatriz", "Ivan", "Olga",
    "Giulia", "Marco",
)  # fmt: skip
_LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Lopez", "Wilson", "Anderson", "Taylor", "Moore", "Martin", "Lee", "Thompson", "White",
    "Harris", "Clark", "Lewis", "Walker", "Young", "King", "Wright", "Müller", "Schmidt",
    "Schneider", "Fischer", "Weber", "Dubois", "Lefèvre", "Moreau", "Rossi", "Russo", "Bianchi",
    "Fernández", "González", "Silva", "Santos", "Oliveira", "Kowalski", "Nowak", "Novák",
    "Jensen", "Nielsen", "Hansen", "Johansson", "Andersson", "Virtanen", "Kim", "Park", "Tanaka",
    "Suzuki", "Wang", "Li", "Zhang", "Nguyen", "Patel", "Sharma", "Singh", "Okafor", "Mensah",
    "Haddad", "Cohen", "Ivanova",
)  # fmt: skip

# category: (nouns, typical price in cents, spread factor)
_CATEGORIES: dict[str, tuple[tuple[str, ...], int, float]] = {
    category: (tuple(nouns.split("|")), cents, spread)
    for category, nouns, cents, spread in (
        ("electronics", "Headphones|Speaker|Charger|Keyboard|Monitor|Webcam|Router", 8_900, 2.5),
        ("books", "Novel|Cookbook|Atlas|Biography|Comic|Notebook", 1_800, 1.6),
        ("home", "Lamp|Cushion|Blanket|Mirror|Vase|Curtain|Rug", 3_900, 2.0),
        ("kitchen", "Kettle|Pan|Knife Set|Blender|Mug|Cutting Board", 3_200, 2.0),
        ("toys", "Puzzle|Building Set|Plush Bear|Board Game|Kite|Robot", 2_500, 1.8),
        ("sports", "Yoga Mat|Running Shoes|Water Bottle|Dumbbell|Tennis Racket", 4_500, 2.0),
        ("beauty", "Face Cream|Shampoo|Perfume|Lip Balm|Hair Dryer", 2_200, 1.8),
        ("fashion", "T-Shirt|Jacket|Sneakers|Scarf|Backpack|Jeans|Hoodie", 4_900, 1.9),
        ("grocery", "Coffee Beans|Olive Oil|Green Tea|Dark Chocolate|Pasta", 900, 1.5),
        ("garden", "Watering Can|Plant Pot|Hose|Pruning Shears|Seed Kit", 2_900, 1.9),
    )
}
_ADJECTIVES = (
    "Classic", "Compact", "Deluxe", "Eco", "Essential", "Premium", "Pro", "Smart", "Ultra",
    "Vintage", "Wireless", "Everyday", "Nordic", "Urban", "Organic", "Mini",
)  # fmt: skip
_QUERIES = (
    "headphones", "wireless speaker", "usb c charger", "gaming keyboard", "4k monitor",
    "cookbook", "fantasy novel", "desk lamp", "wool blanket", "kettle", "chef knife", "blender",
    "board game", "lego", "yoga mat", "running shoes", "water bottle", "face cream", "shampoo",
    "perfume", "winter jacket", "sneakers", "backpack", "coffee beans", "olive oil", "green tea",
    "plant pot", "garden hose", "gift ideas", "sale",
)  # fmt: skip
_REFERRERS = (
    "direct",
    "google",
    "newsletter",
    "instagram",
    "bing",
    "facebook",
    "tiktok",
    "partner",
)
_REFERRER_WEIGHTS = (34, 30, 9, 8, 6, 6, 5, 2)
_DEVICES = ("mobile", "desktop", "tablet")
_DEVICE_WEIGHTS = (55, 35, 10)
_PAGES = ("/", "/c/", "/deals", "/cart", "/account", "/help")
_PAGE_WEIGHTS = (30, 35, 10, 12, 8, 5)
_LOGIN_METHODS = ("password", "google", "apple", "magic_link")
# Funnel: browsing dominates, buying is rare. Order matches _TYPE_CUM below.
_TYPE_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("page_view", 56.0),
    ("search", 14.0),
    ("add_to_cart", 10.0),
    ("remove_from_cart", 3.0),
    ("purchase", 4.0),
    ("login", 7.0),
    ("logout", 4.5),
    ("signup", 1.5),
)
_QUANTITIES = (1, 2, 3, 4, 5)
_QUANTITY_WEIGHTS = (80, 14, 4, 1.5, 0.5)
# Offsets sent by clients that use local time (minutes east of UTC).
_OFFSETS = (60, 120, -300, -240, 330, 540, -480, 0, 180, 600)
# Relative traffic per hour of day (UTC), for a diurnal curve.
_HOURLY = (2, 1.5, 1, 1, 1, 1.5, 3, 5, 6, 6.5, 7, 7, 7.5, 7, 6.5, 6.5, 7, 8, 9, 10, 10, 8.5, 6, 4)
_SESSION_EVENTS = 8  # mean events per session
_SESSION_US = 10 * 60 * _SECOND  # typical session length
_CART_TYPES = frozenset(("add_to_cart", "remove_from_cart", "purchase"))
_RECENT = 1024  # duplicates repeat one of the last _RECENT valid events (a power of 2)
_SLICES_PER_DAY = 240
_BLOCK = 32_768  # events per block of the stream (each has its own random stream)
# a version-4 UUID: version nibble 4, variant bits 10
_UUID_CLEAR = ~((0xF << 76) | (0x3 << 62))
_UUID_SET = (0x4 << 76) | (0x2 << 62)
# How a session's client writes events: (share of sessions, timestamp style, sends nulls).
# Styles: "z" ISO UTC with microseconds, "offset" ISO local time with the user's UTC offset,
# "millis" epoch milliseconds (a number).
_CLIENTS: tuple[tuple[float, str, bool], ...] = (
    (0.30, "z", True),  # web
    (0.55, "z", False),  # mobile app: leaves out null fields
    (0.10, "offset", True),  # web, local time
    (0.05, "millis", False),  # legacy SDK
)
_LATE_SHARE = 0.03  # events whose timestamp lags the stream (offline clients)


def _cumulative(weights: Iterable[float]) -> list[float]:
    total = 0.0
    out = []
    for weight in weights:
        total += weight
        out.append(total)
    return [value / total for value in out]


_TYPE_NAMES = tuple(name for name, _ in _TYPE_WEIGHTS)
_TYPE_CUM = _cumulative(weight for _, weight in _TYPE_WEIGHTS)
_REFERRER_CUM = _cumulative(_REFERRER_WEIGHTS)
_DEVICE_CUM = _cumulative(_DEVICE_WEIGHTS)
_PAGE_CUM = _cumulative(_PAGE_WEIGHTS)
_QUANTITY_CUM = _cumulative(_QUANTITY_WEIGHTS)
_HOUR_CUM = _cumulative(_HOURLY)
_CLIENT_CUM = _cumulative(share for share, _, _ in _CLIENTS)


# --------------------------------------------------------------------------------------------
# Random streams: one master Random(seed) hands out the seeds of independent sub-streams, so
# users and products do not change when only the number of events changes.
# --------------------------------------------------------------------------------------------


def _streams(seed: int) -> dict[str, random.Random]:
    master = random.Random(seed)
    return {
        name: random.Random(master.getrandbits(64))
        for name in ("users", "products", "renames", "events")
    }


def _iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def _epoch_us(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def _iso_from_us(us: int, timespec: str = "seconds") -> str:
    return (_EPOCH + timedelta(microseconds=us)).isoformat(timespec=timespec) + "Z"


def _uuid4(rng: random.Random) -> str:
    """A version-4 UUID string built from the rng (not from ``uuid``, which uses os.urandom)."""
    return "%08x-%04x-4%03x-%04x-%012x" % (  # noqa: UP031 - the fastest way here
        rng.getrandbits(32),
        rng.getrandbits(16),
        rng.getrandbits(12),
        0x8000 | rng.getrandbits(14),
        rng.getrandbits(48),
    )


# Only rng.random() and rng.getrandbits() are used, with plain arithmetic on top: Python
# guarantees their sequences across versions (unlike choice/shuffle/randrange), and no libm
# function (log, exp, pow) is involved, whose last bit may differ between platforms.


def _below(rng: random.Random, n: int) -> int:
    """An int in ``[0, n)``."""
    return int(rng.random() * n)


def _pick(rng: random.Random, items: Sequence[T]) -> T:
    return items[int(rng.random() * len(items))]


def _shuffled(rng: random.Random, n: int) -> list[int]:
    """A random permutation of ``range(n)`` (Fisher-Yates)."""
    order = list(range(n))
    for i in range(n - 1, 0, -1):
        j = int(rng.random() * (i + 1))
        order[i], order[j] = order[j], order[i]
    return order


def _geometric_cum(p: float, size: int = 64) -> list[float]:
    """Cumulative P(k) ∝ p**k for k in 0..size-1: a geometric distribution, mean ~p/(1-p)."""
    weights = [1.0]
    for _ in range(size - 1):
        weights.append(weights[-1] * p)
    return _cumulative(weights)


def _zipf_cum(n: int, offset: float) -> list[float]:
    """Cumulative popularity for ranks 0..n-1, weight 1/(rank + offset): a long-tailed skew."""
    return _cumulative(1.0 / (rank + offset) for rank in range(n))


# --------------------------------------------------------------------------------------------
# Users and products
# --------------------------------------------------------------------------------------------


def generate_users(config: SampleConfig) -> list[dict[str, Any]]:
    """One profile per user (``u_000001`` ...), created before the window, following the users
    contract: ``user_id``, ``user_name``, ``created_at``, ``updated_at`` (ISO strings, UTC)."""
    rng = _streams(config.seed)["users"]
    start_us = _epoch_us(config.start)
    users = []
    for number in range(1, config.users + 1):
        created = start_us - (_DAY + _below(rng, 3 * 365 * _DAY)) // _SECOND * _SECOND
        if rng.random() < 0.5:
            updated = created
        else:
            updated = created + _below(rng, start_us - _HOUR - created) // _SECOND * _SECOND
        users.append(
            {
                "user_id": f"u_{number:06d}",
                "user_name": f"{_pick(rng, _FIRST_NAMES)} {_pick(rng, _LAST_NAMES)}",
                "created_at": _iso_from_us(created),
                "updated_at": _iso_from_us(updated),
            }
        )
    return users


def generate_user_renames(config: SampleConfig) -> list[dict[str, Any]]:
    """``renamed_users`` new profile versions: the same ``user_id`` and ``created_at`` with a
    different ``user_name`` and an ``updated_at`` inside the window (later than the profile in
    :func:`generate_users`), sorted by ``updated_at``. Loading them after the users makes a
    second SCD2 version of each of these users."""
    users = generate_users(config)
    rng = _streams(config.seed)["renames"]
    start_us = _epoch_us(config.start)
    window = config.days * _DAY
    renames = []
    for index in sorted(_shuffled(rng, len(users))[: config.renamed_users]):
        user = users[index]
        first, _, last = user["user_name"].partition(" ")
        new_last = _pick(rng, [name for name in _LAST_NAMES if name != last])
        moment = start_us + _HOUR + _below(rng, max(1, window - 2 * _HOUR))
        renames.append(
            {
                "user_id": user["user_id"],
                "user_name": f"{first} {new_last}",
                "created_at": user["created_at"],
                "updated_at": _iso_from_us(moment // _SECOND * _SECOND),
            }
        )
    renames.sort(key=lambda row: (row["updated_at"], row["user_id"]))
    return renames


def generate_products(config: SampleConfig) -> list[dict[str, Any]]:
    """The catalogue (``p_00001`` ...): ``product_id``, ``name``, ``category``, ``price``
    (a float with cents, e.g. ``24.99``)."""
    rng = _streams(config.seed)["products"]
    categories = list(_CATEGORIES)
    products = []
    for number in range(1, config.products + 1):
        category = (
            categories[(number - 1) % len(categories)] if number <= 10 else _pick(rng, categories)
        )
        nouns, typical, spread = _CATEGORIES[category]
        # skewed: most near or below the typical price, a few up to ~spread times it
        factor = 0.35 + 1.3 * spread * rng.random() * rng.random()
        cents = int(typical * factor)
        cents = max(99, cents // 100 * 100 + _pick(rng, (99, 99, 95, 49, 0)))
        products.append(
            {
                "product_id": f"p_{number:05d}",
                "name": f"{_pick(rng, _ADJECTIVES)} {_pick(rng, nouns)}",
                "category": category,
                "price": cents / 100,
            }
        )
    return products


# --------------------------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------------------------


def generate_events(config: SampleConfig) -> Iterator[GeneratedRecord]:
    """The event stream: exactly ``config.events`` records, lazily.

    Valid events follow the events contract. Time runs through the window with a daily rhythm
    (3 % of events arrive up to an hour late). Events come in sessions (about 8 events, ~10
    minutes) of one user, drawn with a long-tailed popularity; the session's first event carries
    the device and the referrer, a cart makes removals and purchases refer to products added
    before, a logout ends the session. Each session's client writes timestamps one way: ISO
    ``...Z`` with microseconds (85 % of sessions), ISO local time with the user's UTC offset
    (10 %) or epoch milliseconds (5 %); mobile-app and epoch clients leave out null fields.

    Duplicates repeat one of the last 1,024 valid lines verbatim; invalid records cycle through
    :data:`INVALID_VARIANTS`. The stream is made of blocks of 32,768 records, each with its own
    random stream (derived from the seed) and its own sessions: that lets
    :func:`write_sample` generate blocks in parallel with the same result.
    """
    for lines, special in _event_chunks(config):
        if not special:
            for line in lines:
                yield _new_record(GeneratedRecord, (line, "valid", None, None, None))
            continue
        for index, line in enumerate(lines):
            record = special.get(index)
            if record is None:
                record = _new_record(GeneratedRecord, (line, "valid", None, None, None))
            yield record


@functools.cache
def _clock() -> list[str]:
    """``"HH:MM:SS."`` for every second of a day."""
    return [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}." for s in range(86_400)]


_new_record = tuple.__new__  # GeneratedRecord without the keyword-handling __new__ (hot path)


def _window_table(config: SampleConfig) -> tuple[list[int], list[int]]:
    """The inverse of the traffic curve over the whole window: slice ``k`` of
    ``days * _SLICES_PER_DAY`` equal shares of all traffic starts at ``starts[k]`` (µs since
    the epoch) and lasts ``widths[k]`` µs. A final zero-width slice guards the end."""
    day_starts = []
    for k in range(_SLICES_PER_DAY):
        share = k / _SLICES_PER_DAY
        hour = bisect.bisect(_HOUR_CUM, share)
        low = _HOUR_CUM[hour - 1] if hour else 0.0
        day_starts.append(int((hour + (share - low) / (_HOUR_CUM[hour] - low)) * _HOUR))
    day_widths = [b - a for a, b in zip(day_starts, [*day_starts[1:], _DAY], strict=True)]
    start_us = _epoch_us(config.start)
    starts = [start_us + day * _DAY + offset for day in range(config.days) for offset in day_starts]
    widths = day_widths * config.days
    starts.append(start_us + config.days * _DAY - 1)
    widths.append(0)
    return starts, widths


class _Setup(NamedTuple):
    """What every block of the event stream shares: drawn once from the "events" stream."""

    total: int
    block_size: int
    block_seed: int
    user_ids: list[str]
    user_order: list[int]
    user_cum: list[float]
    product_ids: list[str]
    product_cents: list[int]
    product_categories: list[str]
    product_order: list[int]
    product_cum: list[float]
    offset_us: list[int]
    offset_text: list[str]
    devices: list[str]
    slots: int
    start_us: int
    slice_starts: list[int]
    slice_widths: list[int]
    slice_scale: float
    duplicate_count: int
    invalid_count: int


def _setup(config: SampleConfig, block_size: int = _BLOCK) -> _Setup:
    rng = _streams(config.seed)["events"]
    users = generate_users(config)
    products = generate_products(config)
    offsets = [_pick(rng, _OFFSETS) for _ in users]
    total = config.events
    # Sessions: `slots` run at once; each event continues one of them, or starts a new one
    # where the last has ended. The number of slots makes a session last ~10 minutes.
    per_session_us = _SESSION_EVENTS * config.days * _DAY / max(1, total)
    slice_starts, slice_widths = _window_table(config)
    return _Setup(
        total=total,
        block_size=block_size,
        block_seed=rng.getrandbits(64),
        user_ids=[user["user_id"] for user in users],
        # popularity: a shuffled rank per user/product, weights 1/(rank + offset)
        user_order=_shuffled(rng, len(users)),
        user_cum=_zipf_cum(len(users), 8.0),
        product_ids=[product["product_id"] for product in products],
        product_cents=[round(product["price"] * 100) for product in products],
        product_categories=[product["category"] for product in products],
        product_order=_shuffled(rng, len(products)),
        product_cum=_zipf_cum(len(products), 4.0),
        offset_us=[minutes * 60 * _SECOND for minutes in offsets],
        offset_text=[
            f"{'-' if m < 0 else '+'}{abs(m) // 60:02d}:{abs(m) % 60:02d}" for m in offsets
        ],
        devices=[_DEVICES[bisect.bisect(_DEVICE_CUM, rng.random())] for _ in users],
        slots=max(1, min(4096, round(_SESSION_US / per_session_us))),
        start_us=_epoch_us(config.start),
        slice_starts=slice_starts,
        slice_widths=slice_widths,
        slice_scale=(len(slice_starts) - 1) / max(1, total),
        duplicate_count=config.duplicate_count,
        invalid_count=config.invalid_count,
    )


def _share(count: int, total: int, start: int, stop: int) -> int:
    """How many of ``count`` records spread over ``total`` fall in ``[start, stop)``."""
    return round(count * stop / total) - round(count * start / total)


def _generate_block(setup: _Setup, block: int) -> _Chunk:
    """Block ``block`` of the stream (``block_size`` records): its lines, and its duplicate and
    invalid records by index. Each block has its own random stream, sessions, carts and
    duplicate window, so blocks can be generated in any order, in any process.

    The lines are built with f-strings: every string in them comes from a fixed ASCII
    vocabulary, so no JSON escaping is needed, and this is several times faster than dicts
    through ``json.dumps``. The loop is one function, for speed.
    """
    (
        total, block_size, block_seed, user_ids, user_order, user_cum, product_ids, product_cents,
        product_categories, product_order, product_cum, offset_us, offset_text, devices, slots,
        start_us, slice_starts, slice_widths, slice_scale, duplicate_count, invalid_count,
    ) = setup  # fmt: skip
    rng = random.Random(block_seed + block)
    random_ = rng.random
    getrandbits = rng.getrandbits
    find = bisect.bisect
    n_queries = len(_QUERIES)
    n_methods = len(_LOGIN_METHODS)
    client_styles = [style for _, style, _ in _CLIENTS]
    client_nulls = [nulls for _, _, nulls in _CLIENTS]
    # events after the first of a session: geometric with mean _SESSION_EVENTS - 1
    session_cum = _geometric_cum((_SESSION_EVENTS - 1) / _SESSION_EVENTS)
    slot_user = [0] * slots
    slot_left = [0] * slots
    slot_session = [""] * slots
    slot_style = ["z"] * slots
    slot_nulls = [True] * slots
    slot_cart: list[list[tuple[int, int]]] = [[] for _ in range(slots)]
    clock = _clock()
    dates: dict[int, str] = {}

    first = block * block_size
    stop = min(total, first + block_size)
    invalid_left = _share(invalid_count, total, first, stop)
    duplicate_left = _share(duplicate_count, total, first, stop)
    invalid_number = round(invalid_count * first / total)  # variants cycle over the stream
    recent = [""] * _RECENT  # the last valid lines, a ring
    mask = _RECENT - 1
    filled = 0
    lines: list[str] = []
    append = lines.append
    special: dict[int, GeneratedRecord] = {}
    for position in range(first, stop):
        # selection sampling: exactly the block's share of invalid and duplicate records
        pick = random_() * (stop - position)
        broken = False
        if pick < invalid_left + duplicate_left:
            if pick < invalid_left:
                invalid_left -= 1
                broken = True  # a fresh event, broken below
            elif filled:  # (the block's first record cannot repeat anything)
                duplicate_left -= 1
                line = recent[int(random_() * min(filled, _RECENT))]
                special[len(lines)] = _new_record(
                    GeneratedRecord, (line, "duplicate", None, None, None)
                )
                append(line)
                continue

        # when: progress through the window, shaped by the daily curve
        jitter = random_()
        share = (position + jitter) * slice_scale
        index = int(share)
        us = slice_starts[index] + int((share - index) * slice_widths[index])
        if jitter < _LATE_SHARE:  # an offline client, sending up to an hour late
            lag = int(random_() * _HOUR)
            if us - lag >= start_us:
                us -= lag

        # who: continue a running session, or start one
        slot = int(random_() * slots)
        if slot_left[slot] > 0:
            slot_left[slot] -= 1
            user = slot_user[slot]
            event_type = _TYPE_NAMES[find(_TYPE_CUM, random_())]
            context = ""
        else:
            user = slot_user[slot] = user_order[find(user_cum, random_())]
            slot_left[slot] = find(session_cum, random_())
            slot_session[slot] = f"{getrandbits(40):010x}"
            client = find(_CLIENT_CUM, random_())
            slot_style[slot] = client_styles[client]
            slot_nulls[slot] = client_nulls[client]
            slot_cart[slot] = []
            device = devices[user] if random_() < 0.85 else _DEVICES[find(_DEVICE_CUM, random_())]
            referrer = _REFERRERS[find(_REFERRER_CUM, random_())]
            context = (
                f',"device":"{device}"'
                if referrer == "direct"
                else f',"device":"{device}","referrer":"{referrer}"'
            )
            event_type = "page_view" if random_() < 0.8 else _TYPE_NAMES[find(_TYPE_CUM, random_())]

        # what
        product = -1
        value = ""
        if event_type == "page_view":
            if random_() < 0.45:
                product = product_order[find(product_cum, random_())]
                properties = f'"page":"/p/{product_ids[product]}"'
            else:
                page = _PAGES[find(_PAGE_CUM, random_())]
                if page == "/c/":
                    page += product_categories[product_order[find(product_cum, random_())]]
                properties = f'"page":"{page}"'
        elif event_type == "search":
            properties = (
                f'"page":"/search","query":"{_QUERIES[int(random_() * n_queries)]}"'
                f',"results":{int(random_() * 120)}'
            )
        elif event_type in _CART_TYPES:
            cart = slot_cart[slot]
            if event_type == "add_to_cart" or not cart:
                product = product_order[find(product_cum, random_())]
                quantity = _QUANTITIES[find(_QUANTITY_CUM, random_())]
                if event_type == "add_to_cart":
                    cart.append((product, quantity))
            else:
                product, quantity = cart.pop(int(random_() * len(cart)))
            if event_type != "remove_from_cart":
                value = repr(product_cents[product] * quantity / 100)
            properties = f'"quantity":{quantity}'
        elif event_type == "logout":
            properties = '"page":"/logout"'
            slot_left[slot] = 0  # the session ends
        else:  # signup, login
            method = _LOGIN_METHODS[int(random_() * n_methods)]
            properties = f'"page":"/{event_type}","method":"{method}"'

        # how this session's client writes the time
        style = slot_style[slot]
        if style == "millis":
            timestamp = str(us // 1000)
        else:
            if style == "z":
                suffix = "Z"
            else:
                us += offset_us[user]
                suffix = offset_text[user]
            day, rest = divmod(us, _DAY)
            seconds, micros = divmod(rest, _SECOND)
            date = dates.get(day)
            if date is None:
                date = dates[day] = (_EPOCH + timedelta(days=day)).date().isoformat()
            timestamp = f'"{date}T{clock[seconds]}{micros:06d}{suffix}"'

        h = "%032x" % (getrandbits(128) & _UUID_CLEAR | _UUID_SET)
        if slot_nulls[slot]:
            product_text = f'"{product_ids[product]}"' if product >= 0 else "null"
            nullable = f',"event_value":{value or "null"},"product_id":{product_text}'
        elif product < 0:
            nullable = f',"event_value":{value}' if value else ""
        elif value:
            nullable = f',"event_value":{value},"product_id":"{product_ids[product]}"'
        else:
            nullable = f',"product_id":"{product_ids[product]}"'
        line = (
            f'{{"event_id":"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"'
            f',"user_id":"{user_ids[user]}"'
            f',"event_type":"{event_type}","event_timestamp":{timestamp}{nullable}'
            f',"properties":{{{properties},"session_id":"{slot_session[slot]}"'
            f"{context}}}}}"
        )
        if broken:
            record = _break(rng, line, invalid_number)
            invalid_number += 1
            special[len(lines)] = record
            append(record.line)
        else:
            recent[filled & mask] = line
            filled += 1
            append(line)
    return _Chunk(lines, special)


def _break(rng: random.Random, line: str, number: int) -> GeneratedRecord:
    """The ``number``-th broken record of the stream: a fresh valid event, broken one way."""
    variant = INVALID_VARIANTS[number % len(INVALID_VARIANTS)]
    event = json.loads(line)
    value: Any = event
    broken: str | None = None
    name = variant.name
    if name == "missing_event_type":
        del event["event_type"]
    elif name == "missing_event_timestamp":
        del event["event_timestamp"]
    elif name == "null_user_id":
        event["user_id"] = None
    elif name == "null_event_timestamp":
        event["event_timestamp"] = None
    elif name == "wrong_type_event_value":
        event["event_value"] = str((100 + _below(rng, 9_900)) / 100)
    elif name == "wrong_type_user_id":
        event["user_id"] = int(event["user_id"][2:])
    elif name == "out_of_range_event_value":
        event["event_value"] = -(100 + _below(rng, 9_900)) / 100
    elif name == "not_in_enum_event_type":
        event["event_type"] = _pick(rng, ("click", "add-to-cart", "checkout", "pageview"))
    elif name == "bad_timestamp_text":
        event["event_timestamp"] = _pick(rng, ("yesterday", "03/11/2026 10:15:30", "now"))
    elif name == "bad_timestamp_date":
        event["event_timestamp"] = _pick(
            rng, ("2026-02-30T00:00:00Z", "2026-11-31T12:00:00Z", "2026-13-01T08:30:00Z")
        )
    elif name == "too_long_event_id":
        event["event_id"] = f"{event['event_id']}-{_uuid4(rng)}"  # 73 characters
    elif name == "too_short_user_id":
        event["user_id"] = ""
    elif name == "invalid_json_truncated":
        full = _dumps(event)
        broken = full[: 1 + _below(rng, len(full) - 2)]
    elif name == "not_an_object_array":
        value = list(event.values())
    elif name == "duplicate_key":
        broken = _dumps(event)[:-1] + ',"event_type":"purchase"}'
    elif name == "too_deep":
        event["properties"] = {"trace": _nested(80)}
    else:  # pragma: no cover - every variant is handled above
        raise AssertionError(name)
    if broken is None:
        broken = _dumps(value)
    return GeneratedRecord(broken, "invalid", variant.reason, variant.field, name)


def _event_chunks(
    config: SampleConfig, workers: int = 1, block_size: int = _BLOCK
) -> Iterator[_Chunk]:
    """The stream, block by block, in order. With ``workers > 1`` blocks are generated by a
    pool of processes (the output is the same: every block has its own random stream)."""
    if config.events == 0:
        return
    setup = _setup(config, block_size)
    blocks = range(-(-config.events // block_size))
    pool = None
    if workers > 1 and len(blocks) > 1:
        try:
            pool = multiprocessing.get_context("spawn").Pool(
                min(workers, len(blocks)), initializer=_init_worker, initargs=(setup,)
            )
        except (OSError, ImportError):  # no process support here: generate in this process
            pool = None
    if pool is None:
        for block in blocks:
            yield _generate_block(setup, block)
        return
    with pool:
        todo = iter(blocks)
        pending = deque(
            pool.apply_async(_worker_block, (block,))
            for block in itertools.islice(todo, workers * 2)
        )
        while pending:
            chunk = pending.popleft().get()
            for block in itertools.islice(todo, 1):  # keep at most 2 blocks per worker ahead
                pending.append(pool.apply_async(_worker_block, (block,)))
            yield chunk


_worker_setup: _Setup | None = None


def _init_worker(setup: _Setup) -> None:
    global _worker_setup  # the per-process state of a pool worker
    _worker_setup = setup


def _worker_block(block: int) -> _Chunk:
    assert _worker_setup is not None
    return _generate_block(_worker_setup, block)


class _Chunk(NamedTuple):
    lines: list[str]
    special: dict[int, GeneratedRecord]  # duplicate and invalid records, by index in lines


_dumps = json.JSONEncoder(separators=(",", ":")).encode
_dumps_utf8 = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _format_for(path: Path) -> Format:
    suffixes = [suffix.lower() for suffix in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    suffix = suffixes[-1] if suffixes else ""
    formats: dict[str, Format] = {
        ".ndjson": "ndjson",
        ".jsonl": "ndjson",
        ".json": "json",
        ".csv": "csv",
    }
    if suffix not in formats:
        raise ValueError(
            f"cannot tell the format of {path.name!r}: give format= (one of {', '.join(FORMATS)})"
        )
    return formats[suffix]


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return _dumps_utf8(value)


# A valid line as _generate_block writes it (keys in contract order, compact, nulls optional).
_EVENT_LINE = re.compile(
    r'\{"event_id":"([0-9a-f-]+)","user_id":"(u_[0-9]+)","event_type":"([a-z_]+)"'
    r',"event_timestamp":"?([0-9T:.Z+-]+)"?'
    r'(?:,"event_value":(?:null|([0-9.]+)))?(?:,"product_id":(?:null|"(p_[0-9]+)"))?'
    r',"properties":(\{[^\n]*\})\}'
)


class _ListSink:
    """A write()-able that collects text, for csv.writer."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.write = self.parts.append


class _DatasetWriter:
    """Streams records to one file (atomically: a temporary name, renamed on close).

    Records are joined and encoded in the caller's thread; hashing, compressing and writing
    (which release the GIL) happen in a background thread, in order.
    """

    _FLUSH_AT = 4096

    def __init__(self, path: Path, format: Format, fields: Sequence[str]) -> None:
        if format not in FORMATS:
            raise ValueError(f"unknown format {format!r}: use one of {', '.join(FORMATS)}")
        self.path = path
        self.format = format
        self.fields = tuple(fields)
        self.gzip = path.name.lower().endswith(".gz")
        self.tmp = path.with_name(f".{path.name}.tmp")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.raw = open(self.tmp, "wb")  # noqa: SIM115 - closed in close()/abort()
        self.out: io.BufferedIOBase = (
            gzip.GzipFile(filename="", mode="wb", fileobj=self.raw, mtime=0, compresslevel=3)
            if self.gzip
            else self.raw
        )
        self.hash = hashlib.sha256()
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=4)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._write_out, name=f"write {path.name}")
        self._thread.start()
        self.uncompressed = 0
        self.records = 0
        self.valid = 0
        self.duplicate = 0
        self.reasons: Counter[str] = Counter()
        self.skipped = 0
        # ndjson/json: record texts, joined on flush; csv: the csv writer's output
        sink = _ListSink()
        self.parts = sink.parts
        self.csv = csv.writer(sink, lineterminator="\n")
        if format == "csv":
            self.csv.writerow(self.fields)
            self._flush()

    def add(self, record: GeneratedRecord | Mapping[str, Any]) -> None:
        if isinstance(record, GeneratedRecord):
            kind = record.kind
            if kind == "valid":
                self.valid += 1
            elif kind == "duplicate":
                self.duplicate += 1
            else:
                return self._add_invalid(record)
            if self.format == "csv":
                self._add_event_row(record.line)
            else:
                self.parts.append(record.line)
        else:
            self.valid += 1
            if self.format == "csv":
                self._add_row(record)
            else:
                self.parts.append(_dumps_utf8(record))
        self.records += 1
        if len(self.parts) >= self._FLUSH_AT:
            self._flush()

    def add_chunk(self, chunk: _Chunk) -> None:
        """Add a chunk of the event stream (fast path: the lines are written as they are)."""
        lines, special = chunk
        if self.format == "csv" or (
            self.format == "json"
            and any(record.expected_reason == "invalid_json" for record in special.values())
        ):
            for index, line in enumerate(lines):
                record = special.get(index)
                if record is None:
                    record = _new_record(GeneratedRecord, (line, "valid", None, None, None))
                self.add(record)
            return
        self.parts.extend(lines)
        self.records += len(lines)
        self.valid += len(lines) - len(special)
        for record in special.values():
            if record.kind == "duplicate":
                self.duplicate += 1
            else:
                self.reasons[record.expected_reason or ""] += 1
        if len(self.parts) >= self._FLUSH_AT:
            self._flush()

    def _add_invalid(self, record: GeneratedRecord) -> None:
        expected = record.expected_for(self.format)
        if expected is None:
            self.skipped += 1
            return
        _, reason, _ = expected
        if reason is None:
            self.valid += 1  # e.g. a number sent as a string is fine in CSV
        else:
            self.reasons[reason] += 1
        if self.format != "csv":
            self.parts.append(record.line)
        elif record.variant in _CSV_RAGGED:
            self.csv.writerow((record.line,))
        else:
            self._add_row(record.parse())
        self.records += 1

    def _add_event_row(self, line: str) -> None:
        """A valid event line as a CSV row. Fast path for the lines this module builds: their
        values hold no comma, quote or newline, so only properties (JSON text) needs quoting."""
        match = _EVENT_LINE.fullmatch(line) if self.fields == EVENT_FIELDS else None
        if match is None:
            self._add_row(json.loads(line))
            return
        event_id, user_id, event_type, timestamp, value, product_id, properties = match.groups()
        self.parts.append(
            f"{event_id},{user_id},{event_type},{timestamp},{value or ''},{product_id or ''},"
            f'"{properties.replace(chr(34), chr(34) * 2)}"\n'
        )

    def _add_row(self, value: Mapping[str, Any]) -> None:
        self.csv.writerow([_csv_cell(value.get(name)) for name in self.fields])

    def _flush(self, last: bool = False) -> None:
        parts = self.parts
        if self.format == "ndjson":
            text = "\n".join(parts) + "\n" if parts else ""
        elif self.format == "json":
            first = self.uncompressed == 0
            text = ("[\n" if first else ",\n") + ",\n".join(parts) if parts else ""
            if last:
                text += "[]\n" if self.records == 0 else "\n]\n"
        else:
            text = "".join(parts)
        parts.clear()
        if text:
            data = text.encode("utf-8")
            self.uncompressed += len(data)
            if self._error is not None:
                raise self._error
            self._queue.put(data)

    def _write_out(self) -> None:
        while (data := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self.hash.update(data)
                    self.out.write(data)
                except BaseException as exc:  # reported to the caller's thread
                    self._error = exc

    def _stop(self) -> None:
        self._queue.put(None)
        self._thread.join()
        try:
            if self.out is not self.raw:
                self.out.close()
        finally:
            self.raw.close()

    def close(self) -> FileStats:
        try:
            self._flush(last=True)
        finally:
            self._stop()
        if self._error is not None:
            self.tmp.unlink(missing_ok=True)
            raise self._error
        os.replace(self.tmp, self.path)
        return FileStats(
            path=self.path,
            format=self.format,
            gzip=self.gzip,
            records=self.records,
            valid=self.valid,
            duplicate=self.duplicate,
            invalid=sum(self.reasons.values()),
            skipped=self.skipped,
            invalid_by_reason=dict(sorted(self.reasons.items())),
            bytes=self.path.stat().st_size,
            uncompressed_bytes=self.uncompressed,
            sha256=self.hash.hexdigest(),
        )

    def abort(self) -> None:
        try:
            self._stop()
        except OSError:
            pass  # the error that made us abort matters more
        finally:
            self.tmp.unlink(missing_ok=True)


def write_dataset(
    path: str | os.PathLike[str],
    records: Iterable[GeneratedRecord | Mapping[str, Any]],
    format: Format | None = None,
    *,
    fields: Sequence[str] = EVENT_FIELDS,
) -> FileStats:
    """Write ``records`` to ``path`` as ``ndjson``, ``json`` (one array) or ``csv``.

    ``format=None`` infers it from the name (``.ndjson``/``.jsonl``, ``.json``, ``.csv``). A name
    ending in ``.gz`` is gzipped (deterministically: no name or time in the header). Records are
    :class:`GeneratedRecord` (events) or plain mappings (users, products). CSV has a header of
    ``fields`` (the contract's field order), JSON values of nested fields as JSON text, and
    empty cells for nulls. The file appears under its name only once complete.
    """
    target = Path(path)
    writer = _DatasetWriter(target, format or _format_for(target), fields)
    try:
        for record in records:
            writer.add(record)
    except BaseException:
        writer.abort()
        raise
    return writer.close()


def write_sample(
    directory: str | os.PathLike[str],
    config: SampleConfig | None = None,
    formats: Sequence[Format] = ("ndjson",),
    *,
    gzip: bool = False,
    progress: Callable[[int], None] | None = None,
    workers: int = 1,
) -> SampleSummary:
    """Generate a sample into ``directory``: ``events``, ``users``, ``user_renames`` and
    ``products`` in each of ``formats`` (``.gz`` added with ``gzip=True``), then
    ``manifest.json``. The event stream is generated once and streamed to every format.

    ``progress``, if given, is called with the number of events generated since its last call
    (after every block of 32,768 events). ``workers > 1`` generates blocks in that many
    processes (``spawn``; call it from a script under ``if __name__ == "__main__":``); the
    output is the same for any number of workers.
    """
    config = config or SampleConfig()
    unique_formats: list[Format] = []
    for fmt in formats:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
        if fmt not in unique_formats:
            unique_formats.append(fmt)
    if not unique_formats:
        raise ValueError("give at least one format")
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gzip else ""

    def name(dataset: str, fmt: Format) -> str:
        return f"{dataset}.{fmt}{suffix}"

    writers: list[_DatasetWriter] = []
    duplicates = 0
    reasons: Counter[str] = Counter()
    variants: Counter[str] = Counter()
    line_bytes = 0
    try:
        for fmt in unique_formats:
            writers.append(_DatasetWriter(folder / name("events", fmt), fmt, EVENT_FIELDS))
        for chunk in _event_chunks(config, workers):
            for writer in writers:
                writer.add_chunk(chunk)
            line_bytes += sum(map(len, chunk.lines))
            for record in chunk.special.values():
                if record.kind == "duplicate":
                    duplicates += 1
                else:
                    variants[record.variant or ""] += 1
                    reasons[record.expected_reason or ""] += 1
            if progress is not None:
                progress(len(chunk.lines))
    except BaseException:
        for writer in writers:
            writer.abort()
        raise
    files = {writer.path.name: writer.close() for writer in writers}
    invalid = sum(reasons.values())
    line_bytes += config.events  # lines are ASCII, plus one newline each

    tables: dict[str, tuple[list[dict[str, Any]], tuple[str, ...]]] = {
        "users": (generate_users(config), USER_FIELDS),
        "user_renames": (generate_user_renames(config), USER_FIELDS),
        "products": (generate_products(config), PRODUCT_FIELDS),
    }
    for dataset, (rows, fields) in tables.items():
        for fmt in unique_formats:
            stats = write_dataset(folder / name(dataset, fmt), rows, fmt, fields=fields)
            files[stats.path.name] = stats

    manifest: dict[str, Any] = {
        "generator": "eventlake.sample_data",
        "manifest_version": MANIFEST_VERSION,
        "config": config.to_dict(),
        "events": {
            "records": config.events,
            "valid": config.events - duplicates - invalid,
            "duplicate": duplicates,
            "invalid": invalid,
            "invalid_by_reason": dict(sorted(reasons.items())),
            "invalid_by_variant": dict(sorted(variants.items())),
            "ndjson_bytes": line_bytes,
            "avg_line_bytes": round(line_bytes / config.events, 2) if config.events else 0.0,
        },
        "users": {"records": config.users},
        "user_renames": {"records": config.renamed_users},
        "products": {"records": config.products},
        "files": {file_name: stats.to_dict() for file_name, stats in files.items()},
    }
    manifest_path = folder / MANIFEST_NAME
    tmp = folder / f".{MANIFEST_NAME}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, manifest_path)
    return SampleSummary(folder, manifest_path, config, files, manifest)
