"""Route events, not requests: cut a checked body into one part per shard.

Each event goes to the shard that owns the hash of its deduplication key, so that every copy
of an event reaches the same shard whichever request carried it, and that shard's consumer
(one at a time) sees them all: its deduplication window is then a global one.

The hash lives in Kinesis's space of hash keys (0 to 2**128 - 1, which shards split into
ranges). It is Iceberg's bucket hash of the key (32-bit murmur3 of its UTF-8 text, as the
Iceberg spec defines it, ``pyiceberg_core``'s ``bucket`` transform over 2**31 - 1 buckets)
spread over that space (``bucket << 97``): computed in Rust over the whole column at once,
where MD5 (what Kinesis does with a partition key) cost a Python call per event, 0.5 ms per
500-event request, on its own half the 10% budget (benchmarks/bench_routing.py). Any stable,
uniform hash serves: only the API routes events, and every copy of a key gets the same one.
A single string key (``event_id``) is hashed as its text; any other key (several fields, a
timestamp) as a canonical JSON text of its typed values, so that two copies the core would
call duplicates (the same values once validated) hash alike.

The body is cut where the Rust core says its records lie (``data_processor_rs.record_extents``,
the parser's own boundaries, a second pass over the body): no record is parsed in Python. A
part of a JSON array is a JSON array of its elements, an NDJSON part its lines, a CSV part the
header and its rows, each record's bytes as sent, so the consumer's core accepts and rejects
exactly what the API's did.
Records the core rejected have no trustworthy key: they travel in the first part (the part
of the body's first valid record), where the consumer sends them to the dead-letter table.
A body whose records all hash to one shard is one part: the body itself, not a copy.

Record positions (``record_index``, ``line``) in a part's dead-letter rows count within the
part; the API's answer counts them within the request.
"""

from __future__ import annotations

import bisect
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import data_processor_rs
import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg_core.transform import bucket  # type: ignore[import-untyped, unused-ignore]

from eventlake.stream.base import ShardInfo
from eventlake.stream.envelope import BodyFormat

BOM = b"\xef\xbb\xbf"
BUCKETS = 2**31 - 1  # Iceberg's bucket hash is 31 bits (murmur3 & 0x7fffffff) mod this
SPREAD = 97  # bucket << 97 spans the 128-bit hash key space: (2**31 - 1) << 97 < 2**128

# How long the shard map is trusted before it is listed again (a reshard on Kinesis is seen
# within this time; a part that lands elsewhere than expected refreshes it at once).
SHARD_MAP_SECONDS = 5.0


@dataclass(frozen=True)
class ShardMap:
    """The open shards by the first hash key each owns (their ranges tile the key space)."""

    starts: tuple[int, ...]
    shard_ids: tuple[str, ...]

    @classmethod
    def of(cls, shards: Sequence[ShardInfo]) -> ShardMap | None:
        """The map of the open shards; None when a shard does not say its range."""
        open_shards = [shard for shard in shards if not shard.closed]
        if not open_shards or any(shard.hash_range is None for shard in open_shards):
            return None
        ranges = sorted(
            (shard.hash_range[0], shard.shard_id)
            for shard in open_shards
            if shard.hash_range is not None
        )
        return cls(tuple(start for start, _ in ranges), tuple(shard_id for _, shard_id in ranges))

    def owner(self, hash_key: int) -> int:
        """The index of the shard whose range holds ``hash_key``."""
        return max(0, bisect.bisect_right(self.starts, hash_key) - 1)

    def owners(self, buckets: pa.Array) -> list[int]:
        """The index of the shard owning each bucket (``bucket << SPREAD``). A bucket is at
        or past a shard's first hash key when it is at least ceil(start / 2**SPREAD)."""
        thresholds = [-(-start >> SPREAD) for start in self.starts[1:]]
        return list(map(partial(bisect.bisect_right, thresholds), buckets.to_pylist()))


@dataclass(frozen=True)
class Part:
    """One stream record of a request: the records of one shard, in body order."""

    shard_id: str  # where the map says it goes ("" when not routed)
    hash_key: int | None  # the explicit hash key: the part's first valid record's
    body: bytes
    records: int


def key_hash(text: str) -> int:
    """The hash key of one key's text (see the module's docstring)."""
    return int(bucket(pa.array([text], pa.string()), BUCKETS)[0].as_py()) << SPREAD


def key_texts(valid: pa.RecordBatch, dedup_key: Sequence[str]) -> list[str]:
    """The text of each valid row's dedup key (see the module's docstring)."""
    if len(dedup_key) == 1 and pa.types.is_string(valid.schema.field(dedup_key[0]).type):
        return [value or "" for value in valid.column(dedup_key[0]).to_pylist()]
    columns = [_plain(valid.column(name)).to_pylist() for name in dedup_key]
    return [
        json.dumps(values, separators=(",", ":"), ensure_ascii=False)
        for values in zip(*columns, strict=True)
    ]


