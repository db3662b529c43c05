"""``eventlake run``: the main job over HTTP (:mod:`eventlake.pipeline.main_job`), its summary,
and with ``--serve`` what is served after it."""

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from eventlake import ports
from eventlake.cli.common import (
    backend_extras,
    console,
    err_console,
    fail,
    lake_errors,
    load_settings,
    require_extras,
)

if TYPE_CHECKING:
    from eventlake.config import Settings
    from eventlake.pipeline.main_job import MainJobReport
    from eventlake.pipeline.supervisor import Services, Serving


def run(
    events: Annotated[
        int, typer.Option(min=1, max=50_000_000, help="Sample events to generate.")
    ] = 200_000,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the sample data.")] = 42,
    warehouse: Annotated[
        bool,
        typer.Option(
            help="Run the whole data pipeline after each load (catalog, dbt, quality gates, "
            "dashboard); --no-warehouse stops at the lake."
        ),
    ] = True,
    files: Annotated[
        bool,
        typer.Option(
            "--files",
            help="Process the generated files directly through the Rust core (no API, no "
            "stream), and check every count against the generator's manifest.",
        ),
    ] = False,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve",
            help="After the summary, keep the API and a consumer running, start the dashboard, "
            "and serve them (with the dbt docs and the Data Docs) until Ctrl-C or SIGTERM.",
        ),
    ] = False,
) -> None:
    """The main job on embedded defaults: start the API and a consumer, send generated traffic
    over HTTP, run the pipeline (the DAG's tasks, in order) after each of two loads, print a
    summary. With --serve, keep serving it all until stopped."""
    settings = load_settings()
    dashboard = ("dashboard",) if serve else ()
    require_extras("eventlake run", *backend_extras(settings, warehouse=warehouse), *dashboard)
    if files:
        if serve:
            raise typer.BadParameter(
                "--serve needs the API: not with --files", param_hint="--serve"
            )
        from eventlake.cli.run_files import run_from_files  # the core and the lake: not at start

        run_from_files(settings, events, seed, warehouse)
        return
    _run_over_http(settings, events, seed, warehouse, serve=serve)


def _run_over_http(
    settings: "Settings", events: int, seed: int, warehouse: bool, *, serve: bool = False
) -> None:
    from eventlake.pipeline.runs import RunFailedError
    from eventlake.pipeline.supervisor import (
        API_PORT,
        ServiceError,
        local_services,
        serve_until_stopped,
    )
    from eventlake.stream import StreamError

    console.rule("[bold]eventlake run")
    console.print(f"EVENTLAKE_HOME = {settings.home.resolve()}", highlight=False)
    try:
        if not serve:
            report = _main_job_with_progress(settings, events, seed, warehouse)
            _print_main_job(report, warehouse)
        else:
            # The services outlive the job: started here, stopped once serving ends.
            with local_services(settings, port=ports.preferred_port(API_PORT)) as services:
                report = _main_job_with_progress(settings, events, seed, warehouse, services)
                _print_main_job(report, warehouse, serving=True)
                serve_until_stopped(settings, services, on_ready=_print_serving)
            console.print("Stopped the dashboard, the consumer and the API.")
    except RunFailedError as failure:
        raise fail(f"the pipeline stopped: {failure}") from None
    except (ServiceError, StreamError, OSError, ValueError, *lake_errors()) as exc:
        raise fail(str(exc)) from None
    if not report.reconciles:
        raise fail("the events do not reconcile with the generated sample's manifest")


