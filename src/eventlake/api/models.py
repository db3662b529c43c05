"""What the API answers, as pydantic models: they document the answers in OpenAPI."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    code: str = Field(description="A stable code a client can branch on.")
    message: str = Field(description="What went wrong, for people.")
    details: list[dict[str, Any]] | None = Field(
        default=None, description="Per-parameter problems of a 422 request validation error."
    )


class ErrorBody(BaseModel):
    error: ErrorDetail


class Reason(BaseModel):
    record_index: int = Field(description="0-based position of the record in the body.")
    line: int = Field(description="1-based line where the record starts.")
    field: str | None = Field(description="The contract field at fault, if one.")
    reason: str = Field(description="A stable code: missing, null, wrong_type, invalid_json…")
    message: str
    excerpt: str = Field(description="The record's first 100 characters.")


class IngestAnswer(BaseModel):
    job_id: str
    dataset: str
    status: Literal["published", "rejected"]
    received: int = Field(description="Records read from the body.")
    accepted: int = Field(description="Records that passed the contract.")
    rejected: int = Field(description="Records that did not (listed in reasons, capped).")
    reasons: list[Reason]
    reasons_truncated: bool = Field(description="More records were rejected than listed.")
    status_url: str


class IngestRejected(IngestAnswer):
    """422: no record was valid; nothing was published. The job records why."""

    error: ErrorDetail


class Stage(BaseModel):
    stage: str = Field(
        description="ingest: accepted, published, processed, committed (or rejected, failed); "
        "run: queued, running, succeeded, failed."
    )
    at: datetime
    detail: dict[str, Any] = Field(default_factory=dict)


class JobPart(BaseModel):
    """One stream record of an ingest job: the records of the request one shard owns."""

    shard_id: str
    sequence_number: str
    records: int | None = Field(default=None, description="Records of the request in it.")
    status: Literal["published", "committed"]
    landed: int | None = None
    dead_lettered: int | None = None
    duplicates: int | None = None
    snapshot_id: str | None = None


class JobStatus(BaseModel):
    job_id: str
    kind: Literal["ingest", "run"]
    name: str = Field(description="The dataset of an ingest job, the pipeline of a run.")
    status: str
    source: str
    created_at: datetime
    updated_at: datetime
    stages: list[Stage] = Field(description="What happened to the job so far, oldest first.")
    received: int | None = None
    accepted: int | None = None
    rejected: int | None = None
    landed: int | None = None
    dead_lettered: int | None = None
    duplicates: int | None = None
    snapshot_id: str | None = None
    parts: list[JobPart] | None = Field(
        default=None,
        description="An ingest job's stream records, one per shard owning some of its events "
        "(the first is the published stage's shard and sequence number).",
    )
    result: dict[str, Any] | None = Field(default=None, description="What a run reported.")
    error: str | None = None

    @classmethod
    def from_job(cls, job: dict[str, Any]) -> JobStatus:
        detail = job["detail"]
        is_run = job["kind"] == "run"
        return cls(
            job_id=job["job_id"],
            kind="run" if is_run else "ingest",
            name=job["name"],
            status=job["status"],
            source=job["source"],
            created_at=_time(job["created_at"]),
            updated_at=_time(job["updated_at"]),
            stages=_run_stages(job) if is_run else _ingest_stages(job),
            received=None if is_run else job["received"],
            accepted=None if is_run else job["accepted"],
            rejected=None if is_run else job["rejected"],
            landed=job["landed"],
            dead_lettered=job["dead_lettered"],
            duplicates=job["duplicates"],
            snapshot_id=job["snapshot_id"],
            parts=None if is_run else [_part(part) for part in job.get("parts", [])],
            result=detail.get("result") if is_run else None,
            error=job["error"],
        )


def _part(part: dict[str, Any]) -> JobPart:
    committed = part["committed_at"] is not None
    return JobPart(
        shard_id=part["shard_id"],
        sequence_number=part["sequence_number"],
        records=part["records"],
        status="committed" if committed else "published",
        landed=part["landed"] if committed else None,
        dead_lettered=part["dead_lettered"] if committed else None,
        duplicates=part["duplicates"] if committed else None,
        snapshot_id=part["snapshot_id"],
    )


def _time(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _ingest_stages(job: dict[str, Any]) -> list[Stage]:
    counts = {key: job[key] for key in ("received", "accepted", "rejected")}
    if job["status"] == "rejected":
        return [Stage(stage="rejected", at=_time(job["created_at"]), detail=counts)]
    stages = [Stage(stage="accepted", at=_time(job["created_at"]), detail=counts)]
    if job["published_at"] is not None:
        where = {key: job[key] for key in ("stream", "shard_id", "sequence_number")}
        stages.append(Stage(stage="published", at=_time(job["published_at"]), detail=where))
    if job["processed_at"] is not None:
        outcome = {key: job[key] for key in ("landed", "dead_lettered", "duplicates")}
        stages.append(Stage(stage="processed", at=_time(job["processed_at"]), detail=outcome))
    if job["committed_at"] is not None:
        snapshot = {"snapshot_id": job["snapshot_id"]}
        stages.append(Stage(stage="committed", at=_time(job["committed_at"]), detail=snapshot))
    if job["status"] == "failed":
        failed_at = job["finished_at"] or job["updated_at"]
        stages.append(Stage(stage="failed", at=_time(failed_at), detail={"error": job["error"]}))
    return stages


def _run_stages(job: dict[str, Any]) -> list[Stage]:
    stages = [Stage(stage="queued", at=_time(job["created_at"]))]
    started_at = job["detail"].get("started_at")
    if started_at is not None:
        stages.append(Stage(stage="running", at=_time(started_at)))
    if job["finished_at"] is not None and job["status"] in ("succeeded", "failed"):
        stages.append(Stage(stage=job["status"], at=_time(job["finished_at"])))
    return stages


class RunStarted(BaseModel):
    run_id: str
    pipeline: str
    status: Literal["queued"]
    status_url: str


class HealthCheck(BaseModel):
    ok: bool
    error: str | None
    duration_ms: float


class ConsumerFault(BaseModel):
    consumer_group: str = Field(description="The consumer's table (namespace.dataset).")
    consumer: str
    failed_batches: int = Field(description="Batches in a row it failed to land; it retries.")
    last_error: str
    failing_since: float = Field(description="Unix time of the first failure in the row.")
    updated_at: float


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    live: bool = Field(description="The process answers (always true when you can read it).")
    ready: bool = Field(description="Every dependency answered: the service can take data.")
    checks: dict[str, HealthCheck]
    consumers_failing: list[ConsumerFault] = Field(
        default_factory=list,
        description="Consumers whose batches keep failing (S3, the catalog or the stream "
        "down), as they recorded it in the job database. Not part of `ready`: the API still "
        "takes data, which waits in the stream until they land it.",
    )


class Metrics(BaseModel):
    model_config = {"extra": "allow"}

    jobs: int
    events_received: int
    events_accepted: int
    events_rejected: int
    events_landed: int
    events_dead_lettered: int
    events_duplicates: int
    window_seconds: float
    accepted_per_second: float
    landed_per_second: float
    consumer_lag: list[dict[str, Any]]
    last_commit: dict[str, Any] | None
    uptime_seconds: float
    version: str
