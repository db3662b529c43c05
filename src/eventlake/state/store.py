"""Jobs, idempotency keys, consumer progress and commits, in one small SQL database.

The lake is the truth about what landed; this database is the record of what happened to each
request and run, so that ``/status/{job_id}`` and ``/metrics`` can answer without scanning the
lake. Every writer here is idempotent (updates set values, they never add to them), because
the consumer may replay a batch after a crash and must not count it twice.

SQLite (the default, ``EVENTLAKE_HOME/state.db``) runs in WAL mode so that the API's workers and
the consumers, in separate processes, read while one writes. Any SQLAlchemy URL works (Postgres
in production).
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.expression import Executable

from eventlake.errors import EventlakeError
from eventlake.group_commit import GroupCommit

metadata = sa.MetaData()

# Pipelines whose latest run /metrics reports (their run jobs' names).
WAREHOUSE_RUNS = ("transform", "quality")

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("job_id", sa.String(64), primary_key=True),
    # "ingest": one API request; "run": one pipeline run (POST /trigger).
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("name", sa.String(64), nullable=False),  # dataset or pipeline
    sa.Column("source", sa.String(128), nullable=False, default=""),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("received", sa.Integer, nullable=False, default=0),
    sa.Column("accepted", sa.Integer, nullable=False, default=0),
    sa.Column("rejected", sa.Integer, nullable=False, default=0),
    sa.Column("published_at", sa.Float),
    sa.Column("stream", sa.String(128)),
    sa.Column("shard_id", sa.String(128)),
    sa.Column("sequence_number", sa.String(64)),
    sa.Column("processed_at", sa.Float),
    sa.Column("landed", sa.Integer),
    sa.Column("dead_lettered", sa.Integer),
    sa.Column("duplicates", sa.Integer),
    sa.Column("committed_at", sa.Float),
    sa.Column("snapshot_id", sa.String(32)),
    sa.Column("finished_at", sa.Float),
    sa.Column("error", sa.Text),
    sa.Column("detail", sa.Text),  # JSON: stages added by later pipeline steps, run results
    sa.Index("ix_jobs_published_at", "published_at"),
    sa.Index("ix_jobs_kind_created", "kind", "created_at"),
)

idempotency = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("source", sa.String(128), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("status_code", sa.Integer),  # None while the first request is in flight
    sa.Column("response", sa.Text),
)

consumer_shards = sa.Table(
    "consumer_shards",
    metadata,
    sa.Column("stream", sa.String(128), primary_key=True),
    sa.Column("shard_id", sa.String(128), primary_key=True),
    sa.Column("consumer", sa.String(128), nullable=False),
    sa.Column("position", sa.String(64)),
    sa.Column("behind", sa.BigInteger),
    sa.Column("updated_at", sa.Float, nullable=False),
)

commits = sa.Table(
    "commits",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("table_name", sa.String(128), nullable=False),
    sa.Column("snapshot_id", sa.String(32)),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("dead_lettered", sa.Integer, nullable=False),
    sa.Column("duplicates", sa.Integer, nullable=False),
    sa.Column("committed_at", sa.Float, nullable=False),
    sa.Index("ix_commits_committed_at", "committed_at"),
)

# A first request that died between claiming its key and answering frees the key after this:
# longer than any publish can take (the embedded log's lock waits 60 s at most, Kinesis
# retries for less). A retry after that finds the job by its derived id (see ingest.py).
IDEMPOTENCY_PENDING_SECONDS = 600.0


class IdempotencyConflictError(EventlakeError, RuntimeError):
    """The key is in use by a request still in flight, or was first used with another body."""


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


def _enable_sqlite_wal(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


# Upserts, so that the API and the consumer may record a job in either order: a consumer can
# commit a batch before the API that published it has written its job. SQLite and Postgres.
_UPSERTS: dict[str, Callable[[sa.Table], Any]] = {
    "sqlite": sqlite.insert,
    "postgresql": postgresql.insert,
}


def _published_upsert(dialect: str) -> Any:
    """The API's one write per accepted request; leaves what a consumer recorded alone."""
    insert = _UPSERTS[dialect](jobs)
    published = (
        "source", "created_at", "received", "accepted", "rejected", "published_at", "stream",
        "shard_id", "sequence_number",
    )  # fmt: skip
    return insert.on_conflict_do_update(
        index_elements=[jobs.c.job_id], set_={name: insert.excluded[name] for name in published}
    )


