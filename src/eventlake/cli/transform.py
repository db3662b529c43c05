"""``eventlake transform``: the dbt star schema from the lake, recorded as a run."""

import enum
import time
from typing import Annotated

import typer

from eventlake.cli.common import backend_extras, console, load_settings, require_extras
from eventlake.cli.recorded import run_recorded


class DbtTarget(enum.StrEnum):
    local = "local"
    prod = "prod"


def transform(
    target: Annotated[
        DbtTarget | None,
        typer.Option(
            help="dbt target: local (DuckDB file, reads the lake through its catalog) or prod "
            "(Snowflake). \\[default: EVENTLAKE_WAREHOUSE__TARGET, else local]"
        ),
    ] = None,
) -> None:
    """Build the dbt star schema from the lake: seeds, snapshots, models, tests, docs.

    Exit code 1, with the failed models and tests, when dbt reports one. The run and dbt's
    results are recorded like a triggered run (`/api/v1/status/RUN_ID`, `/api/v1/metrics`)."""
    settings = load_settings()
    if target is not None:
        settings = settings.model_copy(
            update={"warehouse": settings.warehouse.model_copy(update={"target": target.value})}
        )
    require_extras("eventlake transform", *backend_extras(settings, warehouse=True))
    from eventlake.pipeline.pipelines import TRANSFORM

    began = time.perf_counter()
    run = run_recorded(settings, TRANSFORM)
    console.print(
        f"[bold green]dbt build passed[/] on target {run.result['target']} in "
        f"{time.perf_counter() - began:.1f} s (run {run.run_id})",
        highlight=False,
    )
