"""What every stream backend offers: durable publishing, shards, reading from a position.

A stream is an ordered, replayable log split into shards, as Kinesis defines it. A record goes
to the shard that owns the hash of its partition key (or its explicit hash key) and gets a
sequence number that grows within the shard. Publishing returns only once the records are
durable, which is what lets the API answer 202. Reading starts after any sequence number, so
a consumer resumes from the lake's watermark. After a reshard a shard closes and has
children; a reader drains a closed parent before reading its children so that each key stays
in order.

Sequence numbers are Python ints: the embedded log counts 1, 2, 3…, Kinesis's are decimal
strings of up to 128 bits, read as ints.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

# Defined below the stream layer (the state store batches its writes with GroupCommit too);
# re-exported here, where the backends and their callers have always found them.
from eventlake.errors import StreamError
from eventlake.group_commit import GroupCommit

__all__ = [
    "GroupCommit",
    "OutgoingRecord",
    "PublishedRecord",
    "ShardBatch",
    "ShardInfo",
    "ShardReader",
    "Stream",
    "StreamError",
    "StreamRecord",
    "publish_checked_each",
]


@dataclass(frozen=True)
class OutgoingRecord:
    """``explicit_hash_key`` (0 to 2**128 - 1), when set, picks the shard instead of the
    partition key's MD5, as Kinesis's ``ExplicitHashKey`` does: the ingestor routes each part
    of a request to the shard that owns its events' dedup keys."""

    partition_key: str
    data: bytes
    explicit_hash_key: int | None = None


@dataclass(frozen=True)
class PublishedRecord:
    shard_id: str
    sequence_number: int


@dataclass(frozen=True)
class StreamRecord:
    shard_id: str
    sequence_number: int
    data: bytes
    arrived_at: datetime


@dataclass(frozen=True)
class ShardInfo:
    """``hash_range``: the (first, last) hash keys the shard owns, both included, in the
    128-bit MD5 space of partition keys (Kinesis's HashKeyRange); None when unknown."""

    shard_id: str
    parent_shard_ids: tuple[str, ...] = ()
    closed: bool = False
    hash_range: tuple[int, int] | None = None


@dataclass(frozen=True)
class ShardBatch:
    """One read from a shard. ``at_end``: the shard is closed and every record was read.
    ``behind``: how far the reader is from the newest record (records for the embedded log,
    milliseconds for Kinesis, as its GetRecords reports), None when unknown."""

    records: list[StreamRecord]
    at_end: bool
    behind: int | None


class ShardReader(Protocol):
    shard_id: str

    def read(self, limit: int) -> ShardBatch:
        """The next records, oldest first; an empty list when there is nothing new yet."""
        ...


class Stream(Protocol):
    """One named stream (eventlake keeps one per dataset)."""

    name: str
    # True when a shard's sequence numbers are 1, 2, 3… with no gaps, so that a reader can
    # tell records that expired (retention) before it read them.
    gap_free: bool

    def ensure(self) -> None:
        """Create the stream when it does not exist (or raise StreamError if not allowed)."""
        ...

    def publish(self, records: Sequence[OutgoingRecord]) -> list[PublishedRecord]:
        """Durably append every record, in order, or raise StreamError. Thread-safe; concurrent
        callers may be grouped into one write (group commit)."""
        ...

    def publish_each(
        self, batches: Sequence[Sequence[OutgoingRecord]]
    ) -> list[list[PublishedRecord] | StreamError]:
        """Several callers' batches in one write, as ``publish`` would group them: each
        batch's published records, or the StreamError that batch failed with (a batch that
        fails, or one of whose records the stream did not store, fails alone)."""
        ...

    def shards(self) -> list[ShardInfo]: ...

    def reader(self, shard_id: str, after: int | None) -> ShardReader:
        """Read ``shard_id`` from just after sequence number ``after`` (None: the oldest
        record retained)."""
        ...

    def check(self) -> None:
        """Raise StreamError when the stream is not usable (for readiness checks)."""
        ...

    def close(self) -> None: ...


def publish_checked_each(
    batches: Sequence[Sequence[OutgoingRecord]],
    check: Callable[[Sequence[OutgoingRecord]], None],
    group: GroupCommit[OutgoingRecord, PublishedRecord],
) -> list[list[PublishedRecord] | StreamError]:
    """A backend's ``publish_each``: each batch checked first (one that fails its check fails
    alone and is not written), the others written together by the backend's group commit."""
    outcomes: list[list[PublishedRecord] | StreamError] = [[] for _ in batches]
    valid: list[int] = []
    for index, batch in enumerate(batches):
        try:
            check(batch)
        except StreamError as error:
            outcomes[index] = error
            continue
        if batch:
            valid.append(index)
    written = group.submit_each([batches[index] for index in valid]) if valid else []
    for index, outcome in zip(valid, written, strict=True):
        if isinstance(outcome, BaseException) and not isinstance(outcome, StreamError):
            outcome = StreamError(str(outcome))  # (the group already wraps every other error)
        outcomes[index] = outcome
    return outcomes