def _rejected_upsert(dialect: str) -> Any:
    """A job whose body had no valid record; the same idempotent job may be sent again."""
    insert = _UPSERTS[dialect](jobs)
    again = ("status", "updated_at", "received", "accepted", "rejected", "detail")
    return insert.on_conflict_do_update(
        index_elements=[jobs.c.job_id], set_={name: insert.excluded[name] for name in again}
    )


def _processed_upsert(dialect: str) -> Any:
    insert = _UPSERTS[dialect](jobs)
    return insert.on_conflict_do_update(
        index_elements=[jobs.c.job_id],
        set_={
            "status": "committed",
            "processed_at": sa.func.coalesce(jobs.c.processed_at, insert.excluded.processed_at),
            "committed_at": sa.func.coalesce(jobs.c.committed_at, insert.excluded.committed_at),
            "updated_at": insert.excluded.updated_at,
            "landed": insert.excluded.landed,
            "dead_lettered": insert.excluded.dead_lettered,
            "duplicates": insert.excluded.duplicates,
            # A replay after a crash knows the counts again but not the snapshot.
            "snapshot_id": sa.func.coalesce(insert.excluded.snapshot_id, jobs.c.snapshot_id),
        },
    )


_Write = tuple[Executable, dict[str, Any]]


class StateStore:
    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith("sqlite"):
            # A connection per request thread, kept: opening one runs the PRAGMAs again.
            self.engine: Engine = sa.create_engine(
                url, connect_args={"timeout": 30}, pool_size=32, max_overflow=32
            )
            sa.event.listen(self.engine, "connect", _enable_sqlite_wal)
        else:
            self.engine = sa.create_engine(url, pool_pre_ping=True)
        dialect = self.engine.dialect.name
        if dialect not in _UPSERTS:
            raise ValueError(f"the job state needs SQLite or Postgres, not {dialect}")
        self._insert_job = _rejected_upsert(dialect)
        self._published = _published_upsert(dialect)
        self._processed = _processed_upsert(dialect)
        metadata.create_all(self.engine)
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

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        with self.engine.begin() as connection:
            yield connection

    def check(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(sa.select(1))

    # --- jobs -------------------------------------------------------------------------------

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
        if row is None:
            return None
        job = dict(row._mapping)
        job["detail"] = json.loads(job["detail"]) if job["detail"] else {}
        return job

    def recent_jobs(self, *, kind: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        query = sa.select(jobs).order_by(jobs.c.created_at.desc()).limit(limit)
        if kind is not None:
            query = query.where(jobs.c.kind == kind)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        out = []
        for row in rows:
            job = dict(row._mapping)
            job["detail"] = json.loads(job["detail"]) if job["detail"] else {}
            out.append(job)
        return out

    def record_processed(self, progress: Sequence[JobProgress]) -> None:
        """Mark jobs processed and committed by the consumer, in one transaction."""
        if not progress:
            return
        now = time.time()
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
            for p in progress
        ]
        with self._begin() as connection:
            connection.execute(self._processed, rows)

    # --- idempotency ------------------------------------------------------------------------

    def claim_idempotency_key(
        self, source: str, key: str, fingerprint: str
    ) -> tuple[int, str] | None:
        """Claim ``key`` for a first request (None), or return the first answer (status,
        body). Raises IdempotencyConflictError while the first request is in flight or when the
        key was used with a different body."""
        now = time.time()
        with self._begin() as connection:
            row = connection.execute(
                sa.select(idempotency).where(
                    (idempotency.c.source == source) & (idempotency.c.key == key)
                )
            ).first()
            if row is not None:
                if row.fingerprint != fingerprint:
                    raise IdempotencyConflictError(
                        "this Idempotency-Key was first used with a different request body"
                    )
                if row.status_code is not None:
                    return int(row.status_code), str(row.response)
                if now - row.created_at < IDEMPOTENCY_PENDING_SECONDS:
                    raise IdempotencyConflictError(
                        "a request with this Idempotency-Key is still being processed"
                    )
                connection.execute(
                    idempotency.update()
                    .where((idempotency.c.source == source) & (idempotency.c.key == key))
                    .values(created_at=now)
                )
                return None
            try:
                connection.execute(
                    idempotency.insert().values(
                        source=source, key=key, fingerprint=fingerprint, created_at=now
                    )
                )
            except IntegrityError as error:  # a twin request claimed it a moment ago
                raise IdempotencyConflictError(
                    "a request with this Idempotency-Key is still being processed"
                ) from error
        return None

    def store_idempotent_answer(
        self, source: str, key: str, status_code: int, response: str
    ) -> None:
        with self._begin() as connection:
            connection.execute(
                idempotency.update()
                .where((idempotency.c.source == source) & (idempotency.c.key == key))
                .values(status_code=status_code, response=response)
            )

    def release_idempotency_key(self, source: str, key: str) -> None:
        """Forget a claim whose request failed before anything was published."""
        with self._begin() as connection:
            connection.execute(
                idempotency.delete().where(
                    (idempotency.c.source == source)
                    & (idempotency.c.key == key)
                    & idempotency.c.status_code.is_(None)
                )
            )

    # --- consumer progress and commits ------------------------------------------------------

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
        if row is None:
            return None
        run = dict(row._mapping)
        run["detail"] = json.loads(run["detail"]) if run["detail"] else {}
        return run

    # --- metrics ----------------------------------------------------------------------------

    def metrics(self, *, window_seconds: float = 60.0) -> dict[str, Any]:
        """Totals over every ingest job, throughput over the last window, lag, last commit."""
        since = time.time() - window_seconds
        with self.engine.connect() as connection:
            totals = connection.execute(
                sa.select(
                    sa.func.count(),
                    sa.func.coalesce(sa.func.sum(jobs.c.received), 0),
                    sa.func.coalesce(sa.func.sum(jobs.c.accepted), 0),
                    sa.func.coalesce(sa.func.sum(jobs.c.rejected), 0),
                    sa.func.coalesce(sa.func.sum(jobs.c.landed), 0),
                    sa.func.coalesce(sa.func.sum(jobs.c.dead_lettered), 0),
                    sa.func.coalesce(sa.func.sum(jobs.c.duplicates), 0),
                ).where(jobs.c.kind == "ingest")
            ).one()
            accepted_recently = connection.execute(
                sa.select(sa.func.coalesce(sa.func.sum(jobs.c.accepted), 0)).where(
                    (jobs.c.kind == "ingest") & (jobs.c.published_at >= since)
                )
            ).scalar_one()
            landed_recently = connection.execute(
                sa.select(sa.func.coalesce(sa.func.sum(commits.c.rows), 0)).where(
                    commits.c.committed_at >= since
                )
            ).scalar_one()
            last_commit = connection.execute(
                sa.select(commits).order_by(commits.c.id.desc()).limit(1)
            ).first()
            shards = connection.execute(
                sa.select(consumer_shards).order_by(
                    consumer_shards.c.stream, consumer_shards.c.shard_id
                )
            ).all()
        jobs_count, received, accepted, rejected, landed, dead_lettered, duplicates = totals
        return {
            "jobs": int(jobs_count),
            "events_received": int(received),
            "events_accepted": int(accepted),
            "events_rejected": int(rejected),
            "events_landed": int(landed),
            "events_dead_lettered": int(dead_lettered),
            "events_duplicates": int(duplicates),
            "window_seconds": window_seconds,
            "accepted_per_second": float(accepted_recently) / window_seconds,
            "landed_per_second": float(landed_recently) / window_seconds,
            "consumer_lag": [
                {
                    "stream": s.stream,
                    "shard_id": s.shard_id,
                    "consumer": s.consumer,
                    "position": s.position,
                    "behind": s.behind,
                    "updated_at": s.updated_at,
                }
                for s in shards
            ],
            # The warehouse stages, as their last runs left them (eventlake transform and
            # quality, or a trigger): dbt's models and tests, the quality gates.
            "last_runs": {name: _run_summary(self.last_run(name)) for name in WAREHOUSE_RUNS},
            "last_commit": None
            if last_commit is None
            else {
                "table": last_commit.table_name,
                "snapshot_id": last_commit.snapshot_id,
                "rows": last_commit.rows,
                "dead_lettered": last_commit.dead_lettered,
                "duplicates": last_commit.duplicates,
                "committed_at": last_commit.committed_at,
            },
        }

    def close(self) -> None:
        self.engine.dispose()


def _run_summary(run: dict[str, Any] | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        "run_id": run["job_id"],
        "status": run["status"],
        "finished_at": run["finished_at"],
        "error": run["error"],
        "result": run["detail"].get("result"),
    }


def open_state(url: str) -> StateStore:
    return StateStore(url)
