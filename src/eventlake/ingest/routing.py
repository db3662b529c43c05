"""Route events, not requests: cut a checked body into one part per shard.

Each event goes to the shard that owns the hash of its deduplication key, so that every copy
of an event reaches the same shard whichever request carried it, and that shard's consumer
(one at a time) sees them all: its deduplication window is then a global one.

The work is the Rust core's (``processor-core``'s ``routing`` module, one implementation of
the rule): ``data_processor_rs.validate_events`` validates the body and notes where each record
lies in the same pass, and ``data_processor_rs.route`` hashes every valid record's key, finds
its shard and builds each part's bytes, outside the GIL, in one call per request. What stays
here is the shard map (which shards, where their ranges start) and the parts as the ingestor
publishes them.

The hash lives in Kinesis's space of hash keys (0 to 2**128 - 1, which shards split into
ranges). It is Iceberg's bucket hash of the key (32-bit murmur3 of its UTF-8 text, ``&
0x7fffffff``, modulo 2**31 - 1, as Iceberg's bucket transform computes it) spread over that
space (``bucket << 97``). Any stable, uniform hash serves: only the API routes events, and
every copy of a key gets the same one. A single string key (``event_id``) is hashed as its
text; any other key (several fields, a timestamp) as a canonical JSON text of its typed values
(what ``json.dumps(values, separators=(",", ":"), ensure_ascii=False)`` writes, timestamps and
dates as their integers), so that two copies the core would call duplicates hash alike.

A part of a JSON array is a JSON array of its elements, an NDJSON part its lines, a CSV part the
header and its rows, each record's bytes as sent, so the consumer's core accepts and rejects
exactly what the API's did. Records the core rejected have no trustworthy key: they travel in
the first part (the part of the body's first valid record), where the consumer sends them to
the dead-letter table. A body whose records all hash to one shard is one part: the body
itself, not a copy.

Record positions (``record_index``, ``line``) in a part's dead-letter rows count within the
part; the API's answer counts them within the request.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import data_processor_rs

from eventlake.stream.base import ShardInfo

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


@dataclass(frozen=True)
class Part:
    """One stream record of a request: the records of one shard, in body order."""

    shard_id: str  # where the map says it goes ("" when not routed)
    hash_key: int | None  # the explicit hash key: the part's first valid record's
    body: bytes
    records: int


def split(
    body: bytes,
    batch: data_processor_rs.ValidatedBatch,
    extents: data_processor_rs.RecordExtents,
    shards: ShardMap,
) -> list[Part] | None:
    """The parts of ``body`` (validated by ``data_processor_rs.validate_events`` into
    ``batch`` and ``extents``), in the order of their first records; None when the body
    cannot be cut (no dedup key, gzip inside gzip, ...): the caller publishes it whole."""
    parts = data_processor_rs.route(body, batch, extents, shards.starts)
    if parts is None:
        return None
    return [
        Part(shards.shard_ids[shard], hash_key, body if part is None else part, records)
        for shard, hash_key, part, records in parts
    ]


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
