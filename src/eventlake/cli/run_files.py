"""``eventlake run --files``: the sample straight through the Rust core into the lake (no API, no
stream), every count checked against the manifest and counted again in the tables."""

import dataclasses
import time
import uuid
from pathlib import Path

from data_processor_rs import ContractError, InputError
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from eventlake.cli.common import auto_workers, console, err_console, fail, lake_errors, open_lake
from eventlake.cli.process import (
    print_already_in_lake,
    process_with_progress,
    processing_progress,
    reasons_table,
    report_table,
)
from eventlake.cli.recorded import run_recorded
from eventlake.config import Settings
from eventlake.lake import DEAD_LETTER_TABLE, Lake
from eventlake.lake.catalog import describe as describe_catalog
from eventlake.pipeline.pipelines import WAREHOUSE
from eventlake.pipeline.process_files import FileReport
from eventlake.sample_data import SampleConfig, write_sample


def run_from_files(settings: Settings, events: int, seed: int, warehouse: bool) -> None:
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
                workers=auto_workers(config.events),
            )
        job_id = f"run-{uuid.uuid4().hex[:12]}"
        reports = []
        lake = open_lake(settings, "eventlake run")
        with processing_progress() as progress:
            for dataset in ("events", "users", "products"):
                path = samples / f"{dataset}.ndjson"
                reports.append(process_with_progress(progress, path, dataset, None, job_id, lake))
    except (InputError, ContractError, ValueError, OSError, *lake_errors()) as exc:
        raise fail(str(exc)) from None

    expected = {name: dict(stats) for name, stats in summary.manifest["files"].items()}
    console.print(report_table(reports, expected))
    reasons = reasons_table(reports)
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
    print_already_in_lake(reports)
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
        raise fail("the counts do not reconcile with the generated sample's manifest")
    if not in_lake.ok:
        raise fail("the lake's tables do not hold exactly the sample's valid and invalid records")
    console.print(
        "[bold green]Every generated event is accounted for, exactly once in the lake: "
        "landed, rejected with a reason, or dropped as a duplicate."
    )
    if warehouse:
        _build_warehouse(settings, samples, job_id, lake)
    console.print(f"Whole run: {time.perf_counter() - began:.1f} s.", highlight=False)


def _build_warehouse(settings: Settings, samples: Path, job_id: str, lake: Lake) -> None:
    """Two loads, as a warehouse sees them: the sample, then the profile changes of some
    users. After each, the data pipeline's tail as `make run` over HTTP runs it (catalog, dbt,
    quality gates, dashboard), so the snapshot records both versions of a renamed user."""
    console.rule("[bold]warehouse: first load")
    run_recorded(settings, WAREHOUSE)
    console.rule("[bold]warehouse: second load (user renames)")
    renames = samples / "user_renames.ndjson"
    try:
        with processing_progress() as progress:
            report = process_with_progress(progress, renames, "users", None, job_id, lake)
    except (InputError, ContractError, ValueError, OSError, *lake_errors()) as exc:
        raise fail(str(exc)) from None
    console.print(f"{report.landed:,} profile changes landed in users", highlight=False)
    run_recorded(settings, WAREHOUSE)
    console.print(
        f"Warehouse: {settings.duckdb_path} (marts.fact_events, marts.dim_users, "
        "marts.dim_products). Browse the dbt docs and the Data Docs above.",
        highlight=False,
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