def _main_job_with_progress(
    settings: "Settings",
    events: int,
    seed: int,
    warehouse: bool,
    services: "Services | None" = None,
) -> "MainJobReport":
    from eventlake.pipeline.main_job import run_main_job

    with Progress(
        TextColumn("[bold blue]{task.description:<34}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
    ) as progress:

        def bar(description: str, total: int | None) -> Callable[[int], None]:
            task = progress.add_task(description, total=total)
            return lambda done: progress.advance(task, done)

        steps: dict[str, Any] = {}

        def step(name: str, state: str) -> None:
            if state == "start":
                steps[name] = progress.add_task(name, total=1)
            else:
                progress.update(
                    steps[name],
                    completed=1,
                    description=name if state == "done" else f"[red]{name} FAILED",
                )

        return run_main_job(
            settings,
            events=events,
            seed=seed,
            warehouse=warehouse,
            progress=bar,
            on_step=step,
            services=services,
        )


def _print_main_job(report: "MainJobReport", warehouse: bool, *, serving: bool = False) -> None:
    want = report.expected_events()
    got = report.events
    table = Table(title="eventlake run", title_justify="left")
    for column in ("events", "count", "expected", "ok"):
        table.add_column(column, justify="left" if column == "events" else "right")

    def row(name: str, value: int, expected: int | None = None) -> None:
        ok = (
            ""
            if expected is None
            else ("[green]yes[/]" if value == expected else "[bold red]NO[/]")
        )
        table.add_row(name, f"{value:,}", "" if expected is None else f"{expected:,}", ok)

    row("sent over HTTP", got.received, sum(want.values()))
    row("accepted by the API", got.accepted, want["valid"] + want["duplicate"])
    row("rejected with a reason", got.dead_lettered, want["invalid"])
    row("dropped as duplicates", got.duplicates, want["duplicate"])
    row("landed in Iceberg", got.landed, want["valid"])
    console.print(table)
    last = report.loads[-1]
    facts = Table(title="pipeline (last load)", title_justify="left", show_header=False)
    facts.add_column("what")
    facts.add_column("result")
    catalog = last.get("catalog_data", {}).get("tables", {}).get("events")
    if catalog:
        facts.add_row(
            "Iceberg events snapshot", f"{catalog['snapshot_id']} ({catalog['rows']:,} rows)"
        )
    dbt = last.get("run_dbt")
    if dbt:
        facts.add_row(
            "dbt",
            f"{dbt['models_built']} models, {dbt['tests_passed']} tests passed, "
            f"{dbt['tests_failed']} failed",
        )
    quality = last.get("quality_checks")
    if quality:
        facts.add_row("quality gates", str(quality.get("summary", "")))
    facts.add_row("time taken", f"{report.seconds:.1f} s")
    if not serving:
        # This run's API has stopped: say where they are once served again.
        for name, where in _where_to_browse(warehouse, dbt, quality):
            facts.add_row(name, where)
    console.print(facts)
    if report.reconciles:
        console.print(
            "[bold green]Every generated event is accounted for, exactly once: landed, "
            "rejected with a reason, or dropped as a duplicate."
        )


def _where_to_browse(
    warehouse: bool, dbt: dict[str, Any] | None, quality: dict[str, Any] | None
) -> list[tuple[str, str]]:
    """After a run without --serve, whose API has stopped: where `eventlake serve` and
    `eventlake dashboard` show them (the commands of an installed eventlake; in the checkout,
    `make serve` and `make dashboard` run the same)."""
    from eventlake.pipeline.supervisor import API_PORT, DASHBOARD_PORT
    from eventlake.report_sites import DATA_DOCS, DBT_DOCS

    api = f"http://127.0.0.1:{API_PORT}"
    rows = [
        ("API docs", f"{api}/docs once eventlake serve runs (this run's API has stopped)"),
        ("dashboard", f"http://127.0.0.1:{DASHBOARD_PORT} once eventlake dashboard runs"),
    ]
    if warehouse and dbt:
        rows.append(
            (
                "dbt docs",
                f"{DBT_DOCS.url(api)} once eventlake serve runs (password: the key it prints)",
            )
        )
    if warehouse and quality:
        rows.append(("Data Docs", f"{DATA_DOCS.url(api)} likewise, or {quality.get('data_docs')}"))
    rows.append(
        ("all at once", "eventlake run --serve: the same run, then serves them until Ctrl-C")
    )
    return rows


def _print_serving(serving: "Serving") -> None:
    table = Table(
        title="Serving until Ctrl-C (or SIGTERM)", title_justify="left", show_header=False
    )
    table.add_column("what")
    table.add_column("where")
    table.add_row("API docs", serving.docs_url)
    table.add_row("dashboard", serving.dashboard_url)
    for name, url in serving.reports.items():
        table.add_row(name, url)
    table.add_row(
        "API key",
        f"{serving.api_key} (this session's: X-API-Key, or the password a browser asks for "
        "on the reports, with any user name)",
    )
    table.add_row("logs", str(serving.logs))
    console.print(table)
