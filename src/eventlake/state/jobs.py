"""Jobs: one row per API request (kind ``ingest``) or pipeline run (kind ``run``).

The API's writes, from many request threads at once, are grouped into one transaction
(``GroupCommit``); every other write is its own. ``detail`` is JSON: a rejected body's
errors, a run's result.
"""

from __future__ import annotations

import itertools
import json
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row
from sqlalchemy.sql.expression import Executable

from eventlake.group_commit import GroupCommit
from eventlake.state.database import BUSY_TIMEOUT_SECONDS, Database
from eventlake.state.progress import JobProgress, is_forwarded_part
from eventlake.state.schema import (
    job_parts,
    jobs,
    part_processed_upsert,
    part_published_upsert,
    parts_settled_upsert,
    published_upsert,
    rejected_upsert,
)

_Write = tuple[Executable, dict[str, Any]]


@dataclass(frozen=True)
class PublishedPart:
    """One stream record of a request: where it landed, and how many of its records."""

    shard_id: str
    sequence_number: int
    records: int


@dataclass(frozen=True)
class PublishedJob:
    """An ingest request whose batch is durably in the stream: its job row. ``shard_id`` and
    ``sequence_number`` are its first part's; ``parts`` every part (none recorded when
    empty)."""

    job_id: str
    name: str
    source: str
    received: int
    accepted: int
    rejected: int
    stream: str
    shard_id: str
    sequence_number: int
    parts: tuple[PublishedPart, ...] = ()


def _table_of(statement: Executable) -> str:
    """The table an insert (or upsert) writes."""
    return str(statement.table.name)  # type: ignore[attr-defined]


def _decoded(row: Row[Any]) -> dict[str, Any]:
    job = dict(row._mapping)
    job["detail"] = json.loads(job["detail"]) if job["detail"] else {}
    return job


