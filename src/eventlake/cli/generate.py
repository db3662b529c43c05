"""``eventlake generate``: deterministic sample events, users and products."""

import enum
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
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

from eventlake.cli.common import auto_workers, console, err_console, fail, load_settings
from eventlake.sample_data import FORMATS, Format, SampleConfig, SampleSummary, write_sample


class OutputFormat(enum.StrEnum):
    ndjson = "ndjson"
    json = "json"
    csv = "csv"


assert tuple(OutputFormat) == FORMATS, "OutputFormat must list sample_data.FORMATS"  # noqa: S101 — a module-level consistency check of two constants


def _default_out() -> Path:
    return load_settings().home / "samples"


def _parse_start(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO date or date-time (e.g. 2026-11-01 or 2026-11-01T00:00Z)",
            param_hint="'--start'",
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


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
                workers=workers if workers is not None else auto_workers(config.events),
            )
    except OSError as exc:
        raise fail(f"cannot write the sample to {directory}: {exc.strerror or exc}") from None
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
