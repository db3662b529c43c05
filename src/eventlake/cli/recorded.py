"""A pipeline run from the command line: progress while it runs (a row per step, a bar per dbt
command), each step's results rendered after, and a failure said in one line (exit code 1),
after what the failing step reported. The run itself is
:func:`eventlake.pipeline.runs.run_pipeline`'s, recorded as every entry point records it."""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from eventlake.cli.common import console, err_console, fail, lake_errors, open_state

if TYPE_CHECKING:
    from eventlake.config import Settings
    from eventlake.pipeline.pipelines import Pipeline
    from eventlake.pipeline.runs import Run


def run_recorded(settings: "Settings", pipeline: "Pipeline") -> "Run":
    """Run ``pipeline`` recorded as a run (source ``cli``), showing its progress and then each
    step's results. A failing step shows what it reported, then exits 1."""
    from eventlake.pipeline.runs import RunFailedError, run_pipeline
    from eventlake.quality import QualityError

    state = open_state(settings)
    failed: list[str] = []
    try:
        with Progress(
            TextColumn("[bold blue]{task.description:<24}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[node]}"),
            TimeElapsedColumn(),
            console=err_console,
        ) as progress:
            rows: dict[str, Any] = {}

            def on_step(name: str, status: str) -> None:
                if status == "start":
                    rows[name] = progress.add_task(name, total=None, node="")
                    return
                if status == "failed":
                    failed.append(name)
                label = name if status == "done" else f"[red]{name} FAILED"
                progress.update(rows[name], total=1, completed=1, description=label)

            def follow(command: str) -> Callable[[str, int, int], None]:
                task = progress.add_task(command, total=None, node="starting dbt…")

                def advance(node: str, done: int, total: int) -> None:
                    progress.update(task, completed=done, total=total, node=node)

                return advance

            run = run_pipeline(
                settings, pipeline, source="cli", state=state, on_step=on_step, dbt_progress=follow
            )
    except RunFailedError as failure:
        step = failed[-1] if failed else ""
        if step in RENDER:
            RENDER[step](failure.result)
        suffix = " (see the Data Docs)" if step == "quality_checks" else ""
        raise fail(f"{failure}{suffix}") from None
    except (QualityError, OSError, *lake_errors()) as exc:
        step = failed[-1] if failed else ""
        raise fail(f"{COULD_NOT_RUN.get(step, f'{step} failed')}: {exc}") from None
    finally:
        state.close()
    for name, summary in run.steps.items():
        if name in RENDER:
            RENDER[name](summary)
    return run


def print_transform(summary: dict[str, Any]) -> None:
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


def print_quality(result: dict[str, Any]) -> None:
    suites = Table(title="Quality gates", title_justify="left")
    for column in ("suite", "rows", "expectations", "failed", "ok"):
        suites.add_column(column, justify="left" if column == "suite" else "right")
    for suite in result["suites"]:
        suites.add_row(
            suite["name"],
            f"{suite['rows']:,}",
            str(suite["evaluated"]),
            str(suite["failed"]),
            "[green]yes[/]" if suite["success"] else "[bold red]NO[/]",
        )
    console.print(suites)
    if result["failures"]:
        failed = Table(title="Failed expectations", title_justify="left", show_lines=True)
        for column in ("suite", "column", "expectation", "observed"):
            failed.add_column(column, overflow="fold")
        for failure in result["failures"]:
            failed.add_row(
                failure["suite"],
                failure["column"] or "",
                failure["expectation"],
                failure["observed"],
            )
        console.print(failed)
    console.print(
        f"Data Docs: {result['data_docs']}\nSummary: {result['summary_path']}", highlight=False
    )


def print_catalog(result: dict[str, Any]) -> None:
    for name, table in sorted(result["tables"].items()):
        console.print(
            f"catalog: {name} at snapshot {table['snapshot_id']} ({table['rows']:,} rows, "
            f"{table['files']:,} files)",
            highlight=False,
        )


def print_dashboard(result: dict[str, Any]) -> None:
    console.print(f"dashboard told the warehouse changed: {result['marker']}", highlight=False)


RENDER: dict[str, Callable[[dict[str, Any]], None]] = {
    "catalog_data": print_catalog,
    "run_dbt": print_transform,
    "quality_checks": print_quality,
    "update_dashboard": print_dashboard,
}
COULD_NOT_RUN = {
    "run_dbt": "dbt could not run",
    "quality_checks": "the quality gates could not run",
}
