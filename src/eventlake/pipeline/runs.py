"""Pipeline runs started on request (``POST /api/v1/trigger/{pipeline}``), one at a time.

``PIPELINES`` names what may be started; anything else is refused before a run is recorded.
A run is a job of kind ``run`` in the state database, so ``/status`` follows it the same way
as an ingest job: queued → running → succeeded (``detail.result``: what the pipeline
reported) or failed (``error``). Runs go through one worker thread, in order: two drains of
the same streams at once would only compete for the same records.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from eventlake.config import Settings

# RunFailedError and the run records live below the layers that raise and record them (the
# quality gates, dbt, the CLI); imported here too, where callers have always found them.
from eventlake.errors import EventlakeError, RunFailedError
from eventlake.pipeline.airflow import FINAL, PIPELINE_DAGS, AirflowClient, AirflowError
from eventlake.state import StateStore
from eventlake.state.runs import Pipeline, new_run_id, record_run
from eventlake.state.runs import finish_run as _finish

__all__ = [
    "PIPELINES",
    "Pipeline",
    "PipelineRunner",
    "RunFailedError",
    "UnknownPipelineError",
    "data_pipeline",
    "new_run_id",
    "process",
    "quality",
    "record_run",
    "transform",
]

log = logging.getLogger(__name__)


def process(settings: Settings) -> Mapping[str, Any]:
    """Drain every stream into the lake until caught up."""
    # Imported here: the consumer pulls in the lake (pyiceberg), which the API's start-up
    # does not need.
    from eventlake.consumer import drain

    return drain(settings).to_dict()


def quality(settings: Settings) -> Mapping[str, Any]:
    """Run the Great Expectations gates over the warehouse; a failing gate raises
    ``RunFailedError`` with the failed expectations as its result."""
    # Imported here: Great Expectations takes ~16 s to import.
    from eventlake.quality import quality_gate

    return quality_gate(settings)


def transform(settings: Settings) -> Mapping[str, Any]:
    """dbt: seeds, snapshots, models and their tests, then the docs site; a failed model or
    test raises ``RunFailedError`` with dbt's results."""
    from eventlake.warehouse.dbt_runner import transform_pipeline

    return transform_pipeline(settings)


def data_pipeline(settings: Settings) -> Mapping[str, Any]:
    """The data pipeline DAG's tasks in order, in this process (without Airflow)."""
    from eventlake.pipeline.tasks import DATA_PIPELINE

    return {task.__name__: task(settings) for task in DATA_PIPELINE}


PIPELINES: dict[str, Pipeline] = {
    "pipeline": data_pipeline,
    "process": process,
    "transform": transform,
    "quality": quality,
}


class UnknownPipelineError(EventlakeError, KeyError):
    pass


class PipelineRunner:
    def __init__(
        self,
        settings: Settings,
        state: StateStore,
        pipelines: Mapping[str, Pipeline] | None = None,
    ) -> None:
        self.settings = settings
        self.state = state
        self.pipelines = PIPELINES if pipelines is None else pipelines
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="eventlake-run")
        self._queued: set[str] = set()
        self._lock = threading.Lock()
        self._airflow_client: AirflowClient | None = None

    def start(self, name: str, *, source: str = "") -> str:
        """Record a queued run of ``name`` and hand it to the worker, or to Airflow when it is
        configured and the pipeline is a DAG; the run id."""
        pipeline = self.pipelines.get(name)
        if pipeline is None:
            raise UnknownPipelineError(name)
        dag_id = PIPELINE_DAGS.get(name) if self.settings.airflow.url else None
        if dag_id is not None:
            return self._start_in_airflow(name, dag_id, source)
        run_id = new_run_id()
        self.state.create_job(run_id, kind="run", name=name, source=source, status="queued")
        with self._lock:
            self._queued.add(run_id)
        self._executor.submit(self._run, run_id, name, pipeline)
        return run_id

    def _run(self, run_id: str, name: str, pipeline: Pipeline) -> None:
        with self._lock:
            self._queued.discard(run_id)
        try:
            record_run(self.settings, self.state, name, pipeline, run_id=run_id)
        except Exception:
            log.exception("pipeline run %s (%s) failed", run_id, name)

    def _start_in_airflow(self, name: str, dag_id: str, source: str) -> str:
        run_id = new_run_id()
        airflow: dict[str, Any] = {"dag_id": dag_id, "url": self.settings.airflow.url}
        self.state.create_job(
            run_id,
            kind="run",
            name=name,
            source=source,
            status="queued",
            detail={"airflow": airflow},
        )
        try:
            airflow["dag_run_id"] = self._airflow().trigger(dag_id, {"eventlake_run_id": run_id})
        except AirflowError as error:
            _finish(self.state, run_id, "failed", {"airflow": airflow}, error=str(error))
            raise
        self.state.update_job(run_id, detail={"airflow": airflow})
        return run_id

    def follow(self, job: dict[str, Any]) -> dict[str, Any]:
        """A run started in Airflow, brought up to date from Airflow; other jobs unchanged.
        Airflow being unreachable leaves the last known status (and says so in the log)."""
        airflow = (job.get("detail") or {}).get("airflow") or {}
        if job["kind"] != "run" or "dag_run_id" not in airflow or job["status"] in FINAL:
            return job
        try:
            status = self._airflow().state(airflow["dag_id"], airflow["dag_run_id"])
        except AirflowError as error:
            log.warning("run %s: %s", job["job_id"], error)
            return job
        if status != job["status"]:
            finished = time.time() if status in FINAL else None
            self.state.update_job(job["job_id"], status=status, finished_at=finished)
            job = {**job, "status": status, "finished_at": finished}
        return job

    def _airflow(self) -> AirflowClient:
        if self._airflow_client is None:
            self._airflow_client = AirflowClient(self.settings.airflow)
        return self._airflow_client

    def close(self) -> None:
        """Let the running run finish; runs still queued are marked failed, not left queued."""
        self._executor.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            cancelled, self._queued = self._queued, set()
        for run_id in cancelled:
            _finish(
                self.state, run_id, "failed", {}, error="the service stopped before the run began"
            )