def _plain(column: pa.Array) -> pa.Array:
    """Timestamps and dates as their integers (the core's key compares those); -0.0 as 0.0."""
    kind = column.type
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        return pc.cast(column, pa.int64())
    if pa.types.is_floating(kind):
        return pc.add(column, 0.0)  # IEEE: -0.0 + 0.0 is 0.0
    return column


def record_buckets(
    num_received: int,
    rejected_indexes: Sequence[int],
    valid: pa.RecordBatch,
    dedup_key: Sequence[str],
) -> pa.Array | None:
    """The bucket of every record's key by record index (null for a rejected record); None
    when the core's counts do not add up (the body is then not cut)."""
    if num_received != valid.num_rows + len(rejected_indexes):
        return None
    if len(dedup_key) == 1 and pa.types.is_string(valid.schema.field(dedup_key[0]).type):
        keys = valid.column(dedup_key[0])  # a dedup key is required: never null when valid
    else:
        keys = pa.array(key_texts(valid, dedup_key), pa.string())
    buckets = bucket(keys, BUCKETS)
    if not rejected_indexes:
        return buckets
    rejected = set(rejected_indexes)
    valid_buckets = iter(buckets.to_pylist())
    return pa.array(
        [None if index in rejected else next(valid_buckets) for index in range(num_received)],
        pa.int32(),
    )


def split(
    body: bytes,
    body_format: BodyFormat,
    buckets: pa.Array,
    shards: ShardMap,
    *,
    max_record_bytes: int,
    max_body_bytes: int,
) -> list[Part] | None:
    """The parts of ``body``, in the order of their first records; None when the body cannot
    be cut (the caller publishes it whole)."""
    valid = buckets.drop_null()
    if not len(valid):
        return None
    first = int(valid[0].as_py())
    # Rejected records ride with the first part, on the shard of the first valid record.
    keyed = buckets.fill_null(first) if buckets.null_count else buckets
    owners = shards.owners(keyed)
    if len(set(owners)) == 1:
        return [Part(shards.shard_ids[owners[0]], first << SPREAD, body, len(buckets))]
    if body.startswith(b"\x1f\x8b"):
        return None  # gzip inside gzip: the core's offsets are not into this body
    try:
        extents = data_processor_rs.record_extents(
            body,
            body_format,
            max_record_bytes=max_record_bytes,
            max_decompressed_bytes=max_body_bytes,
        )
    except data_processor_rs.InputError:
        return None  # cannot happen for a body the core has just read; kept whole
    if len(extents) != len(buckets):
        return None
    assemble = _assembler(body, body_format, extents)
    if assemble is None:
        return None
    groups: dict[int, list[bytes]] = {}  # by owner, in the order of their first records
    for owner, (start, end) in zip(owners, extents, strict=True):
        records = groups.get(owner)
        if records is None:
            groups[owner] = records = []
        records.append(body[start:end])
    # A part's explicit hash key is its first record's (the first part's first record is the
    # body's first valid one, so never a rejected record's stand-in).
    return [
        Part(
            shards.shard_ids[owner],
            int(keyed[owners.index(owner)].as_py()) << SPREAD,
            assemble(records),
            len(records),
        )
        for owner, records in groups.items()
    ]


def _assembler(
    body: bytes, body_format: BodyFormat, extents: list[tuple[int, int]]
) -> Callable[[list[bytes]], bytes] | None:
    """How a part's body is made of its records' bytes."""
    if body_format == "ndjson":
        return lambda records: b"\n".join(records) + b"\n"
    if body_format == "json":
        return lambda records: b"[" + b",".join(records) + b"]"
    # CSV: the header (before the first row, without its line ends) on every part.
    content = len(BOM) if body.startswith(BOM) else 0
    header = body[content : extents[0][0]].rstrip(b"\r\n")
    if not header:
        return None
    return lambda records: header + b"\n" + b"\n".join(records) + b"\n"


class ShardMapCache:
    """The shard map of each dataset's stream, listed again after ``max_age_s`` or when told
    it is stale (a part landed elsewhere than the map said). Thread-safe."""

    def __init__(
        self, *, max_age_s: float = SHARD_MAP_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_age_s = max_age_s
        self._clock = clock
        self._lock = threading.Lock()
        self._maps: dict[str, tuple[ShardMap | None, float]] = {}

    def get(self, dataset: str, list_shards: Callable[[], list[ShardInfo]]) -> ShardMap | None:
        """The map (None: the stream does not say its ranges). Listing errors propagate when
        no map is known yet; a stale map is kept when listing again fails."""
        now = self._clock()
        with self._lock:
            known = self._maps.get(dataset)
        if known is not None and now - known[1] < self.max_age_s:
            return known[0]
        try:
            shard_map = ShardMap.of(list_shards())
        except Exception:
            if known is None:
                raise
            return known[0]
        with self._lock:
            self._maps[dataset] = (shard_map, now)
        return shard_map

    def stale(self, dataset: str) -> None:
        with self._lock:
            self._maps.pop(dataset, None)
