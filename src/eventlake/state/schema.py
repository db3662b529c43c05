"""The state database's tables, and the upserts that let writers record a job in any order.

The tables: ``jobs`` (one row per API request or pipeline run), ``idempotency_keys`` (the
first answer to each ``Idempotency-Key``), ``consumer_shards`` (each shard's position and
lag), ``commits`` (each lake commit, for throughput and the last commit) and ``job_parts``
(each request's stream records, one per shard, at the end). They are created when a store
opens (``metadata.create_all``), on SQLite or PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

metadata = sa.MetaData()

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
    # The claim's owner (an API process) and until when it holds the key unless it renews the
    # claim; None on claims made before leases (see ``eventlake.state.idempotency``). Added to
    # existing databases on open (``idempotency.add_claim_columns``).
    sa.Column("owner", sa.String(255)),
    sa.Column("expires_at", sa.Float),
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

# A consumer whose batches keep failing (S3 or the catalog down, the stream throttling): how
# many in a row and the last error, for /health and /metrics (the consumer is another process
# than the API). Set on a failed batch, deleted on the next commit and when it stops.
consumer_faults = sa.Table(
    "consumer_faults",
    metadata,
    sa.Column("consumer_group", sa.String(255), primary_key=True),
    sa.Column("consumer", sa.String(255), primary_key=True),
    sa.Column("failed_batches", sa.Integer, nullable=False),
    sa.Column("last_error", sa.String(500), nullable=False),
    sa.Column("failing_since", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

# Upserts, so that the API and the consumer may record a job in either order: a consumer can
# commit a batch before the API that published it has written its job. SQLite and Postgres.
UPSERTS: dict[str, Callable[[sa.Table], Any]] = {
    "sqlite": sqlite.insert,
    "postgresql": postgresql.insert,
}


def published_upsert(dialect: str) -> Any:
    """The API's one write per accepted request; leaves what a consumer recorded alone."""
    insert = UPSERTS[dialect](jobs)
    published = (
        "source", "created_at", "received", "accepted", "rejected", "published_at", "stream",
        "shard_id", "sequence_number",
    )  # fmt: skip
    return insert.on_conflict_do_update(
        index_elements=[jobs.c.job_id], set_={name: insert.excluded[name] for name in published}
    )


def rejected_upsert(dialect: str) -> Any:
    """A job whose body had no valid record; the same idempotent job may be sent again."""
    insert = UPSERTS[dialect](jobs)
    again = ("status", "updated_at", "received", "accepted", "rejected", "detail")
    return insert.on_conflict_do_update(
        index_elements=[jobs.c.job_id], set_={name: insert.excluded[name] for name in again}
    )


def _consumer_counts(insert: Any) -> dict[str, Any]:
    """What a consumer's write sets on a job row: its counts (set, never added: a replay
    writes the same), and the first time it was processed and committed."""
    return {
        "processed_at": sa.func.coalesce(jobs.c.processed_at, insert.excluded.processed_at),
        "committed_at": sa.func.coalesce(jobs.c.committed_at, insert.excluded.committed_at),
        "updated_at": insert.excluded.updated_at,
        "landed": insert.excluded.landed,
        "dead_lettered": insert.excluded.dead_lettered,
        "duplicates": insert.excluded.duplicates,
        # A replay after a crash knows the counts again but not the snapshot.
        "snapshot_id": sa.func.coalesce(insert.excluded.snapshot_id, jobs.c.snapshot_id),
    }


def processed_upsert(dialect: str) -> Any:
    """The consumer's write: a job's batch committed to the lake, with its counts."""
    insert = UPSERTS[dialect](jobs)
    return insert.on_conflict_do_update(
        index_elements=[jobs.c.job_id],
        set_={"status": "committed", **_consumer_counts(insert)},
    )


# --- consumer leases (``eventlake.state.leases``) -------------------------------------------

# One row per shard a consumer group reads, as the Kinesis Client Library's lease table: at most
# one owner at a time, enforced by conditional updates on ``counter`` (see ``leases``). The group
# is the lake table the shard is consumed into, so two lakes reading one stream do not compete.
shard_leases = sa.Table(
    "shard_leases",
    metadata,
    sa.Column("consumer_group", sa.String(255), primary_key=True),
    sa.Column("stream", sa.String(128), primary_key=True),
    sa.Column("shard_id", sa.String(128), primary_key=True),
    sa.Column("owner", sa.String(255)),  # the worker id; None when nobody holds it
    sa.Column("counter", sa.BigInteger, nullable=False, default=0),  # +1 on every change
    sa.Column("expires_at", sa.Float, nullable=False, default=0.0),  # epoch seconds
    sa.Column("finished", sa.Boolean, nullable=False, default=False),  # read to its end
)

