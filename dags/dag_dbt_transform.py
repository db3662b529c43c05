"""dag_dbt_transform: the warehouse rebuilt from the lake, one dbt command per task."""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import dag
from app_env import DEFAULT_ARGS, GATE_ARGS, step

DOC = """
### eventlake: dbt, step by step

`dbt_seed >> dbt_run >> dbt_test >> dbt_docs_generate` on the warehouse target of
`EVENTLAKE_WAREHOUSE__TARGET` (DuckDB by default, Snowflake for `prod`). `dbt_run` runs the
users snapshot first (`dim_users` is built from it), then the models. `dag_data_pipeline`
already builds the warehouse (`run_dbt`); this DAG is for rebuilding it by hand, after a model
changes, with each step visible on its own. `dbt_test` is a gate and is not retried.
See `docs/orchestration.md`.
"""


@dag(
    dag_id="dag_dbt_transform",
    # Triggered by hand (or the API): the data pipeline already transforms every hour, and a
    # second schedule would only queue behind it on the warehouse lock.
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["eventlake", "dbt"],
    doc_md=DOC,
)
def dag_dbt_transform() -> None:
    (
        step("dbt_seed")
        >> step("dbt_run")
        >> step("dbt_test", **GATE_ARGS)
        >> step("dbt_docs_generate")
    )


dag_dbt_transform()
