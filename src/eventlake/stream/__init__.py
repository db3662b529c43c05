"""The stream between the API and the consumer: an embedded SQLite log or AWS Kinesis."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from eventlake.config import EmbeddedStreamSettings, KinesisStreamSettings, Settings
from eventlake.stream.base import (
    OutgoingRecord,
    PublishedRecord,
    ShardBatch,
    ShardInfo,
    ShardReader,
    Stream,
    StreamError,
    StreamRecord,
)
from eventlake.stream.embedded import EmbeddedStream

if TYPE_CHECKING:
    from eventlake.stream.kinesis import KinesisStream

__all__ = [
    "OutgoingRecord",
    "PublishedRecord",
    "ShardBatch",
    "ShardInfo",
    "ShardReader",
    "SharedStream",
    "Stream",
    "StreamError",
    "StreamRecord",
    "open_stream",
    "ordered_shards",
    "readable_shards",
]

_cache_lock = threading.Lock()
_shared: dict[tuple[object, ...], tuple[EmbeddedStream | KinesisStream, int]] = {}


def open_stream(settings: Settings, dataset: str) -> Stream:
    """The stream of ``dataset`` on the configured backend. Callers ``ensure()`` it once.

    Every caller in a process gets a handle on one shared stream per file (or Kinesis
    stream): their publishes then join the same group commits, which is what lets one fsync
    (or one PutRecords) serve many concurrent requests, and a boto3 client is built once.
    Closing a handle releases only that caller's share, so the API shutting down never
    closes the stream under a consumer running in the same process; the last close closes
    the stream. The process id is part of the key so that a forked child never uses its
    parent's SQLite connections, which SQLite forbids.
    """
    backend = settings.stream.backend
    name = settings.stream.stream_name(dataset)
    if isinstance(backend, EmbeddedStreamSettings):
        path = (backend.path or settings.home / "stream.db").resolve()
        key: tuple[object, ...] = (os.getpid(), "embedded", path, name)
    else:
        key = (os.getpid(), "kinesis", backend.region, backend.endpoint_url, name)
    with _cache_lock:
        stream, holders = _shared.get(key, (None, 0))
        if stream is None or stream.closed:
            stream, holders = _open(settings, backend, name), 0
        _shared[key] = (stream, holders + 1)
    return SharedStream(key, stream)


class SharedStream:
    """One holder's handle on a stream shared within the process (see ``open_stream``)."""

    def __init__(self, key: tuple[object, ...], stream: EmbeddedStream | KinesisStream) -> None:
        self.name = stream.name
        self.gap_free = stream.gap_free
        self.stream = stream
        self._key = key
        self._closed = False

    def ensure(self) -> None:
        self._open().ensure()

    def publish(self, records: Sequence[OutgoingRecord]) -> list[PublishedRecord]:
        return self._open().publish(records)

    def publish_each(
        self, batches: Sequence[Sequence[OutgoingRecord]]
    ) -> list[list[PublishedRecord] | StreamError]:
        return self._open().publish_each(batches)

    def shards(self) -> list[ShardInfo]:
        return self._open().shards()

    def reader(self, shard_id: str, after: int | None) -> ShardReader:
        return self._open().reader(shard_id, after)

    def check(self) -> None:
        self._open().check()

    def close(self) -> None:
        with _cache_lock:
            if self._closed:
                return
            self._closed = True
            stream, holders = _shared.get(self._key, (None, 0))
            last = stream is self.stream and holders <= 1
            if last:
                del _shared[self._key]
            elif stream is self.stream:
                _shared[self._key] = (stream, holders - 1)
        if last or stream is not self.stream:
            self.stream.close()

    def _open(self) -> EmbeddedStream | KinesisStream:
        if self._closed:
            raise StreamError(f"stream {self.name!r} was closed by this holder")
        return self.stream


def _open(
    settings: Settings,
    backend: EmbeddedStreamSettings | KinesisStreamSettings,
    name: str,
) -> EmbeddedStream | KinesisStream:
    if isinstance(backend, EmbeddedStreamSettings):
        return EmbeddedStream(
            (backend.path or settings.home / "stream.db").resolve(),
            name,
            shards=backend.shards,
            retention=timedelta(hours=backend.retention_hours),
        )
    from eventlake.stream.kinesis import KinesisStream  # boto3 only when Kinesis is used

    return KinesisStream(
        name,
        region=backend.region,
        endpoint_url=backend.endpoint_url,
        shards=backend.shards,
        create_missing=backend.create_missing,
        max_attempts=backend.retry_attempts,
        backoff_base_s=backend.retry_seconds,
        backoff_cap_s=backend.retry_max_seconds,
    )


def ordered_shards(shards: list[ShardInfo]) -> list[ShardInfo]:
    """``shards`` with every parent before its children (then by shard id), so that walking
    the list in order never reads a child before the shard its keys came from."""
    by_id = {shard.shard_id: shard for shard in shards}
    placed: set[str] = set()
    ordered: list[ShardInfo] = []

    def place(shard: ShardInfo, visiting: frozenset[str]) -> None:
        if shard.shard_id in placed or shard.shard_id in visiting:
            return
        for parent in sorted(shard.parent_shard_ids):
            if parent in by_id:
                place(by_id[parent], visiting | {shard.shard_id})
        placed.add(shard.shard_id)
        ordered.append(shard)

    for shard in sorted(shards, key=lambda s: s.shard_id):
        place(shard, frozenset())
    return ordered


def readable_shards(shards: list[ShardInfo], finished: set[str]) -> list[str]:
    """The shard ids a consumer may read now, parents first.

    A shard may be read once every parent is in ``finished`` (read to its end), so records of
    one partition key are consumed in order across a reshard. A parent that is no longer
    listed has expired past retention: nothing is left to read there, so it does not hold
    its children back. Shards already in ``finished`` are left out.
    """
    listed = {shard.shard_id for shard in shards}
    return [
        shard.shard_id
        for shard in ordered_shards(shards)
        if shard.shard_id not in finished
        and all(parent in finished or parent not in listed for parent in shard.parent_shard_ids)
    ]
