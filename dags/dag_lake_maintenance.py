"""dag_lake_maintenance: the lake's small files compacted while the consumers keep committing."""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import dag
from app_env import DEFAULT_ARGS, step

DOC = """
### eventlake: lake maintenance

**compact_lake**: each table's small files rewritten into one file per day partition, in one
snapshot per table (`eventlake lake compact` on every table). Every consumer commit adds a
file per partition it touches, so several consumers add them several times as fast, and
readers (dbt, Athena, the dashboard) slow down with the count. The consumers keep committing
meanwhile: a compaction that loses a race to one of them is retried, and the exactly-once
watermark is carried forward. Runs the step `eventlake.pipeline.tasks.compact_lake` in the
app's environment (`eventlake.pipeline.pipelines.LAKE_MAINTENANCE`).
See `docs/orchestration.md`.
"""


@dag(
    dag_id="dag_lake_maintenance",
    # Hourly, half-way between the data pipeline's runs (which commit to the lake on the
    # hour): a compaction costs a read and a write of the hour's small files, whatever the
    # number of consumers that wrote them. Runs never overlap, and no backfill.
    schedule="30 * * * *",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["eventlake", "maintenance"],
    doc_md=DOC,
)
def dag_lake_maintenance() -> None:
    step("compact_lake")


dag_lake_maintenance()
