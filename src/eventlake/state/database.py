"""The connection every part of the state store shares: one SQLAlchemy engine, the tables
created on open, disposed on close (or at the end of a ``with`` block).

``create_tables`` is also how the lake creates the Iceberg SQL catalog's tables: several
processes opening a fresh database at once must not trip over each other (see there)."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from eventlake.closing import ClosesOnExit
from eventlake.state.schema import UPSERTS, metadata

# The key of the PostgreSQL advisory lock under which eventlake creates tables ("eventlak").
SCHEMA_LOCK = 0x6576_656E_746C_616B
# ``check`` fails with less free space than this on a SQLite database's disk.
MIN_FREE_BYTES = 1_048_576


def create_tables(engine: Engine, tables: sa.MetaData) -> None:
    """Create what is missing of ``tables``, also when several processes open a fresh database
    at the same moment (a deploy starts the API and the consumers together).

    ``create_all`` looks, then creates: two processes both see no table, and the second
    CREATE fails (PostgreSQL: a duplicate key in ``pg_type``, or "already exists"). On
    PostgreSQL the look and the creation run in one transaction under an advisory lock, one
    process after the other; DDL is transactional there, so the next one finds the tables
    made. On SQLite a loser looks again: each "already exists" means one more table is made,
    so this ends."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(SCHEMA_LOCK)))
            tables.create_all(connection)
        return
    for _ in range(len(tables.tables)):
        try:
            tables.create_all(engine)
            return
        except OperationalError as error:
            if "already exists" not in str(error):
                raise
    tables.create_all(engine)


# How long a SQLite writer waits for another's write transaction before "database is
# locked": long enough for the consumers and the pipeline, which retry a failed step anyway
# but have nobody waiting on them. The API waits less (``api.state_busy_timeout_seconds``).
BUSY_TIMEOUT_SECONDS = 30.0


def _sqlite_pragmas(busy_timeout_seconds: float) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={round(busy_timeout_seconds * 1000)}")
        cursor.close()

    return on_connect


# Set on every SQLAlchemy error raised through a state store's engine: the database's URL,
# password hidden. A service that meets a database error can say which database it waits for
# (the lake's SQL catalog raises the same errors).
STATE_DATABASE_ATTRIBUTE = "eventlake_state_database"


def state_database_of(error: BaseException) -> str | None:
    """The URL (password hidden) of the job state database ``error`` came from, if it did."""
    found = getattr(error, STATE_DATABASE_ATTRIBUTE, None)
    return found if isinstance(found, str) else None


def driver_message(error: BaseException) -> str:
    """The first line of the database driver's message for ``error`` ("" when it has none).
    SQLAlchemy's own text adds the statement and its parameters, which may quote a request's
    records: what is logged or answered says only what the driver said."""
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else ""


def _name_the_database(shown_url: str) -> Callable[[Any], None]:
    def on_error(context: Any) -> None:
        setattr(context.sqlalchemy_exception, STATE_DATABASE_ATTRIBUTE, shown_url)

    return on_error


class Database(ClosesOnExit):
    """An open state database. The parts of the store (jobs, idempotency keys, progress,
    metrics) are mixins over this class; each extends ``__init__`` with what it prepares.

    ``busy_timeout_seconds`` (SQLite): how long a write waits for another connection's write
    transaction (a long one elsewhere, a backup, a lock held by hand) before it fails with
    "database is locked" (an ``OperationalError``)."""

    def __init__(self, url: str, *, busy_timeout_seconds: float = BUSY_TIMEOUT_SECONDS) -> None:
        self.url = url
        if url.startswith("sqlite"):
            # A connection per request thread, kept: opening one runs the PRAGMAs again.
            self.engine: Engine = sa.create_engine(
                url,
                connect_args={"timeout": busy_timeout_seconds},
                pool_size=32,
                max_overflow=32,
            )
            sa.event.listen(self.engine, "connect", _sqlite_pragmas(busy_timeout_seconds))
        else:
            self.engine = sa.create_engine(url, pool_pre_ping=True)
        sa.event.listen(
            self.engine,
            "handle_error",
            _name_the_database(self.engine.url.render_as_string(hide_password=True)),
        )
        self.dialect = self.engine.dialect.name
        if self.dialect not in UPSERTS:
            raise ValueError(f"the job state needs SQLite or Postgres, not {self.dialect}")
        create_tables(self.engine, metadata)

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        with self.engine.begin() as connection:
            yield connection

    def check(self) -> None:
        """The database answers; on SQLite, its disk also has room to write (a full disk still
        answers reads, but refuses every claim, job row and lease renewal)."""
        with self.engine.connect() as connection:
            connection.execute(sa.select(1))
        path = self.engine.url.database if self.dialect == "sqlite" else None
        if path and path != ":memory:":
            disk = os.statvfs(Path(path).resolve().parent)
            free = disk.f_bavail * disk.f_frsize
            if free < MIN_FREE_BYTES:
                raise OSError(errno.ENOSPC, f"the disk of {path} is full ({free:,} bytes free)")

    def close(self) -> None:
        self.engine.dispose()
