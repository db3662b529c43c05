"""The DAGs in ECS mode (`EVENTLAKE_AIRFLOW_TASKS=ecs`, dags/app_env.py): every task an
EcsRunTaskOperator running the image's task definition with the command `task <task id>`, in
the same order and with the same retries as the local mode; a missing or malformed variable,
or an unknown mode, is each DAG file's import error.

One Airflow process parses the DAG folder under every environment below (`airflow_script.py
modes`): Airflow starts once, and nothing runs, so the module costs seconds. What the tasks
do when they run is the local mode's story (test_dags.py) and `eventlake task`'s
(tests/test_cli_task.py): an ECS task needs AWS.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.airflow.test_dags import DATA_PIPELINE, DBT_TRANSFORM, LAKE_MAINTENANCE, run_airflow

pytestmark = pytest.mark.slow

ECS: dict[str, str] = {
    "EVENTLAKE_AIRFLOW_TASKS": "ecs",
    "EVENTLAKE_ECS_CLUSTER": "arn:aws:ecs:eu-west-1:123456789012:cluster/eventlake",
    "EVENTLAKE_ECS_TASK_DEFINITION": "eventlake-batch",
    "EVENTLAKE_ECS_CONTAINER": "app",
    "EVENTLAKE_ECS_SUBNETS": "subnet-0a1, subnet-0b2",
    "EVENTLAKE_ECS_SECURITY_GROUPS": "sg-0c3",
    "EVENTLAKE_ECS_LOG_GROUP": "/eventlake/batch",
    "EVENTLAKE_ECS_LOG_STREAM_PREFIX": "batch",
}
REQUIRED = [
    "EVENTLAKE_ECS_CLUSTER",
    "EVENTLAKE_ECS_TASK_DEFINITION",
    "EVENTLAKE_ECS_SUBNETS",
    "EVENTLAKE_ECS_SECURITY_GROUPS",
    "EVENTLAKE_ECS_LOG_GROUP",
    "EVENTLAKE_ECS_LOG_STREAM_PREFIX",
]
ORDERS = {
    "dag_data_pipeline": DATA_PIPELINE,
    "dag_dbt_transform": DBT_TRANSFORM,
    "dag_lake_maintenance": LAKE_MAINTENANCE,
}
GATES = {"run_dbt", "quality_checks", "dbt_test"}
DAG_FILES = {f"{dag_id}.py" for dag_id in ORDERS}

# Each environment the DagBag is parsed under, by name (the mode variables are only these).
PLAN: dict[str, dict[str, str]] = {
    "local": {},
    "ecs": ECS,
    "ecs-default-container": {k: v for k, v in ECS.items() if k != "EVENTLAKE_ECS_CONTAINER"},
    **{f"missing {name}": {k: v for k, v in ECS.items() if k != name} for name in REQUIRED},
    "blank cluster": {**ECS, "EVENTLAKE_ECS_CLUSTER": "  "},
    "swapped subnets and groups": {
        **ECS,
        "EVENTLAKE_ECS_SUBNETS": "sg-0c3",
        "EVENTLAKE_ECS_SECURITY_GROUPS": "subnet-0a1",
    },
    "unknown mode": {**ECS, "EVENTLAKE_AIRFLOW_TASKS": "kubernetes"},
    "empty mode": {"EVENTLAKE_AIRFLOW_TASKS": ""},
}


@pytest.fixture(scope="module")
def parsed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The DagBag's structure under each environment of PLAN, from one Airflow process."""
    tmp = tmp_path_factory.mktemp("dag-modes")
    plan = tmp / "plan.json"
    plan.write_text(json.dumps(PLAN))
    return run_airflow(tmp, tmp / "home", "modes", str(plan)).result


def tasks_of(structure: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t: v for dag in structure["dags"].values() for t, v in dag["tasks"].items()}


