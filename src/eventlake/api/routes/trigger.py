"""POST /api/v1/trigger/{pipeline}: start a pipeline run in the background."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from starlette.concurrency import run_in_threadpool

from eventlake.api.deps import ServicesDep, SourceDep
from eventlake.api.models import ErrorBody, RunStarted
from eventlake.pipeline.runs import PIPELINES, UnknownPipelineError

router = APIRouter(tags=["pipelines"])


@router.post(
    "/trigger/{pipeline}",
    status_code=202,
    response_model=RunStarted,
    responses={404: {"model": ErrorBody, "description": "No such pipeline."}},
    summary="Start a pipeline run",
)
async def trigger(
    pipeline: Annotated[
        str,
        Path(
            pattern=r"^[a-z][a-z0-9_]{0,63}$",
            description=f"One of: {', '.join(sorted(PIPELINES))}.",
            examples=sorted(PIPELINES),
        ),
    ],
    services: ServicesDep,
    source: SourceDep,
) -> RunStarted:
    """Queue a run (one runs at a time) and answer at once; follow it at ``status_url``.

    The pipelines:

    - ``process``: drain every stream into the lake until caught up.
    - ``transform``: build the dbt star schema from the lake (``dbt build``: seeds, the users
      snapshot, models and their tests; then the docs site), as ``eventlake transform`` does.
      The run fails when a model or test fails; ``detail.result`` lists them.
    - ``quality``: run the Great Expectations gates over the warehouse, as
      ``eventlake quality`` does. The run fails when a gate fails; ``detail.result`` holds
      the failed expectations.

    The last ``transform`` and ``quality`` runs also show in ``/api/v1/metrics``
    (``last_runs``)."""

    def start() -> str:
        # In the thread pool: it writes the queued run to the job database.
        return services.runner().start(pipeline, source=source)

    try:
        run_id = await run_in_threadpool(start)
    except UnknownPipelineError:
        known = ", ".join(sorted(PIPELINES))
        raise HTTPException(
            status_code=404, detail=f"no pipeline {pipeline!r}; pipelines: {known}"
        ) from None
    return RunStarted(
        run_id=run_id, pipeline=pipeline, status="queued", status_url=f"/api/v1/status/{run_id}"
    )
