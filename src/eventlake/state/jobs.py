"""Jobs: one row per API request (kind ``ingest``) or pipeline run (kind ``run``).

The API's writes, from many request threads at once, are grouped into one transaction
(``GroupCommit``); every other write is its own. ``detail`` is JSON: a rejected body's
errors, a run's result.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.sql.expression import Executable

from eventlake.group_commit import GroupCommit
from eventlake.state.database import Database
from eventlake.state.schema import jobs, published_upsert, rejected_upsert

_Write = tuple[Executable, dict[str, Any]]


def _decoded(row: Row[Any]) -> dict[str, Any]:
    job = dict(row._mapping)
    job["detail"] = json.loads(job["detail"]) if job["detail"] else {}
    return job


class JobRecords(Database):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._insert_job = rejected_upsert(self.dialect)
        self._published = published_upsert(self.dialect)
        # The API's job writes, from many request threads at once, go in one transaction
        # (one writer at a time: no thread sleeps in SQLite's busy handler behind another).
        self._writes: GroupCommit[_Write, None] = GroupCommit(
            self._write_group, max_items=1000, reraise=True
        )

    def _write_group(self, writes: list[_Write]) -> list[None]:
        with self._begin() as connection:
            # Consecutive writes of one statement run as one executemany, in order.
            for _, run in itertools.groupby(writes, key=lambda write: id(write[0])):
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
    ) -> None:
        """An ingest job whose batch is durably in the stream: one write per request, grouped
        with concurrent requests'. A consumer may have recorded it committed already."""
        now = time.time()
        row = {
            "job_id": job_id,
            "kind": "ingest",
            "name": name,
            "source": source,
            "status": "published",
            "created_at": now,
            "updated_at": now,
            "received": received,
            "accepted": accepted,
            "rejected": rejected,
            "published_at": now,
            "stream": stream,
            "shard_id": shard_id,
            "sequence_number": str(sequence_number),
            "detail": None,
        }
        self._writes.submit([(self._published, row)])

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
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(jobs).where(jobs.c.job_id == job_id)).first()
        return None if row is None else _decoded(row)

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
