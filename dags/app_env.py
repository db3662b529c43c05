"""The bridge from Airflow to the eventlake package: each task runs in the APP environment.

Airflow has its own environment (`.venv-airflow`, `airflow/pyproject.toml`): Airflow 3.3 pins
`fastapi<0.137` and much else that the app does not share, so one environment cannot hold both.
A task therefore runs its step (`eventlake.pipeline.runs.run_task("<task id>")`) in the app's
interpreter through `@task.external_python` (`expect_airflow=False`): Airflow writes the
function's source into a script, runs it with that interpreter, and reads the pickled return
value back as the XCom.
That keeps one code path (the same functions `make run` calls), typed return values, and a
traceback in the task log, without a CLI command per step or shell quoting. A BashOperator
calling `eventlake` would do as well, but would need a CLI command per step and would have to
print its summary for the XCom.

This module holds no DAG (it is in `.airflowignore`); the DAG files import it.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import task

REPO = Path(__file__).resolve().parents[1]
# Not resolved: a venv's python is a symlink, and resolving it would leave the venv.
APP_PYTHON = os.environ.get("EVENTLAKE_APP_PYTHON", str(REPO / ".venv" / "bin" / "python"))
# The tasks read EVENTLAKE_* from the environment they inherit. EVENTLAKE_HOME's default is
# relative to the working directory, which a worker does not promise: pin it to the repo's.
APP_ENV = {} if "EVENTLAKE_HOME" in os.environ else {"EVENTLAKE_HOME": str(REPO / ".eventlake")}

# Transient steps (a busy stream or state database, a catalog commit race, a network blip to
# AWS or Snowflake) are retried. Gates are not: see `gate_args`.
DEFAULT_ARGS: dict[str, Any] = {
    "owner": "eventlake",
    "retries": 2,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": True,
    "execution_timeout": timedelta(hours=1),
}
# A failed dbt test or quality gate means the data is wrong (a fact whose user has no profile
# yet, a value out of its contract): running it again on the same data fails the same way,
# later, and alerts again. Fix the data (or let the next run bring it), then clear the task.
GATE_ARGS: dict[str, Any] = {"retries": 0}


@task.external_python(python=APP_PYTHON, expect_airflow=False, env_vars=APP_ENV)
def run_step(step: str) -> dict[str, Any]:
    """Run one step of the DAG in the app environment, as `eventlake.pipeline.runs.run_task`
    runs it (the dbt build and the quality gates recorded as runs, as the CLI's are).

    This function's source runs alone in the app's interpreter: it may use only its own imports.
    """
    import json

    from eventlake.pipeline.runs import run_task

    result = run_task(step)
    # Only plain JSON types cross back: the Airflow side cannot unpickle app types.
    return json.loads(json.dumps(result))


def step(name: str, **overrides: Any) -> Any:
    """The task `name`, running the step of that name (`eventlake.pipeline.tasks.<name>`) in
    the app environment."""
    return run_step.override(task_id=name, **overrides)(name)
