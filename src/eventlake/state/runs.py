"""Run records: a pipeline run is a job of kind ``run`` in the state database.

Whoever runs a pipeline (the CLI, the API's runner, an Airflow task) records it here the same
way, so ``/status``, ``/metrics``' last runs and the dashboard read one shape: queued →
running → succeeded (``detail.result``: what the pipeline reported) or failed (``error``,
and ``detail.result`` when the pipeline ended with ``RunFailedError``).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from eventlake.config import Settings
from eventlake.errors import RunFailedError
from eventlake.state.store import StateStore

log = logging.getLogger(__name__)

Pipeline = Callable[[Settings], Mapping[str, Any]]


def new_run_id() -> str:
    return f"run-{uuid.uuid4().hex}"


def record_run(
    settings: Settings,
    state: StateStore,
    name: str,
    pipeline: Pipeline,
    *,
    run_id: str | None = None,
    source: str = "cli",
) -> tuple[str, dict[str, Any]]:
    """Run ``pipeline`` now, in this thread, recorded as a run job like a triggered one.

    Returns the run id and the pipeline's result; a failure is recorded, then re-raised."""
    if run_id is None:
        run_id = new_run_id()
        state.create_job(run_id, kind="run", name=name, source=source, status="queued")
    started = time.time()
    state.update_job(run_id, status="running", detail={"started_at": started})
    try:
        result = dict(pipeline(settings))
    except RunFailedError as error:
        detail = {"started_at": started, "result": error.result}
        finish_run(state, run_id, "failed", detail, error=str(error))
        raise
    except Exception as error:
        finish_run(state, run_id, "failed", {"started_at": started}, error=describe_error(error))
        raise
    finish_run(state, run_id, "succeeded", {"started_at": started, "result": result})
    return run_id, result


def finish_run(
    state: StateStore,
    run_id: str,
    status: str,
    detail: dict[str, Any],
    *,
    error: str | None = None,
) -> None:
    """Record the end of a run; a state database that fails here is logged, not raised, so
    the run's own outcome is what the caller sees."""
    try:
        state.update_job(run_id, status=status, finished_at=time.time(), detail=detail, error=error)
    except Exception:
        log.exception("could not record the end of pipeline run %s", run_id)


def describe_error(error: BaseException) -> str:
    """``Type: message``, at most 2000 characters: what a failed run's ``error`` holds."""
    text = str(error).strip()
    return f"{type(error).__name__}: {text}"[:2000] if text else type(error).__name__
