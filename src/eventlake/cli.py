"""The ``eventlake`` command line. Thin: every command calls the library and renders the result.

Commands:

* ``eventlake generate`` — deterministic sample data (:mod:`eventlake.sample_data`).
* ``eventlake process FILE...`` — run files through the Rust core (:mod:`eventlake.pipeline`).
* ``eventlake run`` — the main job on embedded defaults: API and consumer, traffic over HTTP,
  the pipeline's tasks after each of two loads, a summary (:mod:`eventlake.pipeline.main_job`);
  with ``--serve``, then the API, a consumer and the dashboard until Ctrl-C or SIGTERM.
* ``eventlake lake inspect|compact|expire`` — look after the Iceberg tables
  (:mod:`eventlake.lake.maintenance`).
* ``eventlake serve`` — the HTTP API (:mod:`eventlake.api`).
* ``eventlake consume`` — the streams into the lake, exactly once (:mod:`eventlake.consumer`).
* ``eventlake transform`` — the dbt star schema from the lake (:mod:`eventlake.warehouse`);
  exit code 1 when a model or test fails.
* ``eventlake quality`` — the Great Expectations gates over the warehouse
  (:mod:`eventlake.quality`); exit code 1 when one fails.
* ``eventlake dashboard`` — the Streamlit dashboard (:mod:`eventlake.dashboard`).

Bad input (a negative count, a share outside [0, 1], an unknown format) is reported as a usage
error (exit code 2) and problems while writing as an error message (exit code 1); never as a
traceback.
"""

import dataclasses
import enum
import json
import os
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import data_processor_rs
import typer
from data_processor_rs import ContractError, InputError
from pydantic import ValidationError
from pyiceberg.exceptions import CommitFailedException
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from eventlake import __version__
from eventlake.config import Settings, get_settings
from eventlake.contracts import load_contract
from eventlake.lake import DEAD_LETTER_TABLE, CommitConflictError, Lake, maintenance
from eventlake.lake.catalog import describe as describe_catalog
from eventlake.pipeline.process_files import FileReport, process_file
from eventlake.sample_data import FORMATS, Format, SampleConfig, SampleSummary, write_sample

if TYPE_CHECKING:
    from eventlake.pipeline.main_job import MainJobReport, Services, Serving
    from eventlake.state import StateStore

# Failures of the lake that a person can act on: said in one line, exit code 1.
LAKE_ERRORS = (CommitConflictError, CommitFailedException, SQLAlchemyError, NotImplementedError)

