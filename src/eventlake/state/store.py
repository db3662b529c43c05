"""Jobs, idempotency keys, consumer progress and commits, in one small SQL database.

The lake is the truth about what landed; this database is the record of what happened to each
request and run, so that ``/status/{job_id}`` and ``/metrics`` can answer without scanning the
lake. Every writer here is idempotent (updates set values, they never add to them), because
the consumer may replay a batch after a crash and must not count it twice.

SQLite (the default, ``EVENTLAKE_HOME/state.db``) runs in WAL mode so that the API's workers and
the consumers, in separate processes, read while one writes. Any SQLAlchemy URL works (Postgres
in production).

``StateStore`` is one object over the parts, each in its module: ``schema`` (the tables),
``jobs``, ``idempotency``, ``progress`` (the consumer's), ``leases`` (shards shared by
consumers), ``metrics``; ``runs`` records
pipeline runs as jobs. Close it, or use it as a context manager, to dispose of its engine::

    with StateStore(url) as state:
        state.job(job_id)
"""

from __future__ import annotations

from eventlake.state.database import BUSY_TIMEOUT_SECONDS
from eventlake.state.idempotency import IdempotencyKeys
from eventlake.state.leases import ShardLeases
from eventlake.state.metrics import Metrics
from eventlake.state.progress import ConsumerProgress


class StateStore(Metrics, ConsumerProgress, IdempotencyKeys, ShardLeases):
    """The job state database: jobs and runs, idempotency keys, consumer progress, metrics."""


def open_state(url: str, *, busy_timeout_seconds: float = BUSY_TIMEOUT_SECONDS) -> StateStore:
    return StateStore(url, busy_timeout_seconds=busy_timeout_seconds)
