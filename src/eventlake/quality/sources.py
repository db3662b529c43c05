"""Where the gates' data comes from: warehouse tables as pandas frames, and the lake's count.

Great Expectations cannot run SQL checks on DuckDB, so every table is read into pandas and
validated there. The reading sits behind :class:`Warehouse` (one method, ``read_table``) so the
production target (Snowflake) can be plugged in next to DuckDB. The lake is read through
pyiceberg, not through dbt's views of it, so the reconciliation does not trust what it checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol, TypeAlias

import duckdb
import pandas as pd  # type: ignore[import-untyped]  # pandas-stubs is not in the environment

from eventlake.config import Settings

Frame: TypeAlias = pd.DataFrame


class QualityError(RuntimeError):
    """The gates could not run (no warehouse, a missing table, an unreadable lake)."""


class WarehouseNotSupportedError(QualityError, NotImplementedError):
    pass


class Warehouse(Protocol):
    """The warehouse the gates read: a whole table as a DataFrame, typed as declared."""

    description: str

    def read_table(self, schema: str, table: str) -> pd.DataFrame: ...

    def close(self) -> None: ...


class DuckDBWarehouse:
    """The local target: the DuckDB file dbt builds, opened read-only, timestamps in UTC."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = f"DuckDB {path}"
        if not path.is_file():
            raise QualityError(
                f"no warehouse at {path}: build it first (dbt build, or the pipeline's "
                "transform step)"
            )
        try:
            self._connection = duckdb.connect(str(path), read_only=True)
        except duckdb.Error as exc:  # e.g. dbt holds the write lock
            raise QualityError(f"cannot open the warehouse {path}: {exc}") from exc
        self._connection.execute("SET TimeZone = 'UTC'")

    def read_table(self, schema: str, table: str) -> pd.DataFrame:
        name = f'"{schema}"."{table}"'
        try:
            return self._connection.sql(f"SELECT * FROM {name}").df()
        except duckdb.CatalogException:
            raise QualityError(
                f"the warehouse {self.path} has no table {schema}.{table}: has dbt built it?"
            ) from None
        except duckdb.Error as exc:
            raise QualityError(f"cannot read {schema}.{table} from {self.path}: {exc}") from exc

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> DuckDBWarehouse:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def open_warehouse(settings: Settings) -> Warehouse:
    """The warehouse of ``settings.warehouse.target``."""
    if settings.warehouse.target == "local":
        return DuckDBWarehouse(settings.duckdb_path)
    raise WarehouseNotSupportedError(
        f"the quality gates cannot read the {settings.warehouse.target!r} warehouse "
        "(Snowflake) yet; run them against the local target (EVENTLAKE_WAREHOUSE__TARGET=local)"
    )


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
