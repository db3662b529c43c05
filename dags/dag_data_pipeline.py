"""dag_data_pipeline: landing folder -> stream -> Rust core -> lake -> dbt -> gates -> dashboard."""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import dag
from app_env import DEFAULT_ARGS, GATE_ARGS, step

DOC = """
### eventlake: the data pipeline

1. **ingest_data**: files dropped in `EVENTLAKE_HOME/landing/<dataset>/` go through the API's
   own path (contract checks, stream, job records), then move to `_done/` or `_rejected/`.
2. **process_with_rust**: the consumer drains every stream into the Iceberg lake through the
   Rust core, exactly once.
3. **catalog_data**: each table's current snapshot; the warehouse's `lake.*` views follow it.
4. **run_dbt**: `eventlake transform` (dbt build: seeds, snapshot, models, tests; then docs).
5. **quality_checks**: the Great Expectations gates (alert on failure).
6. **update_dashboard**: tells the dashboard the warehouse changed.

Every task runs the step `eventlake.pipeline.tasks.<task id>` in the app's environment, in
the order of `eventlake.pipeline.pipelines.DATA_PIPELINE`; its return value is the XCom.
`run_dbt` and `quality_checks` are gates and are not retried.
See `docs/orchestration.md`.
"""


@dag(
    dag_id="dag_data_pipeline",
    # Hourly: the landing folder and the streams are drained each run; a run with nothing new
    # is cheap (dbt's models are incremental). Runs never overlap, and no backfill: each run
    # takes everything waiting, whatever its logical date.
    schedule="@hourly",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["eventlake", "pipeline"],
    doc_md=DOC,
)
def dag_data_pipeline() -> None:
    (
        step("ingest_data")
        >> step("process_with_rust")
        >> step("catalog_data")
        # dbt build runs dbt's tests: a failure there is data, not a blip (see GATE_ARGS).
        >> step("run_dbt", **GATE_ARGS)
        >> step("quality_checks", **GATE_ARGS)
        >> step("update_dashboard")
    )


dag_data_pipeline()
