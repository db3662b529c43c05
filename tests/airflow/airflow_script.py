"""Run by the AIRFLOW environment's python (`.venv-airflow/bin/python`), never by pytest.

    airflow_script.py structure OUT.json            the DagBag: import errors, tasks, edges
    airflow_script.py test OUT.json DAG_ID [...]    dag.test() of each DAG, in this order
    airflow_script.py session OUT.json PLAN.json    the structure, then each of the plan's
                                                    stories: {"home": ..., "dags": [...]}
    airflow_script.py modes OUT.json PLAN.json      the structure under each of the plan's
                                                    environments: {name: {VARIABLE: value}}

The tests (app environment) start it with AIRFLOW_HOME, AIRFLOW__CORE__DAGS_FOLDER and
EVENTLAKE_* set, and read the JSON it writes (stdout is Airflow's log). `session` serves a
whole test module from one process: Airflow's start-up and database are paid once.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

STORY_MARK = "=== airflow_script story "
# EcsRunTaskOperator's arguments that dags/app_env.py sets (ECS mode).
ECS_ARGUMENTS = (
    "cluster",
    "task_definition",
    "launch_type",
    "overrides",
    "network_configuration",
    "awslogs_group",
    "awslogs_stream_prefix",
    "container_name",
    "wait_for_completion",
    "reattach",
)
# The variables that choose where the tasks run (dags/app_env.py).
MODE_PREFIXES = ("EVENTLAKE_AIRFLOW_TASKS", "EVENTLAKE_ECS_")


def _dagbag() -> Any:
    # The DAG processor's own loader: the bundle (the DAGs folder) goes on sys.path, so the
    # DAG files can import their helper module as they do under the scheduler.
    from airflow.dag_processing.dagbag import BundleDagBag

    folder = os.environ["AIRFLOW__CORE__DAGS_FOLDER"]
    return BundleDagBag(dag_folder=folder, bundle_path=Path(folder), bundle_name="dags-folder")


def structure() -> dict[str, Any]:
    bag = _dagbag()
    return {
        "import_errors": {str(k): str(v) for k, v in bag.import_errors.items()},
        "dags": {
            dag_id: {
                "schedule": str(dag.schedule),
                "catchup": dag.catchup,
                "tags": sorted(dag.tags),
                "has_doc": bool(dag.doc_md),
                "tasks": {
                    task.task_id: {
                        "upstream": sorted(task.upstream_task_ids),
                        "downstream": sorted(task.downstream_task_ids),
                        "retries": task.retries,
                        "execution_timeout": str(task.execution_timeout),
                        "operator": type(task).__name__,
                        "python": getattr(task, "python", None),
                        "ecs": {name: getattr(task, name) for name in ECS_ARGUMENTS}
                        if hasattr(task, "task_definition")
                        else None,
                    }
                    for task in dag.tasks
                },
            }
            for dag_id, dag in bag.dags.items()
        },
    }


def test_dags(dag_ids: list[str]) -> dict[str, Any]:
    from airflow.utils import db

    db.initdb()
    bag = _dagbag()
    if bag.import_errors:
        return {"import_errors": {str(k): str(v) for k, v in bag.import_errors.items()}}
    runs: dict[str, Any] = {}
    for dag_id in dag_ids:
        started = time.monotonic()
        run = bag.get_dag(dag_id).test()
        runs[dag_id] = {
            "state": str(run.state),
            "seconds": round(time.monotonic() - started, 1),
            "tasks": {
                ti.task_id: {"state": str(ti.state), "try_number": ti.try_number}
                for ti in run.get_task_instances()
            },
            "xcoms": _return_values(dag_id, run.run_id),
        }
    return {"runs": runs}


def _return_values(dag_id: str, run_id: str) -> dict[str, Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    query = select(XComModel).where(
        XComModel.dag_id == dag_id, XComModel.run_id == run_id, XComModel.key == "return_value"
    )
    with create_session() as session:
        return {x.task_id: XComModel.deserialize_value(x) for x in session.scalars(query)}


def session(plan: list[dict[str, Any]]) -> dict[str, Any]:
    """The structure, then each story's DAGs with EVENTLAKE_HOME set to its home: the tasks
    run in child processes that inherit this environment when they start."""
    result: dict[str, Any] = {"structure": structure(), "stories": []}
    for index, story in enumerate(plan):
        # The log is split here, so each story's checks read only its own lines.
        print(f"{STORY_MARK}{index}", flush=True)
        os.environ["EVENTLAKE_HOME"] = story["home"]
        result["stories"].append(test_dags(story["dags"]))
    return result


def modes(plan: dict[str, dict[str, str]]) -> dict[str, Any]:
    """The DagBag's structure (or import errors) under each environment of the plan: the
    mode variables are replaced by the plan's, and app_env is imported afresh (the DAG
    processor parses in a new process each time; this one must forget the last parse)."""
    result = {}
    for name, variables in plan.items():
        for variable in [v for v in os.environ if v.startswith(MODE_PREFIXES)]:
            del os.environ[variable]
        os.environ.update(variables)
        sys.modules.pop("app_env", None)
        result[name] = structure()
    return result


def main() -> None:
    command, out = sys.argv[1], Path(sys.argv[2])
    if command == "structure":
        result = structure()
    elif command == "session":
        result = session(json.loads(Path(sys.argv[3]).read_text()))
    elif command == "modes":
        result = modes(json.loads(Path(sys.argv[3]).read_text()))
    else:
        result = test_dags(sys.argv[3:])
    out.write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
