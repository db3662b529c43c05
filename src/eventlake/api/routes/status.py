"""GET /api/v1/status/{job_id}: what happened to an ingest job or a pipeline run."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from starlette.concurrency import run_in_threadpool

from eventlake.api.deps import ServicesDep, SourceDep, StateDep
from eventlake.api.models import ErrorBody, JobStatus

router = APIRouter(tags=["jobs"])


@router.get(
    "/status/{job_id}",
    response_model=JobStatus,
    responses={404: {"model": ErrorBody, "description": "No such job."}},
    summary="Follow a job",
)
async def job_status(
    job_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")],
    state: StateDep,
    services: ServicesDep,
    _source: SourceDep,
) -> JobStatus:
    """An ingest job: accepted → published → processed → committed, each stage with its time
    and counts. A run: queued → running → succeeded or failed, with what it reported."""
    job = await run_in_threadpool(state.job, job_id)
    if job is None:
        raise HTTPException(status_code=404, detail=f"no job {job_id!r}")
    if (job.get("detail") or {}).get("airflow"):
        # A DAG run in Airflow: ask Airflow where it is.
        job = await run_in_threadpool(services.runner().follow, job)
    return JobStatus.from_job(job)
