"""The bridge from Airflow to the eventlake package: where and how each DAG task runs its step.

Every task runs one step, `eventlake.pipeline.runs.run_task("<task id>")`, and its summary is
the task's XCom. `EVENTLAKE_AIRFLOW_TASKS` chooses where (read when the DAG files are parsed):

- `local` (the default): in the app's environment on the Airflow worker. Airflow has its own
  environment (`.venv-airflow`, `airflow/pyproject.toml`): Airflow 3.3 pins `fastapi<0.137`
  and much else that the app does not share, so one environment cannot hold both. The task is
  a `@task.external_python` (`expect_airflow=False`): Airflow writes the function's source
  into a script, runs it with the app's interpreter, and reads the pickled return value back
  as the XCom. One code path (the same functions `make run` calls), typed return values, and
  a traceback in the task log.
- `ecs` (production): an ECS task of the eventlake image, on Fargate, started and followed by
  the Amazon provider's `EcsRunTaskOperator`: the image's task definition with the container
  command `["task", "<task id>"]` (the image's ENTRYPOINT is `eventlake`: `eventlake task`
  prints the step's summary as its last log line, which the operator reads back from
  CloudWatch as the XCom). Its settings come from `EVENTLAKE_ECS_*` (see `EcsTarget`); a
  missing or malformed one fails the DAG files' import, so the DagBag shows the error when the
  DAGs are deployed instead of a task failing at its first run.

Either way the DAG files are the same: `step(name, **overrides)` gives the task, with the
DAG's `default_args` (retries, timeout) and the overrides (a gate's `retries=0`).

This module holds no DAG (it is in `.airflowignore`); the DAG files import it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

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

MODE_VARIABLE = "EVENTLAKE_AIRFLOW_TASKS"
MODES = ("local", "ecs")


class TaskConfigError(ValueError):
    """The variables that say where the tasks run are wrong. Raised while the DAG files are
    parsed, so it is each DAG file's import error in the DagBag (and the UI)."""


@dataclass(frozen=True)
class EcsTarget:
    """Where an ECS task of the image runs, from the environment (MWAA: its startup script)."""

    cluster: str  # EVENTLAKE_ECS_CLUSTER: name or ARN
    task_definition: str  # EVENTLAKE_ECS_TASK_DEFINITION: family, family:revision or ARN
    container: str  # EVENTLAKE_ECS_CONTAINER: the container that runs eventlake
    subnets: tuple[str, ...]  # EVENTLAKE_ECS_SUBNETS: private subnets, comma-separated
    security_groups: tuple[str, ...]  # EVENTLAKE_ECS_SECURITY_GROUPS: comma-separated
    log_group: str  # EVENTLAKE_ECS_LOG_GROUP: the task definition's awslogs-group
    log_stream_prefix: str  # EVENTLAKE_ECS_LOG_STREAM_PREFIX: its awslogs-stream-prefix

    REQUIRED: ClassVar[tuple[str, ...]] = (
        "EVENTLAKE_ECS_CLUSTER",
        "EVENTLAKE_ECS_TASK_DEFINITION",
        "EVENTLAKE_ECS_SUBNETS",
        "EVENTLAKE_ECS_SECURITY_GROUPS",
        "EVENTLAKE_ECS_LOG_GROUP",
        "EVENTLAKE_ECS_LOG_STREAM_PREFIX",
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> EcsTarget:
        """Every required variable set and well-formed, or one error naming each that is not."""
        value = {name: env.get(name, "").strip() for name in cls.REQUIRED}
        missing = [name for name, given in value.items() if not given]
        if missing:
            raise TaskConfigError(
                f"{MODE_VARIABLE}=ecs runs each task as an ECS task and needs "
                f"{', '.join(missing)}: not set (docs/orchestration.md, 'Running the tasks as "
                "ECS tasks')"
            )
        subnets = _ids(value, "EVENTLAKE_ECS_SUBNETS", "subnet-")
        security_groups = _ids(value, "EVENTLAKE_ECS_SECURITY_GROUPS", "sg-")
        return cls(
            cluster=value["EVENTLAKE_ECS_CLUSTER"],
            task_definition=value["EVENTLAKE_ECS_TASK_DEFINITION"],
            container=env.get("EVENTLAKE_ECS_CONTAINER", "").strip() or "eventlake",
            subnets=subnets,
            security_groups=security_groups,
            log_group=value["EVENTLAKE_ECS_LOG_GROUP"],
            log_stream_prefix=value["EVENTLAKE_ECS_LOG_STREAM_PREFIX"],
        )

    def operator_args(self, name: str) -> dict[str, Any]:
        """EcsRunTaskOperator's arguments for the task `name`."""
        return {
            "cluster": self.cluster,
            "task_definition": self.task_definition,
            "launch_type": "FARGATE",
            "overrides": {
                "containerOverrides": [{"name": self.container, "command": ["task", name]}]
            },
            # Private subnets: the task reaches AWS through the VPC's NAT or endpoints.
            "network_configuration": {
                "awsvpcConfiguration": {
                    "subnets": list(self.subnets),
                    "securityGroups": list(self.security_groups),
                    "assignPublicIp": "DISABLED",
                }
            },
            # The container's log stream is <prefix>/<container>/<ECS task id>: the operator
            # follows it into the Airflow task's log, and its last line is the XCom.
            "awslogs_group": self.log_group,
            "awslogs_stream_prefix": self.log_stream_prefix,
            "container_name": self.container,
            "wait_for_completion": True,
            # Not `reattach` (a retry following the ECS task a dead worker left running): it
            # lists the cluster's tasks, which MWAA's role is not granted (modules/iam).
            "reattach": False,
        }


def _ids(value: Mapping[str, str], name: str, prefix: str) -> tuple[str, ...]:
    ids = tuple(part.strip() for part in value[name].split(",") if part.strip())
    wrong = [i for i in ids if not i.startswith(prefix)]
    if not ids or wrong:
        raise TaskConfigError(
            f"{name} must be comma-separated {prefix}... ids; got {value[name][:200]!r}"
        )
    return ids


def ecs_target(env: Mapping[str, str]) -> EcsTarget | None:
    """Where the tasks run: None for the app's environment on the worker (local), else ECS."""
    mode = env.get(MODE_VARIABLE, "local")
    if mode not in MODES:
        raise TaskConfigError(
            f"{MODE_VARIABLE} must be one of {', '.join(MODES)}; got {mode[:200]!r}"
        )
    return EcsTarget.from_env(env) if mode == "ecs" else None


ECS = ecs_target(os.environ)


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
    """The task `name`, running the step of that name (`eventlake.pipeline.tasks.<name>`): in
    the app environment (local), or as an ECS task of the image (ecs)."""
    if ECS is None:
        return run_step.override(task_id=name, **overrides)(name)
    # Imported only in ECS mode: the local mode needs nothing of the Amazon provider.
    from airflow.providers.amazon.aws.operators.ecs import EcsRunTaskOperator

    return EcsRunTaskOperator(task_id=name, **{**ECS.operator_args(name), **overrides})
