"""Running a pipeline, recorded as a run: the one way every entry point does it.

:func:`run_pipeline` runs a named pipeline (:mod:`eventlake.pipeline.pipelines`) in this
thread, recorded as a job of kind ``run`` in the state database: the CLI (``transform``,
``quality``, ``run --files``), ``make run`` (:mod:`eventlake.pipeline.main_job`) and the API's
triggered runs all call it, so ``/status`` follows each the same way: queued → running →
succeeded (``detail.result``: what the pipeline reported) or failed (``error``, and
``detail.result`` when it ended with ``RunFailedError``). :func:`run_task` runs one step of a
DAG for an Airflow task, through the same step runner, so a gate run by Airflow is recorded
as the CLI's is.

:class:`PipelineRunner` is the API's registry of triggered runs: ``PIPELINES`` names what may
be started; anything else is refused before a run is recorded. Runs go through one worker
thread, in order: two drains of the same streams at once would only compete for the same
records.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from eventlake.config import Settings, get_settings

# RunFailedError and the run records live below the layers that raise and record them (the
# quality gates, dbt, the CLI); imported here too, where callers have always found them.
from eventlake.errors import EventlakeError, RunFailedError
from eventlake.pipeline.airflow import FINAL, AirflowClient, AirflowError
from eventlake.pipeline.pipelines import DAGS, PIPELINES, Pipeline, Step
from eventlake.pipeline.tasks import DbtProgress
from eventlake.state import StateStore
from eventlake.state.runs import finish_run as _finish
from eventlake.state.runs import new_run_id, record_run

__all__ = [
    "PIPELINES",
    "Pipeline",
    "PipelineRunner",
    "Run",
    "RunFailedError",
    "StepCallback",
    "UnknownPipelineError",
    "new_run_id",
    "record_run",
    "run_pipeline",
    "run_task",
]

log = logging.getLogger(__name__)

StepCallback = Callable[[str, str], None]
"""Called as (step name, "start" | "done" | "failed")."""


@dataclass(frozen=True)
class Run:
    """A finished run: its id, what it recorded as its result, and each step's summary."""

    run_id: str
    result: dict[str, Any]
    steps: dict[str, dict[str, Any]]


def run_pipeline(
    settings: Settings,
    pipeline: Pipeline,
    *,
    source: str,
    state: StateStore | None = None,
    run_id: str | None = None,
    on_step: StepCallback | None = None,
    dbt_progress: DbtProgress | None = None,
) -> Run:
    """Run ``pipeline``'s steps in order, now, in this thread, recorded as a run of its name.

    ``run_id``: a run already recorded as queued (the API's); else a new one is recorded with
    ``source``. ``state``: the state database to record in; else opened here and closed after.
    A step that fails stops the run, which is recorded as failed; the error is re-raised."""
    steps: dict[str, dict[str, Any]] = {}
    with _state(settings, state) as store:

        def run_steps(settings: Settings) -> dict[str, Any]:
            for step in pipeline.steps:
                steps[step.name] = _run_step(
                    settings, store, step, source=source, on_step=on_step, progress=dbt_progress
                )
            return pipeline.result(steps)

        run_id, result = record_run(
            settings, store, pipeline.name, run_steps, run_id=run_id, source=source
        )
    return Run(run_id, result, steps)


def run_task(
    name: str, settings: Settings | None = None, *, source: str = "airflow"
) -> dict[str, Any]:
    """One step of a DAG, by its task id, as an Airflow task runs it: its summary (the XCom).
    A gate (the dbt build, the quality gates) is recorded as its own run, as everywhere."""
    step = next((s for dag in DAGS.values() for s in dag.steps if s.name == name), None)
    if step is None:
        raise UnknownPipelineError(name)
    settings = settings if settings is not None else get_settings()
    with _state(settings, None) as store:
        return _run_step(settings, store, step, source=source, on_step=None, progress=None)


def _run_step(
    settings: Settings,
    state: StateStore,
    step: Step,
    *,
    source: str,
    on_step: StepCallback | None,
    progress: DbtProgress | None,
) -> dict[str, Any]:
    function = step.function
    if progress is not None and step.dbt_progress:
        function = functools.partial(function, progress=progress)
    if on_step is not None:
        on_step(step.name, "start")
    try:
        if step.recorded_as is None:
            result = dict(function(settings))
        else:
            _, result = record_run(settings, state, step.recorded_as, function, source=source)
    except BaseException:
        if on_step is not None:
            on_step(step.name, "failed")
        raise
    if on_step is not None:
        on_step(step.name, "done")
    return result


@contextmanager
def _state(settings: Settings, state: StateStore | None) -> Iterator[StateStore]:
    """``state`` as it is, or the settings' state database opened for the run and closed after."""
    if state is not None:
        yield state
    else:
        with StateStore(settings.state_database_url) as opened:
            yield opened


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
        if pipeline.dag_id is not None and self.settings.airflow.url:
            return self._start_in_airflow(name, pipeline.dag_id, source)
        run_id = new_run_id()
        self.state.create_job(run_id, kind="run", name=name, source=source, status="queued")
        with self._lock:
            self._queued.add(run_id)
        self._executor.submit(self._run, run_id, name, pipeline, source)
        return run_id

    def _run(self, run_id: str, name: str, pipeline: Pipeline, source: str) -> None:
        with self._lock:
            self._queued.discard(run_id)
        try:
            run_pipeline(self.settings, pipeline, source=source, state=self.state, run_id=run_id)
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
