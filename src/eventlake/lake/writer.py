"""Commit processed batches to Iceberg tables, each stream position exactly once.

The heavy part runs in Rust: ``data_processor_rs.write_iceberg`` encodes a batch as Parquet
data files (zstd, Iceberg field ids, column statistics), one per day partition, with the GIL
released. Python stores the bytes through the table's FileIO (local disk or S3 alike), reads
the statistics back from the footers with pyiceberg's own code, and commits through the
catalog. The commit is atomic: a reader sees all of a batch or none of it.

Exactly once, through crashes and races:

1. Data files are written first, under fresh names. A crash here leaves orphan files that
   no snapshot references (``lake inspect`` lists them); the replay writes new ones. A write
   that fails (a full disk) removes the batch's files itself.
2. Each attempt reloads the table and reads its watermark. A batch whose positions are all
   at or below it was committed before (a replay after a crash, or a race lost to a twin
   consumer): its files are deleted and the commit is a no-op.
3. The append, the snapshot summary (positions covered, job ids, a commit id) and the
   watermark property go in one catalog commit. The append asserts that the branch still
   points at the snapshot read in step 2, and the catalog applies the commit atomically (SQL:
   compare-and-swap of the metadata location; Glue: its version check). A writer that loses
   the race gets ``CommitFailedException`` and goes back to step 2 with the table as the
   winner left it. pyiceberg's own retries are off on these tables: they would re-apply a
   stale append on top of the winner's.
4. When an attempt's outcome is unknown (a dropped connection after the catalog committed),
   the next attempt looks for its commit id in the table's history before anything else: a
   commit that landed is reported as committed and its files are never deleted.

Atomic per table: a reader sees all of a batch's rows or none. The dead-letter commit comes
first, so for a moment a reader can see a batch's rejections before its rows.
"""

from __future__ import annotations

import logging
import os
import random
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import data_processor_rs
import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitFailedException, NoSuchTableError, TableAlreadyExistsError
from pyiceberg.expressions import EqualTo
from pyiceberg.io.pyarrow import (
    compute_statistics_plan,
    data_file_statistics_from_parquet_metadata,
    parquet_path_to_id_mapping,
)
from pyiceberg.manifest import DataFile, DataFileContent, FileFormat
from pyiceberg.table import Table
from pyiceberg.typedef import Record
from sqlalchemy.exc import IntegrityError, OperationalError

from eventlake.config import LakeSettings, Settings
from eventlake.contracts import ContractSpec
from eventlake.errors import EventlakeError
from eventlake.lake import watermark
from eventlake.lake.catalog import open_catalog
from eventlake.lake.schema import (
    TableSpec,
    dead_letter_spec,
    evolve,
    field_ids,
    table_spec_from_contract,
)
from eventlake.lake.watermark import SequenceRange

log = logging.getLogger(__name__)

DEAD_LETTER_TABLE = "events_rejected"
# pyiceberg retries a failed commit by re-applying it on top of the winner's snapshot; for a
# watermarked append that would commit a replay. Its retries are off: ours re-read the
# watermark first.
NO_BLIND_RETRIES = {"commit.retry.num-retries": "0"}
DEFAULT_TABLE_PROPERTIES = {
    "format-version": "2",
    "write.format.default": "parquet",
    "write.parquet.compression-codec": "zstd",
    **NO_BLIND_RETRIES,
}
COMMIT_ID = "eventlake.commit-id"
# How far back to look for a commit whose outcome was unknown: it is always among the newest.
RECENT_SNAPSHOTS = 1000
# Summary keys with the job's reconciliation: received = landed + rejected + duplicates.
RECEIVED = "eventlake.received"
REJECTED = "eventlake.rejected"
DUPLICATES = "eventlake.duplicates"


class ArrowData(Protocol):
    def __arrow_c_array__(self, requested_schema: object = None) -> tuple[object, object]: ...


class CommitConflictError(EventlakeError, RuntimeError):
    """Writers kept racing for longer than the configured attempts. Transient: retry later;
    nothing was committed by this call and its files were removed."""

    transient = True


