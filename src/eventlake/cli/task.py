"""``eventlake task TASK_ID``: one step of a DAG, run as its Airflow task runs it.

In production each Airflow task is an ECS task of the eventlake image (the Amazon provider's
``EcsRunTaskOperator``, ``EVENTLAKE_AIRFLOW_TASKS=ecs`` in ``dags/app_env.py``) whose command
is ``task <task id>``. It calls :func:`eventlake.pipeline.runs.run_task`, as the local
``@task.external_python`` task does, so a gate is recorded as its own run either way.

The step's summary is printed as one JSON line, the last line of the output: the operator
reads the last line of the container's CloudWatch log as the task's XCom. Anything the step
says on its way goes before it. A failure exits non-zero with its reason as the last line on
stderr (the operator shows the log's last lines in the Airflow task's failure).
"""

import json
from typing import Annotated

import typer

from eventlake.cli.common import backend_extras, fail, lake_errors, load_settings, require_extras

# The steps that read or build the warehouse (DuckDB, dbt, Great Expectations): they need the
# warehouse extra; the others need only the lake's and the stream's backends.
WAREHOUSE_TASKS = frozenset(
    {
        "catalog_data",
        "run_dbt",
        "quality_checks",
        "dbt_seed",
        "dbt_run",
        "dbt_test",
        "dbt_docs_generate",
    }
)
# How much of an unknown task id the error repeats: the argument comes from whoever starts the
# container, and a log line is no place for a megabyte or a terminal escape sequence.
SHOWN = 60


def known_tasks() -> list[str]:
    """Every DAG's task ids, in the DAGs' order (``eventlake.pipeline.pipelines.DAGS``)."""
    from eventlake.pipeline.pipelines import DAGS

    return list(dict.fromkeys(step.name for dag in DAGS.values() for step in dag.steps))


def shown(value: str) -> str:
    """``value`` quoted for a one-line message: control and other unprintable characters
    escaped (``repr`` does), and cut short when it is long."""
    if len(value) <= SHOWN:
        return repr(value)
    return f"{value[:SHOWN]!r}… ({len(value):,} characters)"


def task(
    task_id: Annotated[
        str,
        typer.Argument(
            metavar="TASK_ID",
            help="The DAG task to run, by its task id (run_dbt, compact_lake, ...); an unknown "
            "one is refused with the list.",
            show_default=False,
        ),
    ],
) -> None:
    """Run one step of a DAG, as its Airflow task does; print its summary as one JSON line.

    What the image runs for each Airflow task in production (EcsRunTaskOperator: the last log
    line is the task's XCom). Exit code 2 for an unknown task id, 1 when the step fails."""
    known = known_tasks()
    if task_id not in known:
        raise fail(f"no DAG task {shown(task_id)}; the tasks: {', '.join(known)}", code=2)
    settings = load_settings()
    command = f"eventlake task {task_id}"
    require_extras(command, *backend_extras(settings, warehouse=task_id in WAREHOUSE_TASKS))
    from eventlake.errors import EventlakeError, RunFailedError
    from eventlake.pipeline.runs import run_task

    try:
        # A fresh container's home may not exist yet, and state.db lives there by default.
        settings.home.mkdir(parents=True, exist_ok=True)
        summary = run_task(task_id, settings, source="airflow")
    except RunFailedError as failure:
        # A gate that failed (a dbt test, an expectation): the data, not the run, is at fault.
        raise fail(f"{task_id} failed: {failure}") from None
    except (EventlakeError, OSError, *lake_errors()) as exc:
        raise fail(f"{task_id} could not run: {exc}") from None
    # One line, printed last and flushed: the XCom is the log's last line.
    typer.echo(json.dumps(summary, default=str, ensure_ascii=True))
