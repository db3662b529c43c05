"""Keeping tables healthy: compact small files, expire old snapshots, inspect what is there.

Streaming commits leave many small files (one per day partition per batch). Compaction
rewrites the small files of a partition into one, in a single overwrite snapshot; the
exactly-once watermark lives in the table property and is untouched. Expiry drops old
snapshots and the files only they used; the watermark survives it for the same reason.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.expressions import AlwaysTrue
from pyiceberg.io.pyarrow import ArrowScan
from pyiceberg.manifest import DataFile
from pyiceberg.table import FileScanTask, Table
from sqlalchemy.exc import OperationalError

from eventlake.lake import watermark
from eventlake.lake.catalog import local_path
from eventlake.lake.writer import Lake, _backoff, _delete_files, _write_data_files

log = logging.getLogger(__name__)

OPERATION = "eventlake.operation"
EPOCH = date(1970, 1, 1)


def partition_label(data_file: DataFile) -> str:
    """A data file's partition for people: the day, or ``-`` for unpartitioned tables."""
    partition = data_file.partition
    if len(partition) == 0:
        return "-"
    day = partition[0]
    return "null" if day is None else (EPOCH + timedelta(days=int(day))).isoformat()


# ---------------------------------------------------------------------------- compaction


@dataclass(frozen=True)
class CompactedPartition:
    partition: str
    files_before: int
    files_after: int
    records: int
    bytes_before: int
    bytes_after: int


@dataclass(frozen=True)
class CompactionReport:
    table: str
    snapshot_id: int | None
    partitions: tuple[CompactedPartition, ...]

    @property
    def files_removed(self) -> int:
        return sum(p.files_before - p.files_after for p in self.partitions)


def compact(
    lake: Lake,
    table_name: str,
    *,
    partition: date | None = None,
    small_file_bytes: int = 64 * 1024 * 1024,
    min_files: int = 2,
) -> CompactionReport:
    """Rewrite the small files of each partition (or of one day) into one file per partition."""
    table = lake.table(table_name)
    tasks = list(table.scan().plan_files())
    if any(task.delete_files for task in tasks):
        raise NotImplementedError("compaction of tables with delete files is not supported")
    groups: dict[str, list[FileScanTask]] = defaultdict(list)
    for task in tasks:
        label = partition_label(task.file)
        if partition is not None and label != partition.isoformat():
            continue
        if task.file.file_size_in_bytes < small_file_bytes:
            groups[label].append(task)
    groups = {label: group for label, group in groups.items() if len(group) >= min_files}
    if not groups:
        return CompactionReport(table_name, None, ())

    old_files: list[DataFile] = []
    new_files: list[DataFile] = []
    compacted = []
    for label, group in sorted(groups.items()):
        rows = ArrowScan(table.metadata, table.io, table.schema(), AlwaysTrue()).to_table(group)
        rewritten = _write_data_files(
            table, _with_table_nullability(rows, table), lake.settings.lake
        )
        before = [task.file for task in group]
        records_before = sum(f.record_count for f in before)
        records_after = sum(f.record_count for f in rewritten)
        if records_before != records_after:  # pragma: no cover - a guard, not a path
            _delete_files(table, rewritten)
            raise RuntimeError(f"compaction of {label} would change {records_before} rows")
        old_files += before
        new_files += rewritten
        compacted.append(
            CompactedPartition(
                label,
                len(before),
                len(rewritten),
                records_after,
                sum(f.file_size_in_bytes for f in before),
                sum(f.file_size_in_bytes for f in rewritten),
            )
        )
    try:
        snapshot_id = _replace_files(lake, table_name, old_files, new_files)
    except BaseException:
        # Interrupted or failed, the commit may still have landed: delete the new files only
        # when the table does not use them.
        if not _live_files(lake.table(table_name)) & {f.file_path for f in new_files}:
            _delete_files(table, new_files)
        raise
    return CompactionReport(table_name, snapshot_id, tuple(compacted))


