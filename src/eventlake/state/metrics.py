"""The figures ``/api/v1/metrics``, Prometheus and the dashboard show, read in one place."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from eventlake.state.jobs import JobRecords
from eventlake.state.schema import commits, consumer_faults, consumer_shards, jobs

# Pipelines whose latest run /metrics reports (their run jobs' names).
WAREHOUSE_RUNS = ("transform", "quality")


class Metrics(JobRecords):
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
            faults = connection.execute(
                sa.select(consumer_faults).order_by(consumer_faults.c.failing_since)
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
            # Consumers whose batches keep failing (S3, the catalog, the stream): while it lasts.
            "consumer_faults": [dict(f._mapping) for f in faults],
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
