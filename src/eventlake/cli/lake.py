"""``eventlake lake inspect|compact|expire``: look after the Iceberg tables."""

import dataclasses
import json
import re
from datetime import date, timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from eventlake.cli.common import console, fail, lake_errors, load_settings, open_lake

# The lake (pyiceberg, pyarrow) loads when a lake command runs, not when the CLI starts.
if TYPE_CHECKING:
    from eventlake.lake.maintenance import TableReport

app = typer.Typer(
    help="Look after the Iceberg tables: inspect, compact small files, expire old snapshots.",
    no_args_is_help=True,
)

DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _parse_duration(value: str) -> timedelta:
    match = DURATION.match(value)
    if match is None:
        raise typer.BadParameter(
            f"{value!r} is not a duration like 30m, 12h, 7d or 2w", param_hint="'--older-than'"
        )
    return timedelta(**{DURATION_UNITS[match.group(2)]: int(match.group(1))})


def _mb(n: int) -> str:
    return f"{n / 1e6:,.2f} MB"


@app.command("inspect")
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
    from eventlake.lake import maintenance
    from eventlake.lake.catalog import describe as describe_catalog

    settings = load_settings()
    lake = open_lake(settings, "eventlake lake inspect", tables)
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


def _report_dict(report: "TableReport") -> dict[str, object]:
    data = dataclasses.asdict(report)
    data["records"], data["data_files"] = report.records, report.data_files
    return data


@app.command("compact")
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
    from eventlake.lake import maintenance  # once the arguments are known to be good

    lake = open_lake(load_settings(), "eventlake lake compact", [table])
    try:
        with console.status(f"compacting {table}…"):
            report = maintenance.compact(
                lake,
                table,
                partition=day,
                small_file_bytes=int(small_file_mb * 1e6),
                min_files=min_files,
            )
    except (ValueError, OSError, *lake_errors()) as exc:
        raise fail(f"compaction of {table} failed, nothing changed: {exc}") from None
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


@app.command("expire")
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
    from eventlake.lake import maintenance  # once the arguments are known to be good

    lake = open_lake(load_settings(), "eventlake lake expire", [table])
    try:
        report = maintenance.expire(lake, table, older_than=age, retain_last=retain_last)
    except (ValueError, OSError, *lake_errors()) as exc:
        raise fail(f"expiry of {table} failed: {exc}") from None
    console.print(
        f"{table}: expired {report.expired_snapshots} snapshots, kept "
        f"{report.kept_snapshots}, deleted {report.deleted_files} unreferenced data files.",
        highlight=False,
    )
    shown = ", ".join(f"{k} → {v}" for k, v in sorted(report.watermark.items())) or "none"
    console.print(f"Watermark kept: {shown}", highlight=False)