def _live_files(table: Table) -> set[str]:
    if table.current_snapshot() is None:
        return set()
    return {task.file.file_path for task in table.scan().plan_files()}


def _with_table_nullability(rows: pa.Table, table: Table) -> pa.Table:
    """Scans mark every column nullable; the writer needs the table's required flags back."""
    required = {f.name for f in table.schema().fields if f.required}
    schema = pa.schema([f.with_nullable(f.name not in required) for f in rows.schema])
    return rows.cast(schema)


def _replace_files(
    lake: Lake, table_name: str, old_files: list[DataFile], new_files: list[DataFile]
) -> int | None:
    attempts = lake.settings.lake.commit_attempts
    for attempt in range(1, attempts + 1):
        table = lake._writable_table(table_name)
        live = _live_files(table)
        if all(f.file_path in live for f in new_files):
            # An earlier attempt whose outcome was unknown did land.
            current = table.current_snapshot()
            return current.snapshot_id if current else None
        missing = [f.file_path for f in old_files if f.file_path not in live]
        if missing:
            raise CommitFailedException(f"files were removed while compacting: {missing[:3]}")
        properties = {OPERATION: "compact"}  # the watermark stays in the table property
        transaction = table.transaction()
        with transaction.update_snapshot(properties).overwrite() as rewrite:
            for data_file in old_files:
                rewrite.delete_data_file(data_file)
            for data_file in new_files:
                rewrite.append_data_file(data_file)
        try:
            committed = transaction.commit_transaction()
        except (CommitFailedException, OperationalError) as error:
            log.info("compaction of %s lost a race (attempt %d): %s", table_name, attempt, error)
            _backoff(attempt)
            continue
        snapshot = committed.current_snapshot()
        return snapshot.snapshot_id if snapshot else None
    raise CommitFailedException(f"{table_name}: compaction gave up after {attempts} attempts")


# ---------------------------------------------------------------------------- expiry


@dataclass(frozen=True)
class ExpiryReport:
    table: str
    expired_snapshots: int
    kept_snapshots: int
    deleted_files: int
    watermark: dict[str, int]


def expire(
    lake: Lake, table_name: str, *, older_than: timedelta, retain_last: int = 1
) -> ExpiryReport:
    """Expire snapshots older than ``older_than``, keeping at least the newest ``retain_last``,
    then delete the data files that no remaining snapshot references."""
    if retain_last < 1:
        raise ValueError("retain_last must be at least 1: the current snapshot always stays")
    table = lake.table(table_name)
    cutoff = datetime.now(UTC) - older_than
    newest_first = sorted(table.snapshots(), key=lambda s: s.timestamp_ms, reverse=True)
    keep = {s.snapshot_id for s in newest_first[:retain_last]}
    current = table.current_snapshot()
    if current is not None:
        keep.add(current.snapshot_id)
    cutoff_ms = int(cutoff.timestamp() * 1000)
    doomed = [
        s.snapshot_id
        for s in newest_first
        if s.snapshot_id not in keep and s.timestamp_ms < cutoff_ms
    ]
    if not doomed:
        return ExpiryReport(table_name, 0, len(newest_first), 0, watermark.read(table))
    referenced_before = _referenced_files(table)
    table.maintenance.expire_snapshots().by_ids(doomed).commit()
    table = lake.table(table_name)
    unreferenced = sorted(referenced_before - _referenced_files(table))
    for path in unreferenced:
        table.io.delete(path)
    return ExpiryReport(
        table_name,
        len(doomed),
        len(table.snapshots()),
        len(unreferenced),
        watermark.read(table),
    )


def _referenced_files(table: Table) -> set[str]:
    if table.current_snapshot() is None:
        return set()
    paths = table.inspect.all_files().column("file_path").to_pylist()
    return {str(p) for p in paths}


# ---------------------------------------------------------------------------- inspection


@dataclass(frozen=True)
class SnapshotInfo:
    snapshot_id: int
    parent_id: int | None
    committed_at: datetime
    operation: str
    added_records: int
    total_records: int
    job_ids: tuple[str, ...]
    ranges: str


