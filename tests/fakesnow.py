"""Snowflake for tests: fakesnow's server, spoken to over Snowflake's HTTP protocol.

fakesnow (``fakesnow -s``) answers snowflake-connector-python as Snowflake would, translating
Snowflake SQL to DuckDB with sqlglot. Like moto for AWS (tests/aws.py), it is a real server
process on a loopback port, reached through the real connector: the code under test cannot
tell it from an account, except where fakesnow's emulation differs (documented where a test
depends on it). One server's databases live in its memory, shared by every connection.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from eventlake.config import SnowflakeSettings
from tests.ports import free_port

BIN = Path(sys.executable).parent
START_TIMEOUT_S = 30.0
DATABASE = "EVENTLAKE"
# fakesnow returns a NULL timestamp as 1970-01-01 00:00 over its server protocol (the value in
# its database is NULL: `is null` is true). Tests comparing frames read this as NULL.
FAKESNOW_NULL_TIMESTAMP = datetime(1970, 1, 1)

# DuckDB column types → the Snowflake types dbt gives the same columns (02_marts.sql).
SNOWFLAKE_TYPES = {
    "VARCHAR": "varchar",
    "TIMESTAMP": "timestamp_ntz",
    "TIMESTAMP WITH TIME ZONE": "timestamp_tz",
    "DATE": "date",
    "DOUBLE": "float",
    "BIGINT": "number(38, 0)",
    "INTEGER": "number(38, 0)",
    "BOOLEAN": "boolean",
}


def statements(script: str) -> list[str]:
    """The statements of a script without `--` comments (no string here holds `--` or `;`)."""
    script = re.sub(r"--[^\n]*", "", script)
    return [s.strip() for s in script.split(";") if s.strip()]


@dataclass
class FakesnowServer:
    """A running ``fakesnow -s`` on a loopback port."""

    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def stop(self) -> None:
        # After some failures the server stops answering but keeps running: stop it by PID.
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def env(self, database: str = DATABASE) -> dict[str, str]:
        """The SNOWFLAKE_* variables that point dbt's prod profile and the readers here."""
        return {
            "SNOWFLAKE_ACCOUNT": "fakesnow",
            "SNOWFLAKE_USER": "fake",
            "SNOWFLAKE_PASSWORD": "snow",
            "SNOWFLAKE_DATABASE": database,
            "SNOWFLAKE_HOST": "127.0.0.1",
            "SNOWFLAKE_PORT": str(self.port),
            "SNOWFLAKE_PROTOCOL": "http",
        }

    def settings(self, database: str = DATABASE) -> SnowflakeSettings:
        return SnowflakeSettings.model_validate(
            {key.removeprefix("SNOWFLAKE_").lower(): v for key, v in self.env(database).items()}
        )

    def connect(self, schema: str | None = None, database: str = DATABASE) -> Any:
        import snowflake.connector

        return snowflake.connector.connect(
            account="fakesnow",
            user="fake",
            password="snow",  # noqa: S106 — a fixture's fake secret
            host="127.0.0.1",
            port=self.port,
            protocol="http",
            database=database,
            schema=schema,
            paramstyle="qmark",
        )

    def execute(self, script: str) -> None:
        with self.connect() as conn, conn.cursor() as cursor:
            for statement in statements(script):
                cursor.execute(statement)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with self.connect() as conn, conn.cursor() as cursor:
            cursor.execute(sql)
            return [tuple(row) for row in cursor.fetchall()]

    def columns(self, schema: str, table: str) -> list[str]:
        rows = self.query(
            "select column_name from information_schema.columns "  # noqa: S608 — the test's own table names
            f"where table_schema = '{schema.upper()}' and table_name = '{table.upper()}' "
            "order by ordinal_position"
        )
        return [str(name).lower() for (name,) in rows]

    def copy_from_duckdb(self, path: Path, tables: Iterable[str], database: str) -> None:
        """Recreate ``schema.table`` of the DuckDB file in ``database``: same columns, the
        Snowflake types dbt would give them, the same rows."""
        self.execute(f"create database if not exists {database}")
        with (
            duckdb.connect(str(path), read_only=True) as source,
            self.connect(database=database) as conn,
        ):
            source.execute("SET TimeZone = 'UTC'")
            cursor = conn.cursor()
            for qualified in tables:
                schema = qualified.split(".")[0]
                described = source.execute(f"describe {qualified}").fetchall()
                columns = ", ".join(
                    f"{name} {SNOWFLAKE_TYPES[kind]}" for name, kind, *_ in described
                )
                cursor.execute(f"create schema if not exists {database}.{schema}")
                cursor.execute(f"create or replace table {database}.{qualified} ({columns})")
                # Times go as ISO text (Snowflake casts it on insert): fakesnow misreads the
                # connector's binding of a datetime (epoch nanoseconds).
                rows = [
                    tuple(v.isoformat() if isinstance(v, date) else v for v in row)
                    for row in source.execute(f"select * from {qualified}").fetchall()  # noqa: S608 — the test's own table names
                ]
                if rows:
                    marks = ", ".join("?" * len(described))
                    cursor.executemany(f"insert into {database}.{qualified} values ({marks})", rows)  # noqa: S608 — the test's own table names


def start_fakesnow(log_path: Path, timeout_s: float = START_TIMEOUT_S) -> FakesnowServer:
    """Start fakesnow's server on a free port and wait until it accepts connections.

    Raises ``RuntimeError`` naming the log if it exits or does not listen in time."""
    port = free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(BIN / "fakesnow"), "-s", "-p", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = FakesnowServer(port=port, process=process, log_path=log_path)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        except OSError:
            time.sleep(0.1)
            continue
        server.execute(f"create database if not exists {DATABASE}")
        return server
    server.stop()
    raise RuntimeError(f"fakesnow did not start on port {port}: see {log_path}")