def test_every_task_is_an_ecs_task_of_the_image(parsed: dict[str, Any]) -> None:
    ecs = parsed["ecs"]
    assert ecs["import_errors"] == {}
    assert set(ecs["dags"]) == set(ORDERS)
    tasks = tasks_of(ecs)
    assert set(tasks) == {t for order in ORDERS.values() for t in order}
    for task_id, task in tasks.items():
        assert task["operator"] == "EcsRunTaskOperator", task_id
        assert task["ecs"] == {
            "cluster": ECS["EVENTLAKE_ECS_CLUSTER"],
            "task_definition": "eventlake-batch",
            "launch_type": "FARGATE",
            # The image's ENTRYPOINT is `eventlake`: the container runs `eventlake task <id>`.
            "overrides": {"containerOverrides": [{"name": "app", "command": ["task", task_id]}]},
            "network_configuration": {
                "awsvpcConfiguration": {
                    "subnets": ["subnet-0a1", "subnet-0b2"],
                    "securityGroups": ["sg-0c3"],
                    "assignPublicIp": "DISABLED",
                }
            },
            # The log the operator follows, and whose last line is the XCom.
            "awslogs_group": "/eventlake/batch",
            "awslogs_stream_prefix": "batch",
            "container_name": "app",
            "wait_for_completion": True,
            "reattach": False,  # needs ecs:ListTasks, which MWAA's role does not have
        }, task_id
        # Transient steps retry; gates fail at once, as in the local mode.
        assert task["retries"] == (0 if task_id in GATES else 2), task_id
        assert task["execution_timeout"] == "1:00:00"


def test_the_ecs_mode_keeps_the_local_mode_s_dags(parsed: dict[str, Any]) -> None:
    """Same DAGs, schedules, task order and retries: only the operator changes."""
    local, ecs = parsed["local"], parsed["ecs"]
    assert local["import_errors"] == {}
    for dag_id, order in ORDERS.items():
        local_dag, ecs_dag = local["dags"][dag_id], ecs["dags"][dag_id]
        for task_id, task in local_dag["tasks"].items():
            assert task["operator"] != "EcsRunTaskOperator"
            assert task["ecs"] is None
            shared = ("upstream", "downstream", "retries", "execution_timeout")
            assert {k: task[k] for k in shared} == {
                k: ecs_dag["tasks"][task_id][k] for k in shared
            }, task_id
        for index, task_id in enumerate(order):
            assert ecs_dag["tasks"][task_id]["upstream"] == order[max(index - 1, 0) : index]
        for key in ("schedule", "catchup", "tags", "has_doc"):
            assert local_dag[key] == ecs_dag[key], (dag_id, key)


def test_the_container_defaults_to_eventlake(parsed: dict[str, Any]) -> None:
    structure = parsed["ecs-default-container"]
    assert structure["import_errors"] == {}
    for task_id, task in tasks_of(structure).items():
        override = task["ecs"]["overrides"]["containerOverrides"]
        assert override == [{"name": "eventlake", "command": ["task", task_id]}]
        assert task["ecs"]["container_name"] == "eventlake"


def import_errors(structure: dict[str, Any]) -> dict[str, str]:
    """Each DAG file's import error, by file name; no DAG may have loaded."""
    assert structure["dags"] == {}
    return {Path(path).name: error for path, error in structure["import_errors"].items()}


@pytest.mark.parametrize("name", REQUIRED)
def test_a_missing_variable_is_an_import_error_naming_it(parsed: dict[str, Any], name: str) -> None:
    errors = import_errors(parsed[f"missing {name}"])
    assert set(errors) == DAG_FILES
    for error in errors.values():
        assert f"EVENTLAKE_AIRFLOW_TASKS=ecs runs each task as an ECS task and needs {name}: " in (
            error
        )


def test_a_blank_variable_is_missing(parsed: dict[str, Any]) -> None:
    for error in import_errors(parsed["blank cluster"]).values():
        assert "needs EVENTLAKE_ECS_CLUSTER: not set" in error


def test_malformed_network_ids_are_an_import_error(parsed: dict[str, Any]) -> None:
    errors = import_errors(parsed["swapped subnets and groups"])
    assert set(errors) == DAG_FILES
    for error in errors.values():
        assert "EVENTLAKE_ECS_SUBNETS must be comma-separated subnet-... ids; got 'sg-0c3'" in error


@pytest.mark.parametrize(
    ("plan", "shown"), [("unknown mode", "'kubernetes'"), ("empty mode", "''")]
)
def test_an_unknown_mode_is_an_import_error(parsed: dict[str, Any], plan: str, shown: str) -> None:
    errors = import_errors(parsed[plan])
    assert set(errors) == DAG_FILES
    for error in errors.values():
        assert f"EVENTLAKE_AIRFLOW_TASKS must be one of local, ecs; got {shown}" in error
