"""``eventlake quality``: the Great Expectations gates, recorded as a run."""

from typing import TYPE_CHECKING, Any

from rich.table import Table

from eventlake.cli.common import (
    LAKE_ERRORS,
    console,
    fail,
    load_settings,
    open_state,
)
from eventlake.config import Settings

if TYPE_CHECKING:
    pass


def quality() -> None:
    """Validate the warehouse's staging and mart tables (Great Expectations), write Data Docs.

    Exit code 1, with a table of the failed expectations, when a gate fails. The run is recorded
    like a triggered one; a configured webhook (EVENTLAKE_QUALITY__WEBHOOK_URL) is alerted."""
    run_id, result = quality_step(load_settings())
    console.print(f"[bold green]{result['summary']}[/] (run {run_id})", highlight=False)


def quality_step(settings: Settings) -> tuple[str, dict[str, Any]]:
    """The gates, recorded as a run; prints the suites. A failed gate exits 1."""
    from eventlake.pipeline.runs import RunFailedError, record_run
    from eventlake.pipeline.runs import quality as quality_pipeline
    from eventlake.quality import QualityError

    state = open_state(settings)
    try:
        with console.status("running the quality gates (Great Expectations)…"):
            run_id, result = record_run(settings, state, "quality", quality_pipeline)
    except RunFailedError as failure:
        _print_quality(failure.result)
        raise fail(f"{failure} (see the Data Docs)") from None
    except (QualityError, OSError, *LAKE_ERRORS) as exc:
        raise fail(f"the quality gates could not run: {exc}") from None
    finally:
        state.close()
    _print_quality(result)
    return run_id, result


def _print_quality(result: dict[str, Any]) -> None:
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
