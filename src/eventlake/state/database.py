"""The connection every part of the state store shares: one SQLAlchemy engine, the tables
created on open, disposed on close (or at the end of a ``with`` block)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from eventlake.closing import ClosesOnExit
from eventlake.state.schema import UPSERTS, metadata


def _enable_sqlite_wal(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class Database(ClosesOnExit):
    """An open state database. The parts of the store (jobs, idempotency keys, progress,
    metrics) are mixins over this class; each extends ``__init__`` with what it prepares."""

    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith("sqlite"):
            # A connection per request thread, kept: opening one runs the PRAGMAs again.
            self.engine: Engine = sa.create_engine(
                url, connect_args={"timeout": 30}, pool_size=32, max_overflow=32
            )
            sa.event.listen(self.engine, "connect", _enable_sqlite_wal)
        else:
            self.engine = sa.create_engine(url, pool_pre_ping=True)
        self.dialect = self.engine.dialect.name
        if self.dialect not in UPSERTS:
            raise ValueError(f"the job state needs SQLite or Postgres, not {self.dialect}")
        metadata.create_all(self.engine)

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        with self.engine.begin() as connection:
            yield connection

    def check(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(sa.select(1))

    def close(self) -> None:
        self.engine.dispose()