app = typer.Typer(
    name="eventlake",
    help="eventlake: an event pipeline with a Rust processing core.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
console = Console()
err_console = Console(stderr=True)


class OutputFormat(enum.StrEnum):
    ndjson = "ndjson"
    json = "json"
    csv = "csv"


assert tuple(OutputFormat) == FORMATS, "OutputFormat must list sample_data.FORMATS"


def _version(value: bool) -> None:
    if value:
        console.print(f"eventlake {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """eventlake: an event pipeline with a Rust processing core."""


def _fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(f"[bold red]Error:[/] {message}", highlight=False)
    return typer.Exit(code)


def _settings() -> Settings:
    """The settings, or a clear error (exit 2) naming the EVENTLAKE_* variable at fault."""
    try:
        return get_settings()
    except ValidationError as exc:
        raise _fail(f"invalid EVENTLAKE_* settings:\n{exc}", code=2) from None


def _default_out() -> Path:
    return _settings().home / "samples"


def _auto_workers(events: int) -> int:
    if events < 100_000:
        return 1  # starting processes would cost more than it saves
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(8, cpus - 1))  # one CPU stays with this process, which writes


def _parse_start(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO date or date-time (e.g. 2026-11-01 or 2026-11-01T00:00Z)",
            param_hint="'--start'",
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@app.command()
def generate(
    events: Annotated[
        int, typer.Option(min=0, help="Event records to write, duplicates and invalid included.")
    ] = 100_000,
    users: Annotated[int, typer.Option(min=1, help="Users.")] = 2_000,
    products: Annotated[int, typer.Option(min=1, help="Products.")] = 300,
    seed: Annotated[
        int, typer.Option(min=0, help="Random seed: the same seed gives the same bytes.")
    ] = 42,
    duplicates: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="Share of records that repeat an earlier event."),
    ] = 0.02,
    invalid: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="Share of records that are broken on purpose."),
    ] = 0.01,
    formats: Annotated[
        list[OutputFormat] | None,
        typer.Option(
            "--format",
            "-f",
            case_sensitive=False,
            help="Output format; repeat the option for several. \\[default: ndjson]",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            file_okay=False,
            help="Output folder. \\[default: $EVENTLAKE_HOME/samples]",
            show_default=False,
        ),
    ] = None,
    gzip: Annotated[bool, typer.Option("--gzip", help="Gzip the data files (.gz).")] = False,
    start: Annotated[
        str, typer.Option(help="Start of the event window (ISO date or date-time; UTC if naive).")
    ] = "2026-11-01",
    days: Annotated[int, typer.Option(min=1, help="Length of the event window in days.")] = 28,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Processes that generate events; the output does not depend on it. "
            "\\[default: CPUs - 1, up to 8; 1 below 100,000 events]",
            show_default=False,
        ),
    ] = None,
    renamed_users: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Users who change their name inside the window (SCD2). "
            "\\[default: 20, at most --users]",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Generate deterministic sample events, users and products, with a manifest of counts."""
    if duplicates + invalid > 1:
        raise typer.BadParameter(
            f"together they must not exceed 1 (got {duplicates} + {invalid})",
            param_hint="'--duplicates' + '--invalid'",
        )
    if renamed_users is None:
        renamed_users = min(20, users)
    elif renamed_users > users:
        raise typer.BadParameter(
            f"cannot exceed --users ({renamed_users} > {users})", param_hint="'--renamed-users'"
        )
    try:
        config = SampleConfig(
            events=events,
            users=users,
            products=products,
            seed=seed,
            duplicate_share=duplicates,
            invalid_share=invalid,
            start=_parse_start(start),
            days=days,
            renamed_users=renamed_users,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    chosen: list[Format] = []
    for fmt in formats or [OutputFormat.ndjson]:
        if fmt.value not in chosen:
            chosen.append(fmt.value)
    directory = out if out is not None else _default_out()

    began = time.perf_counter()
    progress = Progress(
        TextColumn("[bold blue]generating events"),
        BarColumn(),
        TaskProgressColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
    )
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with progress:
            task = progress.add_task("events", total=config.events)
            summary = write_sample(
                directory,
                config,
                chosen,
                gzip=gzip,
                progress=lambda done: progress.advance(task, done),
                workers=workers if workers is not None else _auto_workers(config.events),
            )
    except OSError as exc:
        raise _fail(f"cannot write the sample to {directory}: {exc.strerror or exc}") from None
    _print_summary(summary, time.perf_counter() - began)


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    raise AssertionError  # pragma: no cover


def _print_summary(summary: SampleSummary, seconds: float) -> None:
    table = Table(title=f"Sample written to {summary.directory}", title_justify="left")
    table.add_column("file", no_wrap=True)
    columns = ("records", "valid", "duplicate", "invalid")
    for name in columns:
        table.add_column(name, justify="right")
    table.add_column("size", justify="right", no_wrap=True)
    for name, stats in summary.files.items():
        counts = [getattr(stats, column) for column in columns]
        table.add_row(name, *(f"{count:,}" for count in counts), _size(stats.bytes))
    console.print(table)
    for name, stats in summary.files.items():
        if stats.skipped:
            console.print(
                f"{name}: {stats.skipped:,} invalid_json records left out "
                "(a JSON array cannot hold them without losing the rest of the file).",
                highlight=False,
            )

    events = summary.events
    if events["invalid"]:
        reasons = Table(
            title="Invalid events by expected reason (NDJSON)", title_justify="left", min_width=44
        )
        reasons.add_column("reason")
        reasons.add_column("records", justify="right")
        for reason, count in events["invalid_by_reason"].items():
            reasons.add_row(reason, f"{count:,}")
        console.print(reasons)

    rate = summary.config.events / seconds if seconds > 0 else 0.0
    console.print(
        f"{summary.config.events:,} events (seed {summary.config.seed}, "
        f"{events['avg_line_bytes']:.1f} bytes per NDJSON line) in {seconds:.1f} s "
        f"({rate:,.0f} events/s). Manifest: {summary.manifest_path}",
        highlight=False,
    )


def _processing_progress() -> Progress:
    return Progress(
        TextColumn("[bold blue]{task.description:<22}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=err_console,
    )


def _process_with_progress(
    progress: Progress,
    path: Path,
    dataset: str,
    output_dir: Path | None,
    job_id: str,
    lake: Lake | None,
) -> FileReport:
    contract = load_contract(dataset)
    task = progress.add_task(f"{dataset} ({path.name})", total=path.stat().st_size, rate="")
    began = time.perf_counter()

    def advance(done: int) -> None:
        progress.advance(task, done)
        elapsed = time.perf_counter() - began
        seen = progress.tasks[task].completed
        progress.update(task, rate=f"{seen / elapsed / 1e6:,.0f} MB/s" if elapsed else "")

    settings = _settings()
    return process_file(
        path,
        contract,
        output_dir=output_dir,
        deduplicator=data_processor_rs.Deduplicator(settings.dedup_window),
        job_id=job_id,
        source="" if lake is not None else f"file:{path.name}",  # the lake names the file
        max_record_bytes=settings.max_record_bytes,
        max_decompressed_bytes=settings.max_decompressed_bytes,
        on_bytes=advance,
        lake=lake,
    )


def _report_table(
    reports: list[FileReport], expected: dict[str, dict[str, int]] | None = None
) -> Table:
    table = Table(title="Processed through the Rust core", title_justify="left")
    for column in ("file", "received", "landed", "rejected", "dupes", "core ev/s", "lake", "ok"):
        table.add_column(column, justify="left" if column == "file" else "right", no_wrap=True)
    for report in reports:
        ok = report.reconciles
        want = (expected or {}).get(report.path.name)
        if want is not None:
            ok = ok and (report.landed, report.duplicates, report.rejected) == (
                want["valid"],
                want["duplicate"],
                want["invalid"],
            )
        table.add_row(
            report.path.name,
            f"{report.received:,}",
            f"{report.landed:,}",
            f"{report.rejected:,}",
            f"{report.duplicates:,}",
            f"{report.core_events_per_second:,.0f}",
            _lake_status(report),
            "[green]yes[/]" if ok else "[bold red]NO[/]",
        )
    return table


def _print_already_in_lake(reports: list[FileReport]) -> None:
    already = [r.path.name for r in reports if r.skipped_batches]
    if already:
        console.print(
            f"Already in the lake from an earlier run, not committed again: {', '.join(already)}",
            highlight=False,
        )


def _lake_status(report: FileReport) -> str:
    if not report.position_key:
        return "-"
    if report.skipped_batches and not report.committed_batches:
        return "already in"
    parts = [f"{report.committed_batches} commits"]
    if report.skipped_batches:
        parts.append(f"{report.skipped_batches} already in")
    return ", ".join(parts)


def _reasons_table(reports: list[FileReport]) -> Table | None:
    reasons: dict[str, int] = {}
    for report in reports:
        for reason, count in report.rejected_by_reason.items():
            reasons[reason] = reasons.get(reason, 0) + count
    if not reasons:
        return None
    table = Table(title="Rejected records by reason", title_justify="left", min_width=44)
    table.add_column("reason")
    table.add_column("records", justify="right")
    for reason, count in sorted(reasons.items()):
        table.add_row(reason, f"{count:,}")
    return table


@app.command()
def process(
    files: Annotated[
        list[Path], typer.Argument(help="NDJSON, JSON or CSV files (optionally .gz).")
    ],
    dataset: Annotated[
        str,
        typer.Option(
            "--dataset",
            "-d",
            help="Contract to validate against: events, users, products or a path.",
        ),
    ] = "events",
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Also write landed and rejected rows as Parquet here."),
    ] = None,
    to_lake: Annotated[
        bool,
        typer.Option(
            "--lake/--no-lake",
            help="Commit to the Iceberg tables (rows to the dataset's, rejections to "
            "events_rejected), each file once however often it is processed.",
        ),
    ] = True,
) -> None:
    """Process files through the Rust core into the lake; report what landed, what was
    rejected and why."""
    settings = _settings()
    try:
        load_contract(dataset)
    except (ContractError, ValueError) as exc:
        raise _fail(str(exc), code=2) from None
    for path in files:
        if not path.is_file():
            raise _fail(f"{path} is not a readable file", code=2)
    job_id = f"cli-{uuid.uuid4().hex[:12]}"
    reports = []
    lake = _open_lake(settings) if to_lake else None
    try:
        with _processing_progress() as progress:
            for path in files:
                reports.append(_process_with_progress(progress, path, dataset, out, job_id, lake))
    except (InputError, ValueError, OSError, *LAKE_ERRORS) as exc:
        raise _fail(str(exc)) from None
    console.print(_report_table(reports))
    reasons = _reasons_table(reports)
    if reasons is not None:
        console.print(reasons)
    if out is not None:
        console.print(f"Parquet written under {out}", highlight=False)
    if lake is not None:
        _print_already_in_lake(reports)
        console.print(
            f"Lake: {describe_catalog(settings)} (see `eventlake lake inspect`)", highlight=False
        )


@app.command()
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
    settings = _settings()
    if files:
        if serve:
            raise typer.BadParameter(
                "--serve needs the API: not with --files", param_hint="--serve"
            )
        _run_from_files(settings, events, seed, warehouse)
        return
    _run_over_http(settings, events, seed, warehouse, serve=serve)


def _run_over_http(
    settings: Settings, events: int, seed: int, warehouse: bool, *, serve: bool = False
) -> None:
    from eventlake.pipeline.main_job import (
        API_PORT,
        MainJobError,
        local_services,
        preferred_port,
        serve_until_stopped,
    )
    from eventlake.pipeline.runs import RunFailedError
    from eventlake.stream import StreamError

    console.rule("[bold]eventlake run")
    console.print(f"EVENTLAKE_HOME = {settings.home.resolve()}", highlight=False)
    try:
        if not serve:
            report = _main_job_with_progress(settings, events, seed, warehouse)
            _print_main_job(report, warehouse)
        else:
            # The services outlive the job: started here, stopped once serving ends.
            with local_services(settings, port=preferred_port(API_PORT)) as services:
                report = _main_job_with_progress(settings, events, seed, warehouse, services)
                _print_main_job(report, warehouse, serving=True)
                serve_until_stopped(settings, services, on_ready=_print_serving)
            console.print("Stopped the dashboard, the consumer and the API.")
    except RunFailedError as failure:
        raise _fail(f"the pipeline stopped: {failure}") from None
    except (MainJobError, StreamError, OSError, ValueError, *LAKE_ERRORS) as exc:
        raise _fail(str(exc)) from None
    if not report.reconciles:
        raise _fail("the events do not reconcile with the generated sample's manifest")


def _main_job_with_progress(
    settings: Settings,
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
    """After a run without --serve, whose API has stopped: where `make serve` and `make
    dashboard` show them."""
    from eventlake.pipeline.main_job import API_PORT, DASHBOARD_PORT
    from eventlake.report_sites import DATA_DOCS, DBT_DOCS

    api = f"http://127.0.0.1:{API_PORT}"
    rows = [
        ("API docs", f"{api}/docs once make serve runs (this run's API has stopped)"),
        ("dashboard", f"http://127.0.0.1:{DASHBOARD_PORT} once make dashboard runs"),
    ]
    if warehouse and dbt:
        rows.append(
            ("dbt docs", f"{DBT_DOCS.url(api)} once make serve runs (password: the key it prints)")
        )
    if warehouse and quality:
        rows.append(("Data Docs", f"{DATA_DOCS.url(api)} likewise, or {quality.get('data_docs')}"))
    rows.append(("all at once", "make run-serve: the same run, then serves them until Ctrl-C"))
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


def _run_from_files(settings: Settings, events: int, seed: int, warehouse: bool) -> None:
    home = settings.home
    samples = home / "samples"
    began = time.perf_counter()
    config = SampleConfig(events=events, seed=seed)
    console.rule("[bold]eventlake run")
    console.print(f"EVENTLAKE_HOME = {home.resolve()}", highlight=False)
    try:
        samples.mkdir(parents=True, exist_ok=True)
        with Progress(
            TextColumn("[bold blue]{task.description:<22}"),
            BarColumn(),
            TaskProgressColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
        ) as progress:
            task = progress.add_task("generating events", total=config.events)
            summary = write_sample(
                samples,
                config,
                ("ndjson",),
                progress=lambda done: progress.advance(task, done),
                workers=_auto_workers(config.events),
            )
        job_id = f"run-{uuid.uuid4().hex[:12]}"
        reports = []
        lake = _open_lake(settings)
        with _processing_progress() as progress:
            for dataset in ("events", "users", "products"):
                path = samples / f"{dataset}.ndjson"
                reports.append(_process_with_progress(progress, path, dataset, None, job_id, lake))
    except (InputError, ContractError, ValueError, OSError, *LAKE_ERRORS) as exc:
        raise _fail(str(exc)) from None

    expected = {name: dict(stats) for name, stats in summary.manifest["files"].items()}
    console.print(_report_table(reports, expected))
    reasons = _reasons_table(reports)
    if reasons is not None:
        console.print(reasons)
    ok = all(
        r.reconciles
        and (r.landed, r.duplicates, r.rejected)
        == (
            expected[r.path.name]["valid"],
            expected[r.path.name]["duplicate"],
            expected[r.path.name]["invalid"],
        )
        for r in reports
    )
    in_lake = _lake_reconciliation(lake, reports, expected)
    console.print(in_lake.table)
    _print_already_in_lake(reports)
    first = reports[0]
    console.print(
        f"{first.received:,} events ({first.bytes / 1e6:,.1f} MB) through parse, validate, "
        f"transform and dedup in {first.core_seconds:.2f} s in the core "
        f"({first.core_events_per_second:,.0f} events/s; {first.seconds:.2f} s with the "
        f"Iceberg commits). Lake loaded in {time.perf_counter() - began:.1f} s.",
        highlight=False,
    )
    console.print(
        f"Lake: {describe_catalog(settings)}. Look inside: eventlake lake inspect",
        highlight=False,
    )
    if not ok:
        raise _fail("the counts do not reconcile with the generated sample's manifest")
    if not in_lake.ok:
        raise _fail("the lake's tables do not hold exactly the sample's valid and invalid records")
    console.print(
        "[bold green]Every generated event is accounted for, exactly once in the lake: "
        "landed, rejected with a reason, or dropped as a duplicate."
    )
    if warehouse:
        _build_warehouse(settings, samples, job_id, lake)
    console.print(f"Whole run: {time.perf_counter() - began:.1f} s.", highlight=False)


def _build_warehouse(settings: Settings, samples: Path, job_id: str, lake: Lake) -> None:
    """Two loads, as a warehouse sees them: the sample, then the profile changes of some
    users. dbt runs after each, so the snapshot records both versions of a renamed user."""
    console.rule("[bold]warehouse: first load")
    _transform_step(settings)
    console.rule("[bold]warehouse: second load (user renames)")
    renames = samples / "user_renames.ndjson"
    try:
        with _processing_progress() as progress:
            report = _process_with_progress(progress, renames, "users", None, job_id, lake)
    except (InputError, ContractError, ValueError, OSError, *LAKE_ERRORS) as exc:
        raise _fail(str(exc)) from None
    console.print(f"{report.landed:,} profile changes landed in users", highlight=False)
    _transform_step(settings)
    console.rule("[bold]quality gates")
    _quality_step(settings)
    console.print(
        f"Warehouse: {settings.duckdb_path} (marts.fact_events, marts.dim_users, "
        "marts.dim_products). Browse the dbt docs and the Data Docs above.",
        highlight=False,
    )


class LogLevel(enum.StrEnum):
    critical = "critical"
    error = "error"
    warning = "warning"
    info = "info"
    debug = "debug"
    trace = "trace"


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
    log_level: Annotated[
        LogLevel, typer.Option(case_sensitive=False, help="uvicorn's log level.")
    ] = LogLevel.info,
) -> None:
    """Run the HTTP API (uvicorn): ingest batches, job status, pipeline runs, metrics."""
    import uvicorn

    from eventlake.api.auth import local_api_key, local_key_path, parse_api_keys

    settings = _settings()
    try:
        configured = parse_api_keys(settings.api_keys)
        # Created here, before the workers start, so that they all read the same key.
        local_key = None if configured else local_api_key(settings)
    except ValueError as exc:
        raise _fail(f"invalid EVENTLAKE_API_KEYS: {exc}", code=2) from None
    except OSError as exc:
        raise _fail(f"cannot keep the API key under {settings.home}: {exc}") from None
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}"
    console.print(f"eventlake API on {url}, docs at {url}/docs", highlight=False)
    if local_key is None:
        console.print(f"API keys: {len(configured)} from EVENTLAKE_API_KEYS", highlight=False)
    else:
        console.print(
            f"API key (generated, kept in {local_key_path(settings)}): {local_key}\n"
            "Send it as X-API-Key or Authorization: Bearer; set EVENTLAKE_API_KEYS to use "
            "your own.",
            highlight=False,
        )
    uvicorn.run(
        "eventlake.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level.value,
    )


@dataclasses.dataclass
class _LakeCheck:
    table: Table
    ok: bool


def _lake_reconciliation(
    lake: Lake, reports: list[FileReport], expected: dict[str, dict[str, int]]
) -> _LakeCheck:
    """Count, in the tables themselves, the rows each file left: a rerun must not add any."""
    table = Table(title="In the lake (counted in the Iceberg tables)", title_justify="left")
    for column in ("table", "rows from this file", "expected", "rejected kept", "expected", "ok"):
        table.add_column(column, justify="left" if column == "table" else "right")
    ok = True
    for report in reports:
        want = expected[report.path.name]
        rows = lake.count_rows(report.dataset, "_source", report.position_key)
        dead = lake.count_rows(DEAD_LETTER_TABLE, "source", report.position_key)
        good = (rows, dead) == (want["valid"], want["invalid"])
        ok = ok and good
        table.add_row(
            report.dataset,
            f"{rows:,}",
            f"{want['valid']:,}",
            f"{dead:,}",
            f"{want['invalid']:,}",
            "[green]yes[/]" if good else "[bold red]NO[/]",
        )
    return _LakeCheck(table, ok)


lake_app = typer.Typer(
    help="Look after the Iceberg tables: inspect, compact small files, expire old snapshots.",
    no_args_is_help=True,
)
app.add_typer(lake_app, name="lake")

DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _parse_duration(value: str) -> timedelta:
    match = DURATION.match(value)
    if match is None:
        raise typer.BadParameter(
            f"{value!r} is not a duration like 30m, 12h, 7d or 2w", param_hint="'--older-than'"
        )
    return timedelta(**{DURATION_UNITS[match.group(2)]: int(match.group(1))})


def _open_lake(settings: Settings, tables: list[str] | None = None) -> Lake:
    try:
        lake = Lake(settings)
    except (OSError, ValueError) as exc:
        raise _fail(f"cannot open the lake ({describe_catalog(settings)}): {exc}") from None
    known = lake.table_names()
    for name in tables or []:
        if name not in known:
            listed = ", ".join(known) or "none yet: run `eventlake run` or `eventlake process`"
            raise _fail(f"no table {name!r} in the lake; tables: {listed}", code=2)
    return lake


def _mb(n: int) -> str:
    return f"{n / 1e6:,.2f} MB"


@lake_app.command("inspect")
def lake_inspect(
    tables: Annotated[
        list[str] | None, typer.Argument(help="Tables to show (default: all of them).")
    ] = None,
    snapshots: Annotated[
        int, typer.Option(min=0, help="How many of the newest snapshots to list.")
    ] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Snapshots, data files per partition, the exactly-once watermark and orphan files."""
    settings = _settings()
    lake = _open_lake(settings, tables)
    reports = [maintenance.inspect(lake, name) for name in (tables or lake.table_names())]
    if as_json:
        typer.echo(json.dumps([_report_dict(r) for r in reports], indent=2, default=str))
        return
    console.print(f"Lake: {describe_catalog(settings)}", highlight=False)
    for report in reports:
        console.rule(f"[bold]{settings.lake.namespace}.{report.table}")
        console.print(
            f"{report.records:,} rows in {report.data_files:,} data files; "
            f"partitioned by {report.partitioning}; {len(report.columns)} columns; "
            f"{len(report.snapshots)} snapshots\nlocation {report.location}",
            highlight=False,
        )
        if report.snapshots:
            listing = Table(
                "snapshot",
                "committed (UTC)",
                "operation",
                "+rows",
                "rows",
                "jobs",
                "positions",
                title="Newest snapshots",
                title_justify="left",
            )
            for snap in report.snapshots[-snapshots:] if snapshots else []:
                jobs = ", ".join(snap.job_ids[:2]) + (" …" if len(snap.job_ids) > 2 else "")
                listing.add_row(
                    str(snap.snapshot_id),
                    f"{snap.committed_at:%Y-%m-%d %H:%M:%S}",
                    snap.operation,
                    f"{snap.added_records:,}",
                    f"{snap.total_records:,}",
                    jobs,
                    snap.ranges,
                )
            console.print(listing)
        if report.partitions:
            parts = Table(
                "partition", "files", "rows", "size", title="Data files", title_justify="left"
            )
            for part in report.partitions:
                parts.add_row(
                    part.partition, f"{part.files:,}", f"{part.records:,}", _mb(part.bytes)
                )
            console.print(parts)
        shown = ", ".join(f"{k} → {v}" for k, v in sorted(report.watermark.items())) or "none"
        console.print(f"Watermark (highest committed position per key): {shown}", highlight=False)
        if report.orphan_files:
            console.print(
                f"[yellow]{len(report.orphan_files)} orphan data files[/] (written, never "
                "committed: a crashed or still-running writer):",
                highlight=False,
            )
            for path in report.orphan_files[:10]:
                console.print(f"  {path}", highlight=False)
        else:
            console.print("No orphan data files.")


def _report_dict(report: maintenance.TableReport) -> dict[str, object]:
    data = dataclasses.asdict(report)
    data["records"], data["data_files"] = report.records, report.data_files
    return data


@lake_app.command("compact")
def lake_compact(
    table: Annotated[str, typer.Argument(help="Table to compact, e.g. events.")],
    partition: Annotated[
        str | None, typer.Option(help="Only this day partition (YYYY-MM-DD).")
    ] = None,
    small_file_mb: Annotated[
        float, typer.Option(min=0.001, help="Files smaller than this are rewritten.")
    ] = 64.0,
    min_files: Annotated[
        int, typer.Option(min=2, help="Rewrite a partition only with at least this many.")
    ] = 2,
) -> None:
    """Rewrite each partition's small files into one file, in one atomic snapshot."""
    day = None
    if partition is not None:
        try:
            day = date.fromisoformat(partition)
        except ValueError:
            raise typer.BadParameter(
                f"{partition!r} is not a date like 2026-11-01", param_hint="'--partition'"
            ) from None
    lake = _open_lake(_settings(), [table])
    try:
        with console.status(f"compacting {table}…"):
            report = maintenance.compact(
                lake,
                table,
                partition=day,
                small_file_bytes=int(small_file_mb * 1e6),
                min_files=min_files,
            )
    except (ValueError, OSError, *LAKE_ERRORS) as exc:
        raise _fail(f"compaction of {table} failed, nothing changed: {exc}") from None
    if not report.partitions:
        console.print(f"Nothing to compact in {table}: no partition has {min_files}+ small files.")
        return
    result = Table(
        "partition",
        "files before",
        "files after",
        "rows",
        "before",
        "after",
        title=f"Compacted {table} (snapshot {report.snapshot_id})",
        title_justify="left",
    )
    for part in report.partitions:
        result.add_row(
            part.partition,
            str(part.files_before),
            str(part.files_after),
            f"{part.records:,}",
            _mb(part.bytes_before),
            _mb(part.bytes_after),
        )
    console.print(result)
    console.print(f"{report.files_removed:,} fewer data files; the watermark is carried forward.")


@lake_app.command("expire")
def lake_expire(
    table: Annotated[str, typer.Argument(help="Table whose old snapshots to expire.")],
    older_than: Annotated[
        str, typer.Option(help="Expire snapshots older than this (30m, 12h, 7d, 2w).")
    ] = "7d",
    retain_last: Annotated[
        int, typer.Option(min=1, help="Always keep at least this many newest snapshots.")
    ] = 1,
) -> None:
    """Expire old snapshots and delete data files no remaining snapshot uses."""
    age = _parse_duration(older_than)
    lake = _open_lake(_settings(), [table])
    try:
        report = maintenance.expire(lake, table, older_than=age, retain_last=retain_last)
    except (ValueError, OSError, *LAKE_ERRORS) as exc:
        raise _fail(f"expiry of {table} failed: {exc}") from None
    console.print(
        f"{table}: expired {report.expired_snapshots} snapshots, kept "
        f"{report.kept_snapshots}, deleted {report.deleted_files} unreferenced data files.",
        highlight=False,
    )
    shown = ", ".join(f"{k} → {v}" for k, v in sorted(report.watermark.items())) or "none"
    console.print(f"Watermark kept: {shown}", highlight=False)


def _parse_member(value: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d{1,4})/(\d{1,4})", value)
    if match is None or not 0 <= int(match[1]) < int(match[2]):
        raise typer.BadParameter(
            f"{value!r} is not INDEX/COUNT with 0 <= INDEX < COUNT (e.g. 0/2 and 1/2)",
            param_hint="'--member'",
        )
    return int(match[1]), int(match[2])


@app.command()
def consume(
    dataset: Annotated[
        list[str] | None,
        typer.Option("--dataset", "-d", help="Datasets to consume (repeatable); default all."),
    ] = None,
    until_caught_up: Annotated[
        bool,
        typer.Option("--until-caught-up", help="Stop once every shard is read (batch runs)."),
    ] = False,
    member: Annotated[
        str,
        typer.Option(help="This consumer's share of the shards, INDEX/COUNT (0/2 and 1/2)."),
    ] = "0/1",
) -> None:
    """Read the streams, run the Rust core, commit to the lake exactly once.

    Runs until SIGTERM or Ctrl-C (the batch in hand is committed first), or with
    --until-caught-up until every shard is read."""
    import signal
    import threading

    from eventlake.consumer import BatchReport, Membership
    from eventlake.consumer import consume as consume_streams
    from eventlake.contracts import DATASETS
    from eventlake.stream.base import StreamError

    settings = _settings()
    index, count = _parse_member(member)
    for name in dataset or ():
        if name not in DATASETS:
            raise typer.BadParameter(
                f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}",
                param_hint="'--dataset'",
            )
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        err_console.print(f"{signal.Signals(signum).name}: finishing the batch in hand")
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    def show(batch: BatchReport) -> None:
        status = "already in the lake" if batch.skipped else f"snapshot {batch.snapshot_id}"
        console.print(
            f"{batch.dataset}: {batch.records:,} records, {batch.received:,} events → "
            f"{batch.landed:,} landed, {batch.dead_lettered:,} rejected, "
            f"{batch.duplicates:,} duplicates in {batch.seconds:.2f} s ({status})",
            highlight=False,
        )

    console.print(
        f"consuming {', '.join(dataset or DATASETS)} as member {index}/{count} "
        f"({'until caught up' if until_caught_up else 'until stopped'})",
        highlight=False,
    )
    try:
        report = consume_streams(
            settings,
            datasets=dataset or None,
            membership=Membership(index, count),
            until_caught_up=until_caught_up,
            stop=stop,
            on_batch=show,
        )
    except (StreamError, ValueError, OSError, *LAKE_ERRORS) as exc:
        raise _fail(str(exc)) from None
    landed = report.landed
    console.print(f"done in {report.seconds:.1f} s: {landed:,} events landed", highlight=False)


class DbtTarget(enum.StrEnum):
    local = "local"
    prod = "prod"


@app.command()
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
    settings = _settings()
    if target is not None:
        settings = settings.model_copy(
            update={"warehouse": settings.warehouse.model_copy(update={"target": target.value})}
        )
    began = time.perf_counter()
    run_id, summary = _transform_step(settings)
    console.print(
        f"[bold green]dbt build passed[/] on target {summary['target']} in "
        f"{time.perf_counter() - began:.1f} s (run {run_id})",
        highlight=False,
    )


def _open_state(settings: Settings) -> "StateStore":
    from eventlake.state import StateStore

    try:
        settings.home.mkdir(parents=True, exist_ok=True)  # state.db lives there by default
        return StateStore(settings.state_database_url)
    except (SQLAlchemyError, ValueError, OSError) as exc:
        raise _fail(f"cannot open the job state: {exc}") from None


def _transform_step(settings: Settings) -> tuple[str, dict[str, Any]]:
    """dbt with a progress bar per command, recorded as a run; prints dbt's results. A failed
    model or test prints what failed and exits 1."""
    from eventlake.pipeline.runs import RunFailedError, record_run
    from eventlake.warehouse.dbt_runner import transform_pipeline

    state = _open_state(settings)
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
        raise _fail(str(failure)) from None
    except OSError as exc:
        raise _fail(f"dbt could not run: {exc}") from None
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


@app.command()
def quality() -> None:
    """Validate the warehouse's staging and mart tables (Great Expectations), write Data Docs.

    Exit code 1, with a table of the failed expectations, when a gate fails. The run is recorded
    like a triggered one; a configured webhook (EVENTLAKE_QUALITY__WEBHOOK_URL) is alerted."""
    run_id, result = _quality_step(_settings())
    console.print(f"[bold green]{result['summary']}[/] (run {run_id})", highlight=False)


def _quality_step(settings: Settings) -> tuple[str, dict[str, Any]]:
    """The gates, recorded as a run; prints the suites. A failed gate exits 1."""
    from eventlake.pipeline.runs import RunFailedError, record_run
    from eventlake.pipeline.runs import quality as quality_pipeline
    from eventlake.quality import QualityError

    state = _open_state(settings)
    try:
        with console.status("running the quality gates (Great Expectations)…"):
            run_id, result = record_run(settings, state, "quality", quality_pipeline)
    except RunFailedError as failure:
        _print_quality(failure.result)
        raise _fail(f"{failure} (see the Data Docs)") from None
    except (QualityError, OSError, *LAKE_ERRORS) as exc:
        raise _fail(f"the quality gates could not run: {exc}") from None
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


@app.command()
def dashboard(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8501,
) -> None:
    """Run the dashboard (Streamlit): the warehouse's KPIs, funnel, revenue and drill-downs,
    and the pipeline's health (the API's live metrics, runs, dbt tests, quality gates)."""
    import sys

    from eventlake.dashboard import streamlit_command

    settings = _settings()
    console.print(
        f"eventlake dashboard on http://{host}:{port}, warehouse {settings.duckdb_path}",
        highlight=False,
    )
    # Streamlit takes over this process: its Ctrl-C handling and exit code are the command's.
    os.execv(sys.executable, streamlit_command(host, port))


if __name__ == "__main__":  # pragma: no cover
    app()
