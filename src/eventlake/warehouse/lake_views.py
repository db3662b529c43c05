"""DuckDB views over the lake's Iceberg tables, for dbt's `local` target and local readers.

DuckDB's own `iceberg` extension cannot be installed offline, and globbing a table's Parquet
files is wrong (files a compaction or delete replaced stay on disk until they expire). So
pyiceberg, through the same catalog the consumer commits to, lists the data files of each
table's current snapshot, and a view reads exactly those. Nothing is copied.

Each view carries `_lake_sequence`: the Iceberg data sequence number of the commit that added
the row's file (one `read_parquet` per sequence number, in a UNION ALL). Next to each view,
`lake.<table>__files` lists the files with their sequence numbers: an incremental model reads
only the files committed after its watermark (the dbt macro `lake_increment`), without opening
the older ones at all, which a filter on the view cannot promise (DuckDB binds every file of a
view it reads).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import duckdb
from pyiceberg.manifest import DataFileContent, ManifestContent
from pyiceberg.table import Table
from pyiceberg.types import (
    BooleanType,
    DateType,
    DoubleType,
    IcebergType,
    LongType,
    StringType,
    TimestampType,
    TimestamptzType,
)

from eventlake.config import Settings
from eventlake.contracts import DATASETS, load_contract
from eventlake.errors import EventlakeError
from eventlake.lake.writer import DEAD_LETTER_TABLE, Lake

LAKE_SCHEMA = "lake"
LAKE_TABLES = (*DATASETS, DEAD_LETTER_TABLE)

_DUCKDB_TYPES: dict[type[IcebergType], str] = {
    StringType: "VARCHAR",
    LongType: "BIGINT",
    DoubleType: "DOUBLE",
    BooleanType: "BOOLEAN",
    DateType: "DATE",
    TimestampType: "TIMESTAMP",
    TimestamptzType: "TIMESTAMPTZ",
}


class LakeReadError(EventlakeError, RuntimeError):
    """The lake cannot be read as plain Parquet (for example, it has row-level deletes)."""


@dataclass(frozen=True)
class LakeView:
    table: str
    snapshot_id: int | None
    files: int
    sequences: int


def current_files(table: Table) -> dict[int, list[str]]:
    """The current snapshot's live data files, grouped by data sequence number."""
    snapshot = table.current_snapshot()
    by_sequence: dict[int, list[str]] = defaultdict(list)
    if snapshot is None:
        return by_sequence
    for manifest in snapshot.manifests(table.io):
        if manifest.content != ManifestContent.DATA:
            raise LakeReadError(
                f"table {table.name()} has delete files (row-level deletes), which this "
                "reader does not apply; rewrite its data files without deletes first"
            )
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
            if entry.data_file.content != DataFileContent.DATA:
                raise LakeReadError(f"table {table.name()} has delete files")
            sequence = entry.sequence_number
            if sequence is None:  # v1 tables: every file belongs to sequence 0
                sequence = 0
            by_sequence[sequence].append(entry.data_file.file_path)
    return by_sequence


def _quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _local_or_remote(path: str) -> str:
    # DuckDB reads local paths; pyiceberg records file:// URIs for the local warehouse.
    return path.removeprefix("file://")


def view_sql(table: Table, name: str) -> tuple[str, LakeView]:
    """`CREATE OR REPLACE VIEW lake.<name>` reading exactly the current snapshot's files."""
    fields = table.schema().fields
    by_sequence = current_files(table)
    target = f"{LAKE_SCHEMA}.{_quote_identifier(name)}"
    if not by_sequence:
        # An empty table: typed columns and no rows, so downstream models still compile.
        columns = ", ".join(
            f"CAST(NULL AS {_DUCKDB_TYPES[type(f.field_type)]}) AS {_quote_identifier(f.name)}"
            for f in fields
        )
        body = f"SELECT {columns}, CAST(NULL AS BIGINT) AS _lake_sequence WHERE false"
    else:
        # Columns by name, cast to the table's current types: old files written before a
        # column was added read it as NULL (union_by_name), as Iceberg promises.
        projection = ", ".join(
            f"CAST({_quote_identifier(f.name)} AS {_DUCKDB_TYPES[type(f.field_type)]}) "
            f"AS {_quote_identifier(f.name)}"
            for f in fields
        )
        branches = []
        for sequence, paths in sorted(by_sequence.items()):
            listed = ", ".join(_quote_literal(_local_or_remote(p)) for p in sorted(paths))
            branches.append(
                f"SELECT {projection}, CAST({sequence} AS BIGINT) AS _lake_sequence "  # noqa: S608 — identifiers quoted by _quote_identifier, paths by _quote_literal
                f"FROM read_parquet([{listed}], union_by_name = true)"
            )
        body = "\nUNION ALL\n".join(branches)
    snapshot = table.current_snapshot()
    view = LakeView(
        table=name,
        snapshot_id=snapshot.snapshot_id if snapshot else None,
        files=sum(len(p) for p in by_sequence.values()),
        sequences=len(by_sequence),
    )
    return f"CREATE OR REPLACE VIEW {target} AS\n{body}", view


def refresh_lake_views(connection: duckdb.DuckDBPyConnection, settings: Settings) -> list[LakeView]:
    """(Re)create `lake.events`, `lake.users`, `lake.products`, `lake.events_rejected`.

    A dataset the lake has not seen yet gets its (empty) table created from its contract, as
    the consumer would, so a fresh clone's dbt project builds before the first event.
    """
    lake = Lake(settings)
    for dataset in DATASETS:
        lake.ensure_dataset(load_contract(dataset))
    lake.ensure_dead_letter()
    connection.execute(f"CREATE SCHEMA IF NOT EXISTS {LAKE_SCHEMA}")
    views = []
    for name in LAKE_TABLES:
        table = lake.table(name)
        sql, view = view_sql(table, name)
        connection.execute(sql)
        _write_file_list(connection, name, current_files(table))
        views.append(view)
    return views


def _write_file_list(
    connection: duckdb.DuckDBPyConnection, name: str, by_sequence: dict[int, list[str]]
) -> None:
    target = f"{LAKE_SCHEMA}.{_quote_identifier(name + '__files')}"
    connection.execute(
        f"CREATE OR REPLACE TABLE {target} (file_path VARCHAR NOT NULL, "
        "sequence_number BIGINT NOT NULL)"
    )
    rows = [
        (_local_or_remote(path), sequence)
        for sequence, paths in by_sequence.items()
        for path in paths
    ]
    if rows:
        connection.executemany(f"INSERT INTO {target} VALUES (?, ?)", rows)  # noqa: S608 — our table name; values are parameters
