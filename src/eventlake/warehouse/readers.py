"""Reading the warehouse dbt builds: DuckDB on the ``local`` target, Snowflake on ``prod``.

The dashboard and the quality gates read the star schema through one small interface,
:class:`WarehouseReader`: ``query(sql, params)`` gives a pandas DataFrame with lower-case
column names, whichever warehouse answers. The SQL they send is written once, in the subset
both dialects share (``count_if``, ``max_by``, ``any_value``, ``?`` parameters, explicit
``group by``), and tests run the same queries on both: DuckDB, and Snowflake's wire protocol
served by fakesnow.

Both readers give the same pandas types for the same declared column types (what the gates'
type expectations check): DuckDB's own conversion, and for Snowflake the conversion below from
the result's column metadata (NUMBER with scale 0 → int64, or Int64 with nulls; FLOAT →
float64; TEXT → str; DATE and TIMESTAMP_NTZ → datetime64; TIMESTAMP_TZ/LTZ → tz-aware UTC,
which the gates reject as DuckDB's TIMESTAMPTZ; BOOLEAN → bool, or boolean with nulls).

Connections: DuckDB's file is opened read-only for each query, or once for a ``with`` block
(the gates read every table from one connection), and never held between queries otherwise:
dbt writes the same file and would wait on the lock. A Snowflake connection is opened on the
first query and kept (opening one takes a round trip or two); it reconnects once when the
session has expired.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

import duckdb
import pandas as pd  # type: ignore[import-untyped]  # pandas-stubs is not in the environment
from pydantic import ValidationError

from eventlake.closing import ClosesOnExit
from eventlake.config import Settings, SnowflakeSettings
from eventlake.errors import EventlakeError


class WarehouseError(EventlakeError, RuntimeError):
    """The warehouse could not answer."""


class WarehouseMissingError(WarehouseError):
    """No warehouse yet (no file, or the tables not built): nothing to read until a run."""

    def __init__(self, where: str, missing: Sequence[str]) -> None:
        self.where = where
        self.missing = tuple(missing)
        super().__init__(f"{where}: missing {', '.join(self.missing)}")


class WarehouseBusyError(WarehouseError):
    """The DuckDB file is locked by a writer (a dbt build in progress): try again shortly."""

    transient = True


class WarehouseUnavailableError(WarehouseError):
    """The warehouse refused the connection or the query (credentials, network, SQL)."""


class WarehouseReader(Protocol):
    description: str

    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame: ...

    def table_names(self, schema: str) -> set[str]:
        """The tables and views of ``schema``, lower case."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> WarehouseReader: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...


