"""``eventlake transform``: the dbt star schema from the lake, recorded as a run."""

import enum
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from eventlake.cli.common import (
    console,
    err_console,
    fail,
    load_settings,
    open_state,
)
from eventlake.config import Settings

if TYPE_CHECKING:
    pass


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
    began = time.perf_counter()
    run_id, summary = transform_step(settings)
    console.print(
        f"[bold green]dbt build passed[/] on target {summary['target']} in "
        f"{time.perf_counter() - began:.1f} s (run {run_id})",
        highlight=False,
    )


def transform_step(settings: Settings) -> tuple[str, dict[str, Any]]:
    """dbt with a progress bar per command, recorded as a run; prints dbt's results. A failed
    model or test prints what failed and exits 1."""
    from eventlake.pipeline.runs import RunFailedError, record_run
    from eventlake.warehouse.dbt_runner import transform_pipeline

    state = open_state(settings)
    try:
        with Progress(
            TextColumn("[bold blue]{task.description:<24}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[node]}"),
            TimeElapsedColumn(),
            console=err_console,
        ) as progress:

            def follow(command: str) -> Callable[[str, int, int], None]:
                task = progress.add_task(command, total=None, node="starting dbt…")

                def advance(node: str, done: int, total: int) -> None:
                    progress.update(task, completed=done, total=total, node=node)

                return advance

            run_id, summary = record_run(
                settings, state, "transform", lambda s: transform_pipeline(s, progress=follow)
            )
    except RunFailedError as failure:
        _print_transform(failure.result)
        raise fail(str(failure)) from None
    except OSError as exc:
        raise fail(f"dbt could not run: {exc}") from None
    finally:
        state.close()
    _print_transform(summary)
    return run_id, summary


def _print_transform(summary: dict[str, Any]) -> None:
    built = Table(title="dbt", title_justify="left")
    for column in ("built", "count"):
        built.add_column(column, justify="left" if column == "built" else "right")
    built.add_row("models", str(summary["models_built"]))
    built.add_row("snapshots", str(summary["snapshots_built"]))
    built.add_row("seeds", str(summary["seeds_loaded"]))
    built.add_row("tests passed", str(summary["tests_passed"]))
    failed = summary["tests_failed"]
    built.add_row("tests failed", f"[bold red]{failed}[/]" if failed else "0")
    built.add_row("skipped", str(summary["skipped"]))
    console.print(built)
    if summary["problems"]:
        problems = Table(title="Failed in dbt", title_justify="left", show_lines=True)
        for column in ("node", "type", "status", "message"):
            problems.add_column(column, overflow="fold")
        for node in summary["problems"]:
            problems.add_row(node["name"], node["type"], node["status"], node["message"] or "")
        console.print(problems)
    console.print(f"dbt docs: {summary['docs']}\ndbt log: {summary['log']}", highlight=False)