# Each shard's deduplication window as of a committed position, so that the next owner of the
# shard (or of its children, after a reshard) starts from it.
shard_windows = sa.Table(
    "shard_windows",
    metadata,
    sa.Column("consumer_group", sa.String(255), primary_key=True),
    sa.Column("stream", sa.String(128), primary_key=True),
    sa.Column("shard_id", sa.String(128), primary_key=True),
    sa.Column("table_uuid", sa.String(64), nullable=False),
    sa.Column("position", sa.String(64), nullable=False),  # the last sequence number it saw
    sa.Column("checksum", sa.BigInteger, nullable=False),  # CRC-32 of the window's bytes
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("saved_at", sa.Float, nullable=False),
)


# --- job parts ------------------------------------------------------------------------------
# A request whose events hash to several shards is published as one stream record per shard
# (its parts, see eventlake.ingest.routing). Each part is identified by where it landed; the
# API records every part it published, the consumer (maybe one per shard) each part it
# committed, in either order. The job is committed once every part is. A consumer's progress
# without a part (shard "" and sequence number "") stands for the whole job, as before parts.

job_parts = sa.Table(
    "job_parts",
    metadata,
    sa.Column("job_id", sa.String(64), primary_key=True),
    sa.Column("shard_id", sa.String(128), primary_key=True),
    sa.Column("sequence_number", sa.String(64), primary_key=True),
    sa.Column("part", sa.Integer),  # its place in the request (the API's), None until known
    sa.Column("parts", sa.Integer, nullable=False),  # how many parts the request became
    sa.Column("records", sa.Integer),  # records of the request in this part (the API's)
    sa.Column("published_at", sa.Float),
    sa.Column("received", sa.Integer),  # the consumer's counts for this part
    sa.Column("landed", sa.Integer),
    sa.Column("dead_lettered", sa.Integer),
    sa.Column("duplicates", sa.Integer),
    sa.Column("committed_at", sa.Float),
    sa.Column("snapshot_id", sa.String(32)),
)


def part_published_upsert(dialect: str) -> Any:
    """The API's write of one part; leaves what a consumer recorded alone."""
    insert = UPSERTS[dialect](job_parts)
    published = ("part", "parts", "records", "published_at")
    return insert.on_conflict_do_update(
        index_elements=[job_parts.c.job_id, job_parts.c.shard_id, job_parts.c.sequence_number],
        set_={name: insert.excluded[name] for name in published},
    )


def part_processed_upsert(dialect: str) -> Any:
    """The consumer's write of one part: set, never added (a replay writes the same). The
    first commit's counts stay: a forwarded part published twice is committed twice, the
    second time as duplicates of the first (``JobRecords.record_parts``)."""
    insert = UPSERTS[dialect](job_parts)
    return insert.on_conflict_do_update(
        index_elements=[job_parts.c.job_id, job_parts.c.shard_id, job_parts.c.sequence_number],
        set_={
            "parts": insert.excluded.parts,
            "received": insert.excluded.received,
            "landed": insert.excluded.landed,
            "dead_lettered": insert.excluded.dead_lettered,
            "duplicates": insert.excluded.duplicates,
            "committed_at": sa.func.coalesce(
                job_parts.c.committed_at, insert.excluded.committed_at
            ),
            "snapshot_id": sa.func.coalesce(insert.excluded.snapshot_id, job_parts.c.snapshot_id),
        },
        where=job_parts.c.committed_at.is_(None),
    )


def parts_settled_upsert(dialect: str) -> Any:
    """The job row from its parts, after a consumer recorded some: the counts are the sums
    over the parts committed so far; the job is committed (``committed_at`` given) only once
    every part is, until then its status stays what it was."""
    insert = UPSERTS[dialect](jobs)
    return insert.on_conflict_do_update(
        index_elements=[jobs.c.job_id],
        set_={
            "status": sa.case(
                (insert.excluded.committed_at.is_not(None), "committed"), else_=jobs.c.status
            ),
            **_consumer_counts(insert),
        },
    )
