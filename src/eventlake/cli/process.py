"""``eventlake process FILE...``: files through the Rust core into the lake, and the tables
that report it (shared with ``eventlake run --files``)."""

import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from eventlake.cli.common import console, err_console, fail, lake_errors, load_settings, open_lake

# The core, the lake and the pipeline load when a file is processed, not when the CLI starts
# (common.py says why).
if TYPE_CHECKING:
    from eventlake.lake import Lake
    from eventlake.pipeline.process_files import FileReport


def processing_progress() -> Progress:
    return Progress(
        TextColumn("[bold blue]{task.description:<22}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=err_console,
    )


def process_with_progress(
    progress: Progress,
    path: Path,
    dataset: str,
    output_dir: Path | None,
    job_id: str,
    lake: "Lake | None",
) -> "FileReport":
    import data_processor_rs

    from eventlake.contracts import load_contract
    from eventlake.pipeline.process_files import process_file

    contract = load_contract(dataset)
    task = progress.add_task(f"{dataset} ({path.name})", total=path.stat().st_size, rate="")
    began = time.perf_counter()

    def advance(done: int) -> None:
        progress.advance(task, done)
        elapsed = time.perf_counter() - began
        seen = progress.tasks[task].completed
        progress.update(task, rate=f"{seen / elapsed / 1e6:,.0f} MB/s" if elapsed else "")

    settings = load_settings()
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


def report_table(
    reports: "list[FileReport]", expected: dict[str, dict[str, int]] | None = None
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


def print_already_in_lake(reports: "list[FileReport]") -> None:
    already = [r.path.name for r in reports if r.skipped_batches]
    if already:
        console.print(
            f"Already in the lake from an earlier run, not committed again: {', '.join(already)}",
            highlight=False,
        )


def _lake_status(report: "FileReport") -> str:
    if not report.position_key:
        return "-"
    if report.skipped_batches and not report.committed_batches:
        return "already in"
    parts = [f"{report.committed_batches} commits"]
    if report.skipped_batches:
        parts.append(f"{report.skipped_batches} already in")
    return ", ".join(parts)


def reasons_table(reports: "list[FileReport]") -> Table | None:
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
    from data_processor_rs import ContractError, InputError

    from eventlake.contracts import load_contract

    settings = load_settings()
    try:
        load_contract(dataset)
    except (ContractError, ValueError) as exc:
        raise fail(str(exc), code=2) from None
    for path in files:
        if not path.is_file():
            raise fail(f"{path} is not a readable file", code=2)
    job_id = f"cli-{uuid.uuid4().hex[:12]}"
    reports = []
    lake = open_lake(settings, "eventlake process") if to_lake else None
    try:
        with processing_progress() as progress:
            for path in files:
                reports.append(process_with_progress(progress, path, dataset, out, job_id, lake))
    except (InputError, ValueError, OSError, *lake_errors()) as exc:
        raise fail(str(exc)) from None
    console.print(report_table(reports))
    reasons = reasons_table(reports)
    if reasons is not None:
        console.print(reasons)
    if out is not None:
        console.print(f"Parquet written under {out}", highlight=False)
    if lake is not None:
        from eventlake.lake.catalog import describe as describe_catalog

        print_already_in_lake(reports)
        console.print(
            f"Lake: {describe_catalog(settings)} (see `eventlake lake inspect`)", highlight=False
        )
