"""PostgreSQL for tests: a throwaway cluster from Debian's packages, started by the tests.

Our rule (as for AWS and Snowflake): the Postgres code paths are tested against a real server,
never a stand-in. ``postgres_server`` starts one cluster per session (initdb into a temp dir,
``pg_ctl`` on a free port, its unix socket in that dir, trust auth, no TCP listener) and
stops it at the end; ``fresh_database`` gives a test its own empty database on it.

A missing or broken PostgreSQL fails the tests that need it, with what to do: never a skip,
or the Postgres path would silently go untested (``make system-packages`` installs it).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.ports import free_port

START_TIMEOUT_S = 60
INSTALL_HINT = "install it with `make system-packages` (as root: apt-get install -y postgresql)"


@dataclass
class PostgresServer:
    """A running cluster, reached through the unix socket in ``directory``."""

    bin_dir: Path
    directory: Path
    port: int
    run_as: list[str]  # the command prefix that runs a server tool as the cluster's owner

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy URL (psycopg 3) for ``database`` on this cluster."""
        return (
            f"postgresql+psycopg://postgres@/{database}"
            f"?host={self.directory / 'socket'}&port={self.port}"
        )

    def stop(self) -> None:
        pg_ctl = str(self.bin_dir / "pg_ctl")
        subprocess.run(
            [*self.run_as, pg_ctl, "stop", "-D", str(self.data_dir), "-m", "immediate", "-w"],
            capture_output=True,
            check=False,
            timeout=60,
        )

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"


def postgres_bin_dir() -> Path:
    """Where Debian keeps the server tools (not on PATH there): the newest installed major."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda path: int(Path(path).parent.name)
    )
    if candidates:
        return Path(candidates[-1])
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).resolve().parent
    pytest.fail(f"PostgreSQL's server tools (initdb, pg_ctl) are not installed: {INSTALL_HINT}")


def start_postgres() -> PostgresServer:
    """initdb + pg_ctl start in a new temp dir; fails the test, with the server's log, if the
    cluster cannot start. PostgreSQL refuses to run as root: as root, the cluster belongs to the
    ``postgres`` user the Debian package creates, and its tools run through ``runuser``."""
    bin_dir = postgres_bin_dir()
    # Not under pytest's tmp dir: that is private to root (0700) and the server runs as postgres.
    directory = Path(tempfile.mkdtemp(prefix="eventlake-pg-"))
    (directory / "socket").mkdir()
    run_as: list[str] = []
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail(f"running as root and there is no `postgres` user: {INSTALL_HINT}")
        for path in (directory, directory / "socket"):
            os.chown(path, owner.pw_uid, owner.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    server = PostgresServer(bin_dir=bin_dir, directory=directory, port=free_port(), run_as=run_as)
    log = directory / "server.log"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*run_as, *args],
            cwd=directory,
            capture_output=True,
            text=True,
            check=False,
            timeout=START_TIMEOUT_S + 30,
        )

    initdb = run(
        str(bin_dir / "initdb"), "-D", str(server.data_dir), "-U", "postgres",
        "--auth=trust", "--encoding=UTF8", "--no-sync",
    )  # fmt: skip
    if initdb.returncode != 0:
        shutil.rmtree(directory, ignore_errors=True)
        pytest.fail(f"initdb failed ({INSTALL_HINT}):\n{initdb.stdout}{initdb.stderr}")
    # Only the unix socket: nothing else on the machine can reach (or collide with) this server.
    options = (
        f"-p {server.port} -k {directory / 'socket'} -c listen_addresses='' -c fsync=off"
        " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    start = run(
        str(bin_dir / "pg_ctl"), "start", "-D", str(server.data_dir), "-l", str(log),
        "-o", options, "-w", "-t", str(START_TIMEOUT_S),
    )  # fmt: skip
    if start.returncode != 0:
        text = log.read_text() if log.exists() else ""
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start:\n{start.stdout}{start.stderr}\n{text}")
    return server


def create_database(server: PostgresServer) -> str:
    """A new empty database on ``server``; returns its URL."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(server.url(), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return server.url(name)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL cluster per test session (per xdist worker)."""
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.directory, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A SQLAlchemy URL to an empty database of this test's own."""
    return create_database(postgres_server)