@dataclass(frozen=True)
class TableCommit:
    """One table's side of a commit. ``attempts`` counts tries at the catalog: 0 when the
    watermark showed a replay before anything was written."""

    table: str
    snapshot_id: int | None
    skipped: bool
    records: int
    files: int
    attempts: int
    data_file_paths: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        return "already committed" if self.skipped else "committed"


@dataclass(frozen=True)
class BatchCommit:
    """A processed batch in the lake: its rows and, when there were any, its rejections."""

    rows: TableCommit
    rejected: TableCommit | None
    received: int
    duplicates: int

    @property
    def skipped(self) -> bool:
        return self.rows.skipped


@dataclass
class Lake:
    """The lake's tables in one catalog namespace, created from contracts on first use."""

    settings: Settings
    catalog: Catalog = field(init=False)
    _dead_letter_ready: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.catalog = open_catalog(self.settings)
        try:
            self.catalog.create_namespace_if_not_exists(self.namespace)
        except IntegrityError:
            # Another process created it between the check and the insert.
            self.catalog.load_namespace_properties(self.namespace)

    @property
    def namespace(self) -> str:
        return self.settings.lake.namespace

    def identifier(self, table_name: str) -> tuple[str, str]:
        return (self.namespace, table_name)

    def table(self, table_name: str) -> Table:
        return self.catalog.load_table(self.identifier(table_name))

    def table_names(self) -> list[str]:
        return sorted(name for _, name in self.catalog.list_tables(self.namespace))

    def ensure_table(self, spec: TableSpec) -> Table:
        """Create the table, or evolve it to the spec (refusing incompatible changes)."""
        try:
            table = self.table(spec.name)
        except NoSuchTableError:
            schema = spec.iceberg_schema()
            try:
                return self.catalog.create_table(
                    self.identifier(spec.name),
                    schema=schema,
                    partition_spec=spec.partition_spec(schema),
                    properties={**DEFAULT_TABLE_PROPERTIES, **spec.properties},
                )
            except TableAlreadyExistsError:
                # Another process created it a moment ago.
                table = self.table(spec.name)
        if evolve(table, spec):
            log.info("evolved the schema of %s", spec.name)
            table = self.table(spec.name)
        return _without_blind_retries(table)

    def ensure_dataset(self, contract: data_processor_rs.Contract) -> Table:
        spec = table_spec_from_contract(ContractSpec.from_rust(contract), contract.arrow_schema())
        return self.ensure_table(spec)

    def ensure_dead_letter(self) -> Table:
        table = self.ensure_table(dead_letter_spec(DEAD_LETTER_TABLE))
        self._dead_letter_ready = True
        return table

    def count_rows(self, table_name: str, column: str, value: str) -> int:
        """Rows whose ``column`` equals ``value`` (file statistics prune what they can)."""
        scan = self.table(table_name).scan(
            row_filter=EqualTo(term=column, value=value), selected_fields=(column,)
        )
        return int(scan.to_arrow().num_rows)

    def watermark(self, table_name: str) -> dict[str, int]:
        return watermark.read(self.table(table_name))

    def commit(
        self,
        table_name: str,
        data: ArrowData | pa.Table,
        *,
        ranges: Mapping[str, SequenceRange],
        job_ids: Sequence[str] = (),
        summary: Mapping[str, str] | None = None,
    ) -> TableCommit:
        """Append ``data`` covering ``ranges`` to a table, once. See the module doc."""
        table = self.table(table_name)
        if watermark.covered(watermark.read(table), ranges):
            # The common replay: known before a byte is encoded.
            return TableCommit(table_name, None, True, 0, 0, 0)
        written = _write_data_files(table, data, self.settings.lake)
        properties = {
            watermark.RANGES: watermark.dump_ranges(ranges),
            watermark.JOB_IDS: ",".join(job_ids),
            **(summary or {}),
        }
        try:
            return self._commit_files(table_name, written, ranges, properties)
        except (watermark.WatermarkOverlapError, CommitConflictError):
            # Known not committed. Any other failure may have reached the catalog, so its
            # files stay: at worst orphans, never a snapshot pointing at deleted files.
            _delete_files(table, written)
            raise

    def _commit_files(
        self,
        table_name: str,
        written: list[DataFile],
        ranges: Mapping[str, SequenceRange],
        properties: dict[str, str],
    ) -> TableCommit:
        attempts = self.settings.lake.commit_attempts
        records = sum(f.record_count for f in written)
        # Names this commit in the snapshot summary: after an attempt whose outcome is unknown
        # (a dropped connection, a lost reply), finding it means "ours landed", not "a twin's".
        commit_id = uuid.uuid4().hex
        properties = {**properties, COMMIT_ID: commit_id}
        for attempt in range(1, attempts + 1):
            table = self._writable_table(table_name)
            if attempt > 1 and (landed := _find_commit(table, commit_id)) is not None:
                return self._committed(table_name, landed, records, written, attempt - 1)
            current = watermark.read(table)
            if watermark.covered(current, ranges):
                _delete_files(table, written)  # another writer committed these positions
                return TableCommit(table_name, None, True, 0, 0, attempt)
            after = watermark.dump(watermark.advanced(current, ranges))
            transaction = table.transaction()
            with transaction.update_snapshot(properties).fast_append() as append:
                for data_file in written:
                    append.append_data_file(data_file)
            transaction.set_properties({watermark.WATERMARK: after})
            try:
                committed = transaction.commit_transaction()
            except (CommitFailedException, OperationalError) as error:
                log.info(
                    "commit to %s did not go through (attempt %d): %s", table_name, attempt, error
                )
                _backoff(attempt)
                continue
            snapshot = committed.current_snapshot()
            return self._committed(
                table_name, snapshot.snapshot_id if snapshot else None, records, written, attempt
            )
        if (landed := _find_commit(self.table(table_name), commit_id)) is not None:
            return self._committed(table_name, landed, records, written, attempts)
        raise CommitConflictError(
            f"{table_name}: gave up after {attempts} attempts while other writers committed"
        )

    @staticmethod
    def _committed(
        table_name: str,
        snapshot_id: int | None,
        records: int,
        written: list[DataFile],
        attempts: int,
    ) -> TableCommit:
        paths = tuple(f.file_path for f in written)
        return TableCommit(table_name, snapshot_id, False, records, len(written), attempts, paths)

    def _writable_table(self, table_name: str) -> Table:
        """The table, with pyiceberg's blind retries off even if someone turned them back on."""
        return _without_blind_retries(self.table(table_name))

    def commit_processed(
        self,
        batch: data_processor_rs.TransformedBatch,
        *,
        ranges: Mapping[str, SequenceRange],
        job_id: str,
        source: str,
        received_at: datetime,
        table_name: str | None = None,
        rejected: pa.RecordBatch | None = None,
    ) -> BatchCommit:
        """Land a processed batch: rejections into the dead-letter table, then the rows.

        Each table keeps its own watermark, so a crash between the two commits is repaired by
        the replay: the dead-letter commit is skipped, the rows are committed. ``rejected``
        replaces the batch's own rejections (e.g. with line numbers counted from a file's start).
        """
        dataset = batch.contract.name
        rejected_commit = None
        if batch.num_rejected:
            if not self._dead_letter_ready:
                self.ensure_dead_letter()
            rows = dead_letter_rows(
                batch.rejected if rejected is None else rejected,
                dataset=dataset,
                job_id=job_id,
                source=source,
                at=received_at,
            )
            rejected_commit = self.commit(DEAD_LETTER_TABLE, rows, ranges=ranges, job_ids=[job_id])
        rows = self.commit(
            table_name or dataset,
            batch,
            ranges=ranges,
            job_ids=[job_id],
            summary={
                RECEIVED: str(batch.num_received),
                REJECTED: str(batch.num_rejected),
                DUPLICATES: str(batch.num_duplicates),
            },
        )
        return BatchCommit(rows, rejected_commit, batch.num_received, batch.num_duplicates)


