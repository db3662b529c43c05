"""Where the gates' data comes from: warehouse tables as pandas frames, and the lake's count.

Great Expectations cannot run SQL checks on DuckDB, so every table is read into pandas and
validated there, on either target: :mod:`eventlake.warehouse.readers` reads DuckDB (local) or
Snowflake (prod) and gives the same pandas types for the same declared column types, so the
suites are the same on both. The lake is read through pyiceberg, not through dbt's views of it,
so the reconciliation does not trust what it checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, TypeAlias

import pandas as pd  # type: ignore[import-untyped]  # pandas-stubs is not in the environment

from eventlake.closing import ClosesOnExit
from eventlake.config import Settings
from eventlake.errors import EventlakeError
from eventlake.warehouse.readers import (
    DuckDBReader,
    WarehouseError,
    WarehouseMissingError,
    WarehouseReader,
    open_reader,
)

Frame: TypeAlias = pd.DataFrame


class QualityError(EventlakeError, RuntimeError):
    """The gates could not run (no warehouse, a missing table, an unreadable lake)."""


class Warehouse(Protocol):
    """The warehouse the gates read: a whole table as a DataFrame, typed as declared."""

    description: str

    def read_table(self, schema: str, table: str) -> pd.DataFrame: ...

    def close(self) -> None: ...


class ReaderWarehouse(ClosesOnExit):
    """Whole tables through a warehouse reader, one connection for all of them (so every
    table is read from the same DuckDB file, not one rebuilt half-way)."""

    def __init__(self, reader: WarehouseReader) -> None:
        self.reader = reader
        self.description = reader.description
        if isinstance(reader, DuckDBReader) and not reader.path.is_file():
            raise QualityError(
                f"no warehouse at {reader.path}: build it first (dbt build, or the pipeline's "
                "transform step)"
            )
        try:
            reader.__enter__()
        except WarehouseError as error:
            raise QualityError(f"cannot open the warehouse: {error}") from error

    def read_table(self, schema: str, table: str) -> pd.DataFrame:
        try:
            return self.reader.query(f"select * from {schema}.{table}")  # noqa: S608 — schema and table names come from the suites' definitions
        except WarehouseMissingError:
            raise QualityError(
                f"the warehouse ({self.description}) has no table {schema}.{table}: "
                "has dbt built it?"
            ) from None
        except WarehouseError as error:
            raise QualityError(f"cannot read {schema}.{table}: {error}") from error

    def close(self) -> None:
        self.reader.close()


def open_warehouse(settings: Settings) -> ReaderWarehouse:
    """The warehouse of ``settings.warehouse.target``: DuckDB (local) or Snowflake (prod)."""
    try:
        reader = open_reader(settings)
    except WarehouseError as error:
        raise QualityError(str(error)) from error
    return ReaderWarehouse(reader)


@dataclass(frozen=True)
class LakeCount:
    """The lake's events table at its current snapshot."""

    events: int  # distinct event_id
    rows: int
    snapshot_id: int | None


def count_lake_events(settings: Settings) -> LakeCount:
    """Distinct event ids in the lake's current ``events`` snapshot (0 before the first)."""
    # Imported here: pyiceberg's catalog is only needed by this check.
    import pyarrow.compute as pc
    from pyiceberg.exceptions import NoSuchTableError

    from eventlake.lake.writer import Lake

    try:
        lake = Lake(settings)
        try:
            table = lake.table("events")
        except NoSuchTableError:
            return LakeCount(events=0, rows=0, snapshot_id=None)
        snapshot = table.current_snapshot()
        if snapshot is None:
            return LakeCount(events=0, rows=0, snapshot_id=None)
        ids = (
            table.scan(snapshot_id=snapshot.snapshot_id, selected_fields=("event_id",))
            .to_arrow()
            .column("event_id")
        )
    except (OSError, ValueError) as exc:
        raise QualityError(f"cannot count the lake's events: {exc}") from exc
    return LakeCount(
        events=int(pc.count_distinct(ids).as_py()),
        rows=len(ids),
        snapshot_id=snapshot.snapshot_id,
    )


def references_frame(
    facts: pd.DataFrame, users: pd.DataFrame, products: pd.DataFrame
) -> pd.DataFrame:
    """Fact keys with, per row, the ``user_sk``/``product_sk`` no dimension row has (else null).

    A null key is not an orphan here: the fact suite's not-null expectation reports it."""
    frame = pd.DataFrame(
        {name: _column(facts, name) for name in ("event_sk", "user_sk", "product_sk")}
    )
    frame["orphan_user_sk"] = frame["user_sk"].where(
        _orphans(frame["user_sk"], _column(users, "user_sk"))
    )
    frame["orphan_product_sk"] = frame["product_sk"].where(
        _orphans(frame["product_sk"], _column(products, "product_sk"))
    )
    return frame


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    """A column, or nulls when it is missing (the table's own suite reports that)."""
    if name in frame.columns:
        return frame[name].reset_index(drop=True)
    return pd.Series([None] * len(frame), dtype="str")


def _orphans(keys: pd.Series, known: pd.Series) -> pd.Series:
    return keys.notna() & ~keys.isin(known.dropna())


def reconciliation_frame(lake: LakeCount, facts: pd.DataFrame) -> pd.DataFrame:
    """One row: what landed in the lake next to what the fact table holds."""
    return pd.DataFrame(
        {
            "lake_events": [lake.events],
            "lake_rows": [lake.rows],
            "lake_snapshot_id": [str(lake.snapshot_id) if lake.snapshot_id is not None else None],
            "fact_rows": [len(facts)],
            "fact_event_ids": [int(_column(facts, "event_id").nunique())],
        }
    )