class DuckDBReader(ClosesOnExit):
    """The local target's file, read-only, in UTC (a TIMESTAMPTZ never shifts zone)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = f"DuckDB {path}"
        self._held: duckdb.DuckDBPyConnection | None = None

    def __enter__(self) -> Self:
        self._held = self._connect()
        return self

    def close(self) -> None:
        if self._held is not None:
            self._held.close()
            self._held = None

    def _connect(self) -> duckdb.DuckDBPyConnection:
        if not self.path.is_file():
            raise WarehouseMissingError(str(self.path), [self.path.name])
        try:
            connection = duckdb.connect(str(self.path), read_only=True)
        except duckdb.IOException as error:
            raise WarehouseBusyError(f"the warehouse is locked by a writer: {error}") from error
        except duckdb.Error as error:
            raise WarehouseUnavailableError(f"cannot open {self.path}: {error}") from error
        connection.execute("SET TimeZone = 'UTC'")
        return connection

    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        connection = self._held or self._connect()
        try:
            frame: pd.DataFrame = connection.execute(sql, list(params)).df()
        except duckdb.CatalogException as error:
            raise WarehouseMissingError(str(self.path), [str(error).splitlines()[0]]) from error
        except duckdb.Error as error:
            raise WarehouseUnavailableError(f"{self.description}: {error}") from error
        finally:
            if connection is not self._held:
                connection.close()
        frame.columns = [str(name).lower() for name in frame.columns]
        return frame

    def table_names(self, schema: str) -> set[str]:
        if not self.path.is_file():
            return set()
        found = self.query(
            "select table_name from information_schema.tables where table_schema = ?", [schema]
        )
        return {str(name).lower() for name in found["table_name"]}


# Snowflake result column type codes (snowflake.connector.constants.FIELD_ID_TO_NAME).
_FIXED, _REAL, _TEXT, _DATE, _TIMESTAMP = 0, 1, 2, 3, 4
_TIMESTAMP_LTZ, _TIMESTAMP_TZ, _TIMESTAMP_NTZ, _BOOLEAN = 6, 7, 8, 13


class SnowflakeReader(ClosesOnExit):
    """The prod target's database, through snowflake-connector-python (``?`` parameters)."""

    def __init__(self, settings: SnowflakeSettings) -> None:
        self.settings = settings
        self.description = f"Snowflake {settings.account}/{settings.database}"
        self._connection: Any = None

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _connect(self) -> Any:
        import snowflake.connector  # only the prod target needs it (and its import is slow)

        options: dict[str, Any] = {
            "account": self.settings.account,
            "user": self.settings.user,
            "password": self.settings.password.get_secret_value(),
            "role": self.settings.role,
            "warehouse": self.settings.warehouse,
            "database": self.settings.database,
            "paramstyle": "qmark",
            "timezone": "UTC",
            "login_timeout": self.settings.login_timeout,
            "client_session_keep_alive": False,
        }
        if self.settings.host:
            options.update(
                host=self.settings.host, port=self.settings.port, protocol=self.settings.protocol
            )
        try:
            return snowflake.connector.connect(**options)
        except snowflake.connector.Error as error:
            # The connector's message names the account and the reason, never the password.
            raise WarehouseUnavailableError(
                f"cannot connect to {self.description}: {error}"
            ) from error

    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        import snowflake.connector

        for attempt in (1, 2):
            if self._connection is None or self._connection.is_closed():
                self._connection = self._connect()
            try:
                with self._connection.cursor() as cursor:
                    cursor.execute(sql, list(params))
                    rows = cursor.fetchall()
                    description = cursor.description
                break
            except snowflake.connector.errors.ProgrammingError as error:
                # 002003: the object does not exist (or is not authorized): not built yet.
                if getattr(error, "errno", None) == 2003:
                    raise WarehouseMissingError(self.description, [str(error.msg)]) from error
                raise WarehouseUnavailableError(f"{self.description}: {error}") from error
            except (snowflake.connector.errors.DatabaseError, OSError) as error:
                # An expired session or a dropped connection: open a new one, once.
                self.close()
                if attempt == 2:
                    raise WarehouseUnavailableError(f"{self.description}: {error}") from error
        return _typed_frame(rows, description)

    def table_names(self, schema: str) -> set[str]:
        found = self.query(
            "select table_name from information_schema.tables where table_schema = ?",
            [schema.upper()],
        )
        return {str(name).lower() for name in found["table_name"]}


def _typed_frame(rows: list[tuple[Any, ...]], description: Sequence[Any]) -> pd.DataFrame:
    """Rows as DuckDB's ``.df()`` would give them for the same declared types (module doc)."""
    names = [str(column.name).lower() for column in description]
    frame = pd.DataFrame.from_records(rows, columns=names, coerce_float=False)
    for name, column in zip(names, description, strict=True):
        values = frame[name]
        code = column.type_code
        if code == _FIXED and not column.scale:
            frame[name] = values.astype("Int64" if values.isna().any() else "int64")
        elif code in (_FIXED, _REAL):
            frame[name] = pd.to_numeric(values, errors="coerce").astype("float64")
        elif code == _TEXT:
            frame[name] = values.astype("str").where(values.notna(), None)
        elif code in (_DATE, _TIMESTAMP, _TIMESTAMP_NTZ):
            frame[name] = pd.to_datetime(values).astype("datetime64[us]")
        elif code in (_TIMESTAMP_TZ, _TIMESTAMP_LTZ):
            frame[name] = pd.to_datetime(values, utc=True).astype("datetime64[us, UTC]")
        elif code == _BOOLEAN:
            frame[name] = values.astype("boolean" if values.isna().any() else "bool")
    return frame


def open_reader(settings: Settings) -> WarehouseReader:
    """The reader of ``settings.warehouse.target``: DuckDB (local) or Snowflake (prod)."""
    if settings.warehouse.target == "local":
        return DuckDBReader(settings.duckdb_path)
    try:
        snowflake = SnowflakeSettings()  # its fields come from SNOWFLAKE_*
    except ValidationError as error:
        # Only the names: pydantic's message would echo the values, the password among them.
        wrong = sorted({f"SNOWFLAKE_{str(e['loc'][0]).upper()}" for e in error.errors()})
        raise WarehouseUnavailableError(
            f"the prod target reads Snowflake: set {', '.join(wrong)} "
            "(the variables the dbt project's profiles.yml reads)"
        ) from None
    return SnowflakeReader(snowflake)