def _without_blind_retries(table: Table) -> Table:
    if all(table.properties.get(k) == v for k, v in NO_BLIND_RETRIES.items()):
        return table
    log.info("%s: setting %s", table.name(), NO_BLIND_RETRIES)
    return table.transaction().set_properties(NO_BLIND_RETRIES).commit_transaction()


def _find_commit(table: Table, commit_id: str) -> int | None:
    """The snapshot id of the commit named ``commit_id``, if it landed."""
    for depth, snapshot in enumerate(watermark.lineage(table)):
        if depth >= RECENT_SNAPSHOTS:
            break
        summary = snapshot.summary
        if summary is not None and summary.additional_properties.get(COMMIT_ID) == commit_id:
            return snapshot.snapshot_id
    return None


def dead_letter_rows(
    rejected: pa.RecordBatch, *, dataset: str, job_id: str, source: str, at: datetime
) -> pa.Table:
    """The core's rejections with the columns that say where and when they came from."""
    n = rejected.num_rows
    received_at = pa.array([at] * n, type=pa.timestamp("us", tz="UTC"))
    columns: dict[str, Any] = {
        "dataset": pa.array([dataset] * n, type=pa.string()),
        "job_id": pa.array([job_id] * n, type=pa.string()),
        "received_at": received_at,
        "source": pa.array([source] * n, type=pa.string()),
    }
    # The core defines the dead-letter columns once; the rest come from its rejections.
    schema = data_processor_rs.dead_letter_schema()
    for name in schema.names[len(columns) :]:
        columns[name] = rejected.column(name)
    return pa.Table.from_pydict(columns, schema=schema)