@dataclass(frozen=True)
class PartitionInfo:
    partition: str
    files: int
    records: int
    bytes: int


@dataclass(frozen=True)
class TableReport:
    table: str
    location: str
    columns: tuple[str, ...]
    partitioning: str
    snapshots: tuple[SnapshotInfo, ...]
    partitions: tuple[PartitionInfo, ...]
    watermark: dict[str, int]
    orphan_files: tuple[str, ...]

    @property
    def data_files(self) -> int:
        return sum(p.files for p in self.partitions)

    @property
    def records(self) -> int:
        return sum(p.records for p in self.partitions)


def inspect(lake: Lake, table_name: str) -> TableReport:
    table = lake.table(table_name)
    snapshots = tuple(
        _snapshot_info(s) for s in sorted(table.snapshots(), key=lambda s: s.timestamp_ms)
    )
    per_partition: dict[str, list[DataFile]] = defaultdict(list)
    if table.current_snapshot() is not None:
        for task in table.scan().plan_files():
            per_partition[partition_label(task.file)].append(task.file)
    partitions = tuple(
        PartitionInfo(
            label,
            len(files),
            sum(f.record_count for f in files),
            sum(f.file_size_in_bytes for f in files),
        )
        for label, files in sorted(per_partition.items())
    )
    schema = table.schema()
    partitioning = ", ".join(
        f"{field.transform}({schema.find_column_name(field.source_id)})"
        for field in table.spec().fields
    )
    return TableReport(
        table=table_name,
        location=table.location(),
        columns=tuple(f"{f.name} {f.field_type}{'' if f.required else '?'}" for f in schema.fields),
        partitioning=partitioning or "unpartitioned",
        snapshots=snapshots,
        partitions=partitions,
        watermark=watermark.read(table),
        orphan_files=tuple(orphan_files(table)),
    )


def _snapshot_info(snapshot: object) -> SnapshotInfo:
    from pyiceberg.table.snapshots import Snapshot

    assert isinstance(snapshot, Snapshot)  # noqa: S101 — narrows the type for mypy; holds by construction
    summary = snapshot.summary
    extra = summary.additional_properties if summary is not None else {}
    job_ids = tuple(j for j in extra.get(watermark.JOB_IDS, "").split(",") if j)
    return SnapshotInfo(
        snapshot_id=snapshot.snapshot_id,
        parent_id=snapshot.parent_snapshot_id,
        committed_at=datetime.fromtimestamp(snapshot.timestamp_ms / 1000, UTC),
        operation=extra.get(OPERATION) or (summary.operation.value if summary else "?"),
        added_records=int(extra.get("added-records", 0)),
        total_records=int(extra.get("total-records", 0)),
        job_ids=job_ids,
        ranges=extra.get(watermark.RANGES, ""),
    )


def orphan_files(table: Table) -> Iterable[str]:
    """Data files under the table's data folder that no snapshot references: left by a crash
    between writing files and committing them (or by a writer still committing right now)."""
    root = local_path(table.location())
    referenced = _referenced_files(table)
    if root is not None:
        data = root / "data"
        if not data.exists():
            return []
        found = [p.resolve().as_uri() for p in data.rglob("*.parquet")]
        referenced = {local.resolve().as_uri() for p in referenced if (local := local_path(p))}
        return sorted(p for p in found if p not in referenced)
    from pyarrow.fs import FileSelector

    location = table.location().rstrip("/") + "/data"
    scheme, _, rest = location.partition("://")
    filesystem = table.io.fs_by_scheme(scheme, rest.split("/", 1)[0])  # type: ignore[attr-defined]
    selector = FileSelector(rest, recursive=True, allow_not_found=True)
    found_remote = [
        f"{scheme}://{info.path}" for info in filesystem.get_file_info(selector) if info.is_file
    ]
    return sorted(p for p in found_remote if p not in referenced)
