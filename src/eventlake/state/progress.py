"""What the consumer records: each job's batch committed to the lake, each shard's position
and lag, each lake commit. Every write sets values, never adds to them: the consumer may
replay a batch after a crash and must not count it twice."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from eventlake.state.database import BUSY_TIMEOUT_SECONDS, Database
from eventlake.state.schema import commits, consumer_faults, consumer_shards, processed_upsert


@dataclass(frozen=True)
class JobProgress:
    """What the consumer did with one job's records (set, never added: replays are safe)."""

    job_id: str
    landed: int
    dead_lettered: int
    duplicates: int
    snapshot_id: int | None
    dataset: str = ""
    # What the API recorded, carried by the stream record: used when the API's own write of
    # the job failed (it answered 202 all the same), so the job still reconciles.
    received: int = 0
    source: str = ""
    # The part (stream record) of the job these counts are for, and how many parts the job
    # has (see ``job_parts``); no shard: the counts are the whole job's.
    shard_id: str = ""
    sequence_number: int | None = None
    parts: int = 1
    # After a split, a consumer forwards the events of a sibling's keys to their owner as new
    # stream records (consumer/records.py). Each such part has a key of its own, derived from
    # the record it came from (``forwarded_part_key``), the same however often it is
    # published: its counts are recorded under it (``forwarded_as``), and the record that
    # forwarded it lists it (``forwards``), so the job waits for it.
    forwarded_as: tuple[str, str] | None = None
    forwards: tuple[tuple[str, str], ...] = ()

    def part_key(self) -> tuple[str, str]:
        """The (shard, sequence) this part's counts are recorded under (``job_parts``)."""
        if self.forwarded_as is not None:
            return self.forwarded_as
        return self.shard_id, "" if self.sequence_number is None else str(self.sequence_number)


def forwarded_part_key(origin: tuple[str, str], index: int) -> tuple[str, str]:
    """The key of the ``index``-th part (from 1) forwarded from the part keyed ``origin``."""
    shard_id, sequence = origin
    return shard_id, f"{sequence}{FORWARDED_MARK}{index}"


# What marks a forwarded part's sequence: Kinesis and the embedded log number their records
# with digits only. A part forwarded twice (two splits in a row) gets a second mark.
FORWARDED_MARK = "+"


def is_forwarded_part(sequence: str) -> bool:
    return FORWARDED_MARK in sequence


@dataclass(frozen=True)
class ShardProgress:
    stream: str
    shard_id: str
    consumer: str
    position: int | None
    behind: int | None


@dataclass(frozen=True)
class CommitRecord:
    table_name: str
    snapshot_id: int | None
    rows: int
    dead_lettered: int
    duplicates: int


class ConsumerProgress(Database):
    def __init__(self, url: str, *, busy_timeout_seconds: float = BUSY_TIMEOUT_SECONDS) -> None:
        super().__init__(url, busy_timeout_seconds=busy_timeout_seconds)
        self._processed = processed_upsert(self.dialect)

    def record_processed(self, progress: Sequence[JobProgress]) -> None:
        """Mark jobs (or parts of jobs) processed and committed by the consumer, in one
        transaction (see ``JobRecords.record_parts``)."""
        if not progress:
            return
        now = time.time()
        whole = [p for p in progress if not p.shard_id]
        rows = [
            {
                "job_id": p.job_id,
                "kind": "ingest",
                "name": p.dataset,
                "source": p.source,
                "status": "committed",
                "created_at": now,
                "updated_at": now,
                "received": p.received,
                "accepted": p.received - p.dead_lettered,
                "rejected": p.dead_lettered,
                "processed_at": now,
                "committed_at": now,
                "landed": p.landed,
                "dead_lettered": p.dead_lettered,
                "duplicates": p.duplicates,
                "snapshot_id": None if p.snapshot_id is None else str(p.snapshot_id),
            }
            for p in whole
        ]
        with self._begin() as connection:
            if rows:
                connection.execute(self._processed, rows)
            parts = [p for p in progress if p.shard_id]
            if parts:
                self.record_parts(connection, parts, now)

    def record_parts(
        self, connection: Connection, parts: Sequence[JobProgress], now: float
    ) -> None:
        raise NotImplementedError  # JobRecords (jobs.py) records parts; StateStore has both

    def record_shards(self, progress: Iterable[ShardProgress]) -> None:
        rows = [
            {
                "stream": p.stream,
                "shard_id": p.shard_id,
                "consumer": p.consumer,
                "position": None if p.position is None else str(p.position),
                "behind": p.behind,
                "updated_at": time.time(),
            }
            for p in progress
        ]
        if not rows:
            return
        with self._begin() as connection:
            for row in rows:
                updated = connection.execute(
                    consumer_shards.update()
                    .where(
                        (consumer_shards.c.stream == row["stream"])
                        & (consumer_shards.c.shard_id == row["shard_id"])
                    )
                    .values(**row)
                )
                if updated.rowcount == 0:
                    connection.execute(consumer_shards.insert().values(**row))

    def record_commit(self, commit: CommitRecord) -> None:
        with self._begin() as connection:
            connection.execute(
                commits.insert().values(
                    table_name=commit.table_name,
                    snapshot_id=None if commit.snapshot_id is None else str(commit.snapshot_id),
                    rows=commit.rows,
                    dead_lettered=commit.dead_lettered,
                    duplicates=commit.duplicates,
                    committed_at=time.time(),
                )
            )

    def record_consumer_fault(self, group: str, consumer: str, error: str) -> None:
        """One more failed batch in a row for ``consumer`` (of ``group``, its dataset's table),
        with the error: what /health and /metrics show while the fault lasts."""
        now = time.time()
        key = (consumer_faults.c.consumer_group == group) & (consumer_faults.c.consumer == consumer)
        with self._begin() as connection:
            updated = connection.execute(
                consumer_faults.update()
                .where(key)
                .values(
                    failed_batches=consumer_faults.c.failed_batches + 1,
                    last_error=error[:500],
                    updated_at=now,
                )
            )
            if updated.rowcount == 0:
                connection.execute(
                    consumer_faults.insert().values(
                        consumer_group=group,
                        consumer=consumer,
                        failed_batches=1,
                        last_error=error[:500],
                        failing_since=now,
                        updated_at=now,
                    )
                )

    def clear_consumer_fault(self, group: str, consumer: str) -> None:
        """The consumer committed again (or stopped): no longer failing."""
        with self._begin() as connection:
            connection.execute(
                consumer_faults.delete().where(
                    (consumer_faults.c.consumer_group == group)
                    & (consumer_faults.c.consumer == consumer)
                )
            )

    def consumer_faults(self) -> list[dict[str, object]]:
        """The consumers whose last batches failed, longest failing first."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(consumer_faults).order_by(consumer_faults.c.failing_since)
            ).all()
        return [dict(row._mapping) for row in rows]
