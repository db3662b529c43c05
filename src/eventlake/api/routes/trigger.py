"""POST /api/v1/trigger/{pipeline}: start a pipeline run in the background."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from starlette.concurrency import run_in_threadpool

from eventlake.api.deps import ServicesDep, SourceDep
from eventlake.api.models import ErrorBody, RunStarted
from eventlake.pipeline.airflow import AirflowError
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

    - ``pipeline``: the whole data pipeline (the ``dag_data_pipeline`` DAG's tasks: ingest the
      landing folder, process, catalog, dbt, quality gates, dashboard).
    - ``process``: drain every stream into the lake until caught up.
    - ``transform``: build the dbt star schema from the lake (``dbt build``: seeds, the users
      snapshot, models and their tests; then the docs site), as ``eventlake transform`` does.
      The run fails when a model or test fails; ``detail.result`` lists them.
    - ``quality``: run the Great Expectations gates over the warehouse, as
      ``eventlake quality`` does. The run fails when a gate fails; ``detail.result`` holds
      the failed expectations.

    With ``EVENTLAKE_AIRFLOW__URL`` set, ``pipeline`` and ``transform`` start a DAG run in
    Airflow (``dag_data_pipeline``, ``dag_dbt_transform``) through its REST API instead, and
    ``/api/v1/status/{run_id}`` follows that DAG run; 503 when Airflow does not answer.

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
    except AirflowError as error:
        raise HTTPException(status_code=503, detail=str(error)) from None
    return RunStarted(
        run_id=run_id, pipeline=pipeline, status="queued", status_url=f"/api/v1/status/{run_id}"
    )