def _write_data_files(
    table: Table, data: ArrowData | pa.Table, settings: LakeSettings
) -> list[DataFile]:
    """Encode in Rust, store through the table's FileIO, describe for the manifest."""
    spec = table.spec()
    schema = table.schema()
    partition_source = partition_name = None
    if spec.fields:
        (partition_field,) = spec.fields
        partition_source = schema.find_column_name(partition_field.source_id)
        partition_name = partition_field.name
    encoded = data_processor_rs.write_iceberg(
        data,
        table.location(),
        field_ids(table),
        file_prefix=f"{uuid.uuid4()}",
        partition_source=partition_source,
        partition_name=partition_name,
        zstd_level=settings.zstd_level,
        threads=settings.encode_threads or os.cpu_count() or 1,
    )
    stats_columns = compute_statistics_plan(schema, table.metadata.properties)
    column_mapping = parquet_path_to_id_mapping(schema)
    data_files = []
    stored: list[str] = []
    for file in encoded:
        stored.append(file.path)  # before writing: a failed write may leave part of it
        try:
            with table.io.new_output(file.path).create(overwrite=False) as stream:
                stream.write(file.data)
        except BaseException:
            # Nothing is committed yet, so no snapshot references these files. Left behind
            # (a partial file is as large as the space that was free), they would hold the
            # space a retry needs: a full disk would stay full as it is freed.
            _delete_paths(table, stored)
            raise
        statistics = data_file_statistics_from_parquet_metadata(
            parquet_metadata=pq.read_metadata(pa.BufferReader(file.data)),
            stats_columns=stats_columns,
            parquet_column_mapping=column_mapping,
        )
        partition = Record() if partition_source is None else Record(file.partition_day)
        data_files.append(
            DataFile.from_args(
                content=DataFileContent.DATA,
                file_path=file.path,
                file_format=FileFormat.PARQUET,
                partition=partition,
                file_size_in_bytes=file.file_size_in_bytes,
                sort_order_id=None,
                spec_id=spec.spec_id,
                equality_ids=None,
                key_metadata=None,
                **statistics.to_serialized_dict(),
            )
        )
    return data_files


def _delete_files(table: Table, files: Sequence[DataFile]) -> None:
    _delete_paths(table, [data_file.file_path for data_file in files])


def _delete_paths(table: Table, paths: Sequence[str]) -> None:
    for path in paths:
        try:
            table.io.delete(path)
        except (FileNotFoundError, OSError) as error:
            log.warning("could not remove unused data file %s: %s", path, error)


def _backoff(attempt: int) -> None:
    """Exponential backoff with full jitter, capped at 2 s."""
    time.sleep(random.uniform(0, min(2.0, 0.02 * 2**attempt)))  # noqa: S311 — backoff jitter, not a secret
