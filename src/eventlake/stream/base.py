"""What every stream backend offers: durable publishing, shards, reading from a position.

A stream is an ordered, replayable log split into shards, as Kinesis defines it. A record goes
to the shard that owns the hash of its partition key and gets a sequence number that grows
within the shard. Publishing returns only once the records are durable, which is what lets the
API answer 202. Reading starts after any sequence number, so a consumer resumes from the lake's
watermark. After a reshard a shard closes and has children; a reader drains a closed parent
before reading its children so that each key stays in order.

Sequence numbers are Python ints: the embedded log counts 1, 2, 3…, Kinesis's are decimal
strings of up to 128 bits, read as ints.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Protocol, TypeVar

_T = TypeVar("_T")
_R = TypeVar("_R")


class StreamError(RuntimeError):
    """The stream could not take or give records (unreachable, throttled past every retry,
    missing). Nothing published by a call that raised is acknowledged."""


@dataclass(frozen=True)
class OutgoingRecord:
    partition_key: str
    data: bytes


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
    shard_id: str
    parent_shard_ids: tuple[str, ...] = ()
    closed: bool = False


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

    def shards(self) -> list[ShardInfo]: ...

    def reader(self, shard_id: str, after: int | None) -> ShardReader:
        """Read ``shard_id`` from just after sequence number ``after`` (None: the oldest
        record retained)."""
        ...

    def check(self) -> None:
        """Raise StreamError when the stream is not usable (for readiness checks)."""
        ...

    def close(self) -> None: ...


class GroupCommit(Generic[_T, _R]):
    """Gathers concurrent calls into one write, so that N threads publishing at once cost one
    transaction (one fsync, one PutRecords) instead of N.

    Leader/follower, no background thread: the first caller to find no write in progress
    becomes the leader and writes every queued call (up to ``max_items`` items per write)
    until its own call is written; then it hands the lead to the oldest waiting call, if any.
    Each follower sleeps on its own event and is woken once: when its items are written, or
    when it is handed the lead (a shared condition woke every waiting thread on every write,
    which cost more CPU than the writes at 16 concurrent requests). Each caller returns only
    once its own items were written, with its own slice of the results. When ``write``
    raises, every caller in that write raises StreamError: none of their items is
    acknowledged.
    """

    def __init__(
        self,
        write: Callable[[list[_T]], Sequence[_R | BaseException]],
        *,
        max_items: int = 10_000,
        reraise: bool = False,
    ) -> None:
        """``reraise``: callers get the write's own exception instead of a StreamError (for
        writers that are not streams, such as the job database)."""
        self._write = write
        self._reraise = reraise
        self._max_items = max_items
        self._lock = threading.Lock()
        self._queue: deque[_Call[_T, _R]] = deque()
        self._writing = False

    def submit(self, items: Sequence[_T]) -> list[_R]:
        call: _Call[_T, _R] = _Call(list(items))
        with self._lock:
            self._queue.append(call)
            leading = not self._writing
            self._writing = True
        if not leading:
            call.wake.wait()
        if not call.done:  # leading from the start, or handed the lead
            self._lead_until_written(call)
        if call.error is not None:
            if self._reraise:
                raise call.error
            raise StreamError(str(call.error)) from call.error
        return call.results

    def _lead_until_written(self, mine: _Call[_T, _R]) -> None:
        fatal: BaseException | None = None
        while True:
            with self._lock:
                if mine.done:
                    if self._queue:
                        self._queue[0].wake.set()  # the lead passes on; _writing stays True
                    else:
                        self._writing = False
                    break
                group: list[_Call[_T, _R]] = []
                size = 0
                while self._queue and (
                    not group or size + len(self._queue[0].items) <= self._max_items
                ):
                    call = self._queue.popleft()
                    group.append(call)
                    size += len(call.items)
            error = self._write_group(group)
            if error is not None and not isinstance(error, Exception):
                fatal = error
        if fatal is not None:
            raise fatal

    def _write_group(self, group: list[_Call[_T, _R]]) -> BaseException | None:
        items = [item for call in group for item in call.items]
        results: Sequence[_R | BaseException] = []
        error: BaseException | None = None
        try:
            results = self._write(items)
            if len(results) != len(items):
                raise StreamError(f"{len(results)} results for {len(items)} records")
        except BaseException as caught:
            # Even KeyboardInterrupt must settle the group, or its followers would wait forever.
            error = caught
        start = 0
        for call in group:
            if error is None:
                mine = results[start : start + len(call.items)]
                failures = [r for r in mine if isinstance(r, BaseException)]
                if failures:
                    call.error = failures[0]
                else:
                    call.results = [r for r in mine if not isinstance(r, BaseException)]
            else:
                call.error = error
            start += len(call.items)
            call.done = True
            call.wake.set()
        return error


class _Call(Generic[_T, _R]):
    __slots__ = ("done", "error", "items", "results", "wake")

    def __init__(self, items: list[_T]) -> None:
        self.items = items
        self.wake = threading.Event()
        self.results: list[_R] = []
        self.error: BaseException | None = None
        self.done = False
