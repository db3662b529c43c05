"""Job state shared by the API, the consumer and the pipeline runner (any SQLAlchemy URL)."""

from eventlake.state.database import driver_message, state_database_of
from eventlake.state.idempotency import IdempotencyConflictError
from eventlake.state.jobs import PublishedJob, PublishedPart
from eventlake.state.progress import CommitRecord, JobProgress, ShardProgress
from eventlake.state.store import StateStore, open_state

__all__ = [
    "CommitRecord",
    "IdempotencyConflictError",
    "JobProgress",
    "PublishedJob",
    "PublishedPart",
    "ShardProgress",
    "StateStore",
    "driver_message",
    "open_state",
    "state_database_of",
]