class JobRecords(Database):
    def __init__(self, url: str, *, busy_timeout_seconds: float = BUSY_TIMEOUT_SECONDS) -> None:
        super().__init__(url, busy_timeout_seconds=busy_timeout_seconds)
        self._insert_job = rejected_upsert(self.dialect)
        self._published = published_upsert(self.dialect)
        self._part_published = part_published_upsert(self.dialect)
        self._part_processed = part_processed_upsert(self.dialect)
        self._parts_settled = parts_settled_upsert(self.dialect)
        # The API's job writes, from many request threads at once, go in one transaction
        # (one writer at a time: no thread sleeps in SQLite's busy handler behind another).
        self._writes: GroupCommit[_Write, None] = GroupCommit(
            self._write_group, max_items=1000, reraise=True
        )

    def _write_group(self, writes: list[_Write]) -> list[None]:
        with self._begin() as connection:
            # Each statement's writes run as one executemany. A request writes its job row,
            # then its parts' rows, so in arrival order the statements alternate and a group
            # of N requests cost 2N round trips; grouped by table they cost one per statement.
            # Writes to one table keep their order (a stable sort), and the tables are
            # independent (no trigger, no foreign key between them), so the result is the same.
            tables: dict[str, int] = {}
            for statement, _ in writes:
                tables.setdefault(_table_of(statement), len(tables))
            ordered = sorted(writes, key=lambda write: tables[_table_of(write[0])])
            for _, run in itertools.groupby(ordered, key=lambda write: id(write[0])):
                batch = list(run)
                connection.execute(batch[0][0], [params for _, params in batch])
        return [None] * len(writes)

    def add_job(
        self,
        job_id: str,
        *,
        name: str,
        source: str,
        status: str,
        received: int,
        accepted: int,
        rejected: int,
        stream: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Create an ingest job (grouped with concurrent requests' writes)."""
        now = time.time()
        row = {
            "job_id": job_id,
            "kind": "ingest",
            "name": name,
            "source": source,
            "status": status,
            "created_at": now,
            "updated_at": now,
            "received": received,
            "accepted": accepted,
            "rejected": rejected,
            "published_at": None,
            "stream": stream,
            "shard_id": None,
            "sequence_number": None,
            "detail": json.dumps(detail) if detail else None,
        }
        self._writes.submit([(self._insert_job, row)])

    def add_published_job(
        self,
        job_id: str,
        *,
        name: str,
        source: str,
        received: int,
        accepted: int,
        rejected: int,
        stream: str,
        shard_id: str,
        sequence_number: int,
        parts: Sequence[PublishedPart] = (),
    ) -> None:
        """One ingest job whose batch is durably in the stream (see ``add_published_jobs``).
        ``shard_id`` and ``sequence_number`` are the first part's; ``parts`` every part, when
        the request became more than one stream record."""
        self.add_published_jobs(
            [
                PublishedJob(
                    job_id,
                    name=name,
                    source=source,
                    received=received,
                    accepted=accepted,
                    rejected=rejected,
                    stream=stream,
                    shard_id=shard_id,
                    sequence_number=sequence_number,
                    parts=tuple(parts),
                )
            ]
        )

    def add_published_jobs(self, published: Sequence[PublishedJob]) -> None:
        """Ingest jobs whose batches are durably in the stream, in one transaction grouped
        with concurrent callers' writes (the API's writer passes a whole group of requests).
        A consumer may have recorded a job committed already."""
        now = time.time()
        writes: list[_Write] = []
        for job in published:
            row = {
                "job_id": job.job_id,
                "kind": "ingest",
                "name": job.name,
                "source": job.source,
                "status": "published",
                "created_at": now,
                "updated_at": now,
                "received": job.received,
                "accepted": job.accepted,
                "rejected": job.rejected,
                "published_at": now,
                "stream": job.stream,
                "shard_id": job.shard_id,
                "sequence_number": str(job.sequence_number),
                "detail": None,
            }
            writes.append((self._published, row))
            writes += [
                (
                    self._part_published,
                    {
                        "job_id": job.job_id,
                        "shard_id": part.shard_id,
                        "sequence_number": str(part.sequence_number),
                        "part": index,
                        "parts": len(job.parts),
                        "records": part.records,
                        "published_at": now,
                    },
                )
                for index, part in enumerate(job.parts)
            ]
        if writes:
            self._writes.submit(writes)

    def record_parts(
        self, connection: Connection, parts: Sequence[JobProgress], now: float
    ) -> None:
        """The consumer's counts for parts of jobs (in its transaction), then each job's row
        from all its parts: the sums so far, and committed once every part is. A job is
        complete when every part the API recorded is committed and at least as many parts
        as the request became are (the API may not have recorded its parts yet: the consumer
        can be first). Set, never added: a replayed part writes the same row again, and a part
        forwarded twice (a consumer crashed between forwarding and committing) keeps the
        counts of its first commit.

        The parts a record's events were forwarded as are expected from then on, like the
        parts the API publishes: the job is not committed before their owner commits them. They
        do not count toward the parts the request became (their records do)."""
        forwarded = [
            {
                "job_id": p.job_id,
                "shard_id": shard_id,
                "sequence_number": sequence,
                "part": None,
                "parts": p.parts,
                "records": None,
                "published_at": now,
            }
            for p in parts
            for shard_id, sequence in p.forwards
        ]
        if forwarded:
            connection.execute(self._part_published, forwarded)
        connection.execute(
            self._part_processed,
            [
                {
                    "job_id": p.job_id,
                    "shard_id": p.part_key()[0],
                    "sequence_number": p.part_key()[1],
                    "parts": p.parts,
                    "received": p.received,
                    "landed": p.landed,
                    "dead_lettered": p.dead_lettered,
                    "duplicates": p.duplicates,
                    "committed_at": now,
                    "snapshot_id": None if p.snapshot_id is None else str(p.snapshot_id),
                }
                for p in parts
            ],
        )
        latest = {p.job_id: p for p in parts}
        rows = connection.execute(
            sa.select(job_parts).where(job_parts.c.job_id.in_(sorted(latest)))
        ).all()
        by_job: dict[str, list[Any]] = defaultdict(list)
        for part_row in rows:
            by_job[part_row.job_id].append(part_row)
        settled = []
        for job_id, found in sorted(by_job.items()):
            done = [r for r in found if r.committed_at is not None]
            waiting = [r for r in found if r.published_at is not None and r.committed_at is None]
            requested = [r for r in done if not is_forwarded_part(r.sequence_number)]
            complete = not waiting and len(requested) >= max(r.parts for r in found)
            p = latest[job_id]
            received = sum(r.received or 0 for r in done)
            dead_lettered = sum(r.dead_lettered or 0 for r in done)
            settled.append(
                {
                    "job_id": job_id,
                    "kind": "ingest",
                    "name": p.dataset,
                    "source": p.source,
                    "status": "committed" if complete else "published",
                    "created_at": now,
                    "updated_at": now,
                    "received": received,
                    "accepted": received - dead_lettered,
                    "rejected": dead_lettered,
                    "processed_at": now,
                    "committed_at": now if complete else None,
                    "landed": sum(r.landed or 0 for r in done),
                    "dead_lettered": dead_lettered,
                    "duplicates": sum(r.duplicates or 0 for r in done),
                    "snapshot_id": None if p.snapshot_id is None else str(p.snapshot_id),
                }
            )
        connection.execute(self._parts_settled, settled)

    def create_job(
        self,
        job_id: str,
        *,
        kind: str,
        name: str,
        source: str = "",
        status: str,
        received: int = 0,
        accepted: int = 0,
        rejected: int = 0,
        stream: str | None = None,
        shard_id: str | None = None,
        sequence_number: int | None = None,
        published: bool = False,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        now = time.time()
        with self._begin() as connection:
            connection.execute(
                jobs.insert().values(
                    job_id=job_id,
                    kind=kind,
                    name=name,
                    source=source,
                    status=status,
                    created_at=now,
                    updated_at=now,
                    received=received,
                    accepted=accepted,
                    rejected=rejected,
                    published_at=now if published else None,
                    stream=stream,
                    shard_id=shard_id,
                    sequence_number=None if sequence_number is None else str(sequence_number),
                    detail=json.dumps(detail) if detail else None,
                )
            )

    def update_job(self, job_id: str, **values: Any) -> None:
        if "detail" in values and values["detail"] is not None:
            values["detail"] = json.dumps(values["detail"])
        values["updated_at"] = time.time()
        with self._begin() as connection:
            connection.execute(jobs.update().where(jobs.c.job_id == job_id).values(**values))

    def job(self, job_id: str) -> dict[str, Any] | None:
        """The job's row; an ingest job's ``parts`` too (its stream records, in request
        order; empty for a job published before parts, or not published)."""
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(jobs).where(jobs.c.job_id == job_id)).first()
            if row is None:
                return None
            job = _decoded(row)
            if job["kind"] == "ingest":
                parts = connection.execute(
                    sa.select(job_parts)
                    .where(job_parts.c.job_id == job_id)
                    .order_by(
                        job_parts.c.part.is_(None),
                        job_parts.c.part,
                        job_parts.c.shard_id,
                        job_parts.c.sequence_number,
                    )
                ).all()
                job["parts"] = [dict(part._mapping) for part in parts]
        return job

    def recent_jobs(self, *, kind: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        query = sa.select(jobs).order_by(jobs.c.created_at.desc()).limit(limit)
        if kind is not None:
            query = query.where(jobs.c.kind == kind)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return [_decoded(row) for row in rows]

    def last_run(self, name: str) -> dict[str, Any] | None:
        """The latest finished run of pipeline ``name`` (succeeded or failed), or None."""
        query = (
            sa.select(jobs)
            .where(
                (jobs.c.kind == "run")
                & (jobs.c.name == name)
                & jobs.c.status.in_(("succeeded", "failed"))
            )
            .order_by(jobs.c.finished_at.desc())
            .limit(1)
        )
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        return None if row is None else _decoded(row)
