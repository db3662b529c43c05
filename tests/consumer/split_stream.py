"""A small in-memory stream with Kinesis's semantics after ``SplitShard``, for the consumer
tests that need a reshard in-process (the embedded log never reshards; Kinesis on the moto
server does, over processes and HTTP: test_consumer_kinesis_scaleout.py).

``parent`` is closed and holds the older records; ``child-a`` and ``child-b`` hold the newer
ones. With ``hash_ranges`` the children own the two halves of the hash key space, as Kinesis
reports them, and a publish puts a record where its explicit hash key goes; without, the
shards have no ranges (nothing for the consumer to check a record's keys against).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from eventlake.stream.base import (
    OutgoingRecord,
    PublishedRecord,
    ShardBatch,
    ShardInfo,
    StreamRecord,
)

HALF = 2**127  # child-a owns [0, HALF), child-b [HALF, 2**128)
TOP = 2**128 - 1


class SplitStream:
    name = "split-events"
    gap_free = False

    def __init__(self, records: dict[str, list[bytes]], *, hash_ranges: bool) -> None:
        self.records = records
        self.hash_ranges = hash_ranges
        self.reads: list[str] = []  # the shards, in the order reads returned records
        self.published: list[tuple[str, OutgoingRecord]] = []

    def ensure(self) -> None:
        pass

    def publish(self, records: Sequence[OutgoingRecord]) -> list[PublishedRecord]:
        assert self.hash_ranges, "a publish needs the children's hash ranges"
        out = []
        for record in records:
            assert record.explicit_hash_key is not None
            shard = "child-a" if record.explicit_hash_key < HALF else "child-b"
            self.records[shard].append(record.data)
            self.published.append((shard, record))
            out.append(PublishedRecord(shard, len(self.records[shard])))
        return out

    def shards(self) -> list[ShardInfo]:
        if not self.hash_ranges:
            return [
                ShardInfo("child-a", ("parent",)),
                ShardInfo("child-b", ("parent",)),
                ShardInfo("parent", (), closed=True),
            ]
        return [
            ShardInfo("child-a", ("parent",), hash_range=(0, HALF - 1)),
            ShardInfo("child-b", ("parent",), hash_range=(HALF, TOP)),
            ShardInfo("parent", (), closed=True, hash_range=(0, TOP)),
        ]

    def reader(self, shard_id: str, after: int | None) -> Reader:
        return Reader(self, shard_id, after or 0)

    def check(self) -> None:
        pass

    def close(self) -> None:
        pass


class Reader:
    def __init__(self, stream: SplitStream, shard_id: str, after: int) -> None:
        self.stream, self.shard_id, self.position = stream, shard_id, after

    def read(self, limit: int) -> ShardBatch:
        data = self.stream.records[self.shard_id]
        chunk = data[self.position : self.position + limit]
        records = [
            StreamRecord(self.shard_id, self.position + i + 1, d, datetime.now(UTC))
            for i, d in enumerate(chunk)
        ]
        self.position += len(chunk)
        if records:
            self.stream.reads.append(self.shard_id)
        closed = self.shard_id == "parent"
        return ShardBatch(records, closed and self.position == len(data), len(data) - self.position)
