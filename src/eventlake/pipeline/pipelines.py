"""The named pipelines: which steps make each one, in which order. The one place that says it.

A step is a plain function of the settings in :mod:`eventlake.pipeline.tasks` that does one
thing and returns a JSON-ready summary (raising when it fails). A pipeline is a sequence of
steps; :func:`eventlake.pipeline.runs.run_pipeline` runs one, recorded as a run, for every
entry point (the CLI, the API's trigger, ``make run``), and
:func:`eventlake.pipeline.runs.run_task` runs one step of a DAG for an Airflow task.

The DAG files (``dags/``) run in Airflow's own environment, which cannot import this package:
they list the same task ids in the same order, and tests/airflow/test_dags.py checks that they
do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from eventlake.pipeline import tasks

# Called with the settings (and ``progress=`` when the step takes dbt's progress).
StepFunction = Callable[..., Mapping[str, Any]]


@dataclass(frozen=True)
class Step:
    function: StepFunction
    # Also recorded as a run of its own under this name, inside a longer pipeline: the dbt
    # build and the quality gates, whose last runs /metrics and the dashboard show whoever ran
    # them (an Airflow task, make run, a triggered pipeline).
    recorded_as: str | None = None
    # The step takes dbt's progress (``progress=``), which the CLI shows as bars.
    dbt_progress: bool = False

    @property
    def name(self) -> str:
        """The step's function name: the Airflow task id and its key in a run's results."""
        return self.function.__name__


@dataclass(frozen=True)
class Pipeline:
    name: str  # the run's name in the state database (and the trigger's path)
    steps: tuple[Step, ...]
    # With EVENTLAKE_AIRFLOW__URL set, a trigger starts this DAG instead of running in-process.
    dag_id: str | None = None

    def result(self, by_step: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        """What the run records as its result: a one-step pipeline's own summary (as
        ``/status`` has always shown ``process``, ``transform`` and ``quality``), else each
        step's summary under its name."""
        if len(self.steps) == 1:
            return dict(by_step[self.steps[0].name])
        return {name: dict(summary) for name, summary in by_step.items()}


DBT_BUILD = Step(tasks.run_dbt, dbt_progress=True)
GATES = Step(tasks.quality_checks)

PROCESS = Pipeline("process", (Step(tasks.process_with_rust),))
TRANSFORM = Pipeline("transform", (DBT_BUILD,), dag_id="dag_dbt_transform")
QUALITY = Pipeline("quality", (GATES,))

# What follows new data in the lake: the tail of the data pipeline. `eventlake run --files`,
# which commits its files to the lake itself, runs this after each load.
WAREHOUSE = Pipeline(
    "warehouse",
    (
        Step(tasks.catalog_data),
        Step(tasks.run_dbt, recorded_as=TRANSFORM.name, dbt_progress=True),
        Step(tasks.quality_checks, recorded_as=QUALITY.name),
        Step(tasks.update_dashboard),
    ),
)

# dag_data_pipeline: the landing folder through the stream into the lake, then the warehouse.
DATA_PIPELINE = Pipeline(
    "pipeline",
    (Step(tasks.ingest_data), *PROCESS.steps, *WAREHOUSE.steps),
    dag_id="dag_data_pipeline",
)

# dag_dbt_transform: the dbt build one command per task (Airflow only; in-process, `transform`
# runs them as one build).
DBT_TRANSFORM = Pipeline(
    "dbt_transform",
    (
        Step(tasks.dbt_seed),
        Step(tasks.dbt_run),
        Step(tasks.dbt_test),
        Step(tasks.dbt_docs_generate),
    ),
)

# dag_lake_maintenance: the lake's small files compacted on a schedule of its own, while the
# consumers keep committing (Airflow only; by hand, `eventlake lake compact TABLE`).
LAKE_MAINTENANCE = Pipeline("lake_maintenance", (Step(tasks.compact_lake),))

# What POST /api/v1/trigger/{pipeline} may start; anything else is refused before a run is
# recorded.
PIPELINES: dict[str, Pipeline] = {p.name: p for p in (DATA_PIPELINE, PROCESS, TRANSFORM, QUALITY)}

# The DAGs' tasks, by DAG id: what an Airflow task may run.
DAGS: dict[str, Pipeline] = {
    "dag_data_pipeline": DATA_PIPELINE,
    "dag_dbt_transform": DBT_TRANSFORM,
    "dag_lake_maintenance": LAKE_MAINTENANCE,
}
