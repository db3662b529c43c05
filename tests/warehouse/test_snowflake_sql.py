"""The dbt project's Snowflake SQL (the `prod` target), run against fakesnow.

fakesnow is a Snowflake emulator: it speaks Snowflake's wire protocol, translates Snowflake SQL
to DuckDB with sqlglot and runs it there. So this proves that dbt-snowflake and the project's
Snowflake branches (macros/cross_database.sql) produce SQL that parses and gives the right rows
under Snowflake's semantics as fakesnow models them; it does not prove a real account accepts
it (permissions, Iceberg tables, warehouse behaviour).
src/eventlake/resources/dbt_project/snowflake/README.md says what was and was not checked.

One story, run once for the module (each dbt command costs 10-25 s, mostly imports):

A. the LAKE schema holds a small lake (two users, two products, three events); the first
   `dbt build --target prod` passes and builds the star schema;
B. the lake gets a rename of one user and two more events; an incremental build (without the
   snapshot, see C) stages and loads exactly the new events, re-reading the lookback window
   without doubling a row;
C. the second snapshot run, which would give the renamed user its second version: fakesnow
   cannot run it. dbt-snowflake's snapshot stages its changes in a TEMPORARY table named with
   database and schema, which fakesnow refuses ("TEMPORARY table names can *only* use the
   "temp" catalog"); with that worked around, fakesnow's emulation of the snapshot's MERGE
   fails ("Ambiguous reference to column name"). The test runs it and is marked xfail with
   that reason while fakesnow fails that way; when fakesnow can, the same test checks the two
   versions and that every event points at the version valid at its time.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from eventlake.warehouse.dbt_runner import DBT_PROJECT_DIR
from tests.fakesnow import FakesnowServer, start_fakesnow

pytestmark = pytest.mark.slow

DBT_PROJECT = DBT_PROJECT_DIR
MARTS_DDL = DBT_PROJECT / "snowflake" / "02_marts.sql"
BIN = Path(sys.executable).parent
DBT_TIMEOUT_S = 240
# The fakesnow failure of the second snapshot run (C in the module docstring).
FAKESNOW_SNAPSHOT_FAILURE = re.compile(
    r"TEMPORARY table names can \*only\* use the \"temp\" catalog"
    r"|Ambiguous reference to column name"
)

LAKE_TABLES = """
create schema if not exists eventlake.lake;
create table lake.events (
    event_id varchar, user_id varchar, event_type varchar, event_timestamp timestamp_ltz,
    event_value double, product_id varchar, properties varchar, event_date date,
    _job_id varchar, _ingested_at timestamp_ltz, _source varchar);
create table lake.users (
    user_id varchar, user_name varchar, created_at timestamp_ltz, updated_at timestamp_ltz,
    _job_id varchar, _ingested_at timestamp_ltz, _source varchar);
create table lake.products (
    product_id varchar, name varchar, category varchar, price double,
    _job_id varchar, _ingested_at timestamp_ltz, _source varchar);
create table lake.events_rejected (
    dataset varchar, job_id varchar, received_at timestamp_ltz, source varchar,
    record_index bigint, line bigint, field varchar, reason varchar, message varchar,
    raw varchar)
"""

# A: Ada and Bob sign up; Ada views a page and puts a gadget in her cart (at 10:00 in UTC+1,
# spelled in upper case with a space, as a client may send it); Bob logs in.
FIRST_LAKE_COMMIT = """
insert into lake.users values
    ('u1', 'Ada', '2026-01-01 09:00:00+00:00', '2026-01-01 09:00:00+00:00',
     'j1', '2026-01-01 09:00:05+00:00', 'test'),
    ('u2', 'Bob', '2026-01-02 09:00:00+00:00', '2026-01-02 09:00:00+00:00',
     'j1', '2026-01-02 09:00:05+00:00', 'test');
insert into lake.products values
    ('p1', 'Widget', 'Tools', 9.5, 'j1', '2026-01-01 09:00:05+00:00', 'test'),
    ('p2', ' Gadget ', 'TOYS', 20.0, 'j1', '2026-01-01 09:00:05+00:00', 'test');
insert into lake.events values
    ('e1', 'u1', 'page_view', '2026-01-02 10:00:00+00:00', null, null, null, '2026-01-02',
     'j2', '2026-01-02 10:00:05+00:00', 'test'),
    ('e2', 'u1', 'ADD_TO_CART ', '2026-01-03 10:00:00+01:00', null, 'p2', null, '2026-01-03',
     'j2', '2026-01-03 09:00:05+00:00', 'test'),
    ('e3', 'u2', 'login', '2026-01-03 11:00:00+00:00', null, '', null, '2026-01-03',
     'j2', '2026-01-03 11:00:05+00:00', 'test')
"""

# B: Ada becomes Ada Lovelace on 5 January, then buys a widget; Bob searches.
SECOND_LAKE_COMMIT = """
insert into lake.users values
    ('u1', 'Ada Lovelace', '2026-01-01 09:00:00+00:00', '2026-01-05 12:00:00+00:00',
     'j3', '2026-01-05 12:00:05+00:00', 'test');
insert into lake.events values
    ('e4', 'u1', 'purchase', '2026-01-06 10:00:00+00:00', 9.5, 'p1', null, '2026-01-06',
     'j4', '2026-01-06 10:00:05+00:00', 'test'),
    ('e5', 'u2', 'search', '2026-01-06 11:00:00+00:00', null, null, null, '2026-01-06',
     'j4', '2026-01-06 11:00:05+00:00', 'test')
"""

FACTS_BY_EVENT = """
select
    facts.event_id, facts.user_id, users.user_name, products.product_name,
    facts.event_type, facts.funnel_step, facts.is_revenue, facts.event_value,
    facts.event_timestamp
from marts.fact_events as facts
left join marts.dim_users as users on facts.user_sk = users.user_sk
left join marts.dim_products as products on facts.product_sk = products.product_sk
order by facts.event_id
"""

USER_VERSIONS = """
select user_id, user_name, version_number, is_current, valid_to is null as open_ended, user_sk
from marts.dim_users
order by user_id, version_number
"""


def marts_ddl_columns() -> dict[str, list[str]]:
    """Column names, in order, of each CREATE TABLE in snowflake/02_marts.sql."""
    tables: dict[str, list[str]] = {}
    text = re.sub(r"--[^\n]*", "", MARTS_DDL.read_text())
    for match in re.finditer(r"create table if not exists [\w.]*?(\w+) \((.*?)\n\);", text, re.S):
        columns = []
        for line in match.group(2).splitlines():
            words = line.split()
            if words and words[0] not in ("constraint", "references"):
                columns.append(words[0])
        tables[match.group(1)] = columns
    return tables


@dataclass
class Fakesnow:
    """A fakesnow server (tests/fakesnow.py) and dbt's `prod` profile pointed at it."""

    server: FakesnowServer
    project_copy: Path
    dbt_env: dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        self.server.stop()

    def connect(self) -> Any:
        return self.server.connect(schema="LAKE")

    def execute(self, script: str) -> None:
        self.server.execute(script)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return self.server.query(sql)

    def columns(self, schema: str, table: str) -> list[str]:
        return self.server.columns(schema, table)

    def dbt(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [
            str(BIN / "dbt"),
            *args,
            "--target",
            "prod",
            # One connection at a time: fakesnow's server runs every connection on one DuckDB
            # database, and the prod profile's four threads once left a build waiting on it
            # until the timeout (make test, 4 workers). Snowflake itself takes the four.
            "--threads",
            "1",
            "--project-dir",
            str(self.project_copy),
            "--profiles-dir",
            str(self.project_copy),
        ]
        return subprocess.run(
            command,
            env=self.dbt_env,
            capture_output=True,
            text=True,
            timeout=DBT_TIMEOUT_S,
            check=False,
        )


def start_dbt_on_fakesnow(workdir: Path) -> Fakesnow:
    """A server of its own: the story below changes it and may leave it unanswering."""
    server = start_fakesnow(workdir / "fakesnow.log")
    # dbt writes target/ and logs/ next to the project: give it a copy of its own.
    project_copy = workdir / "dbt_project"
    shutil.copytree(
        DBT_PROJECT, project_copy, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages")
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SNOWFLAKE_", "EVENTLAKE_DBT_"))
    }
    env.update(server.env(), DBT_SEND_ANONYMOUS_USAGE_STATS="false", DBT_VERSION_CHECK="false")
    return Fakesnow(server=server, project_copy=project_copy, dbt_env=env)


def dbt_failure(result: subprocess.CompletedProcess[str]) -> str:
    return f"dbt exited {result.returncode}:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"


@dataclass
class Story:
    server: Fakesnow
    first_build: subprocess.CompletedProcess[str]
    first_facts: list[tuple[Any, ...]]
    first_versions: list[tuple[Any, ...]]
    marts_columns: dict[str, list[str]]
    incremental_build: subprocess.CompletedProcess[str]
    staged_events: list[tuple[Any, ...]]


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    server = start_dbt_on_fakesnow(tmp_path_factory.mktemp("fakesnow"))
    try:
        server.execute(LAKE_TABLES)
        server.execute(FIRST_LAKE_COMMIT)
        first_build = server.dbt("build")
        assert first_build.returncode == 0, dbt_failure(first_build)
        first_facts = server.query(FACTS_BY_EVENT)
        first_versions = server.query(USER_VERSIONS)
        marts_columns = {
            table: server.columns("marts", table)
            for table in ("dim_users", "dim_products", "fact_events")
        }
        server.execute(SECOND_LAKE_COMMIT)
        incremental_build = server.dbt("build", "--exclude", "snap_users")
        staged_events = server.query(
            "select event_id, count(*) from staging.stg_events group by event_id order by 1"
        )
        yield Story(
            server=server,
            first_build=first_build,
            first_facts=first_facts,
            first_versions=first_versions,
            marts_columns=marts_columns,
            incremental_build=incremental_build,
            staged_events=staged_events,
        )
    finally:
        server.stop()


def test_first_build_gives_the_star_schema(story: Story) -> None:
    assert "Completed successfully" in story.first_build.stdout
    assert story.first_facts == [
        ("e1", "u1", "Ada", None, "page_view", 1, False, None, datetime(2026, 1, 2, 10, 0)),
        # 10:00 at UTC+1 is 09:00 UTC; the event type is trimmed and lower-cased.
        ("e2", "u1", "Ada", "Gadget", "add_to_cart", 2, False, None, datetime(2026, 1, 3, 9, 0)),
        ("e3", "u2", "Bob", None, "login", None, False, None, datetime(2026, 1, 3, 11, 0)),
    ]


def test_user_versions_and_their_keys(story: Story) -> None:
    # One version each, current and open-ended. The keys are md5 hex of (user_id, valid_from):
    # on real Snowflake the text of valid_from is DuckDB's ('2026-01-01T09:00:00.000000', see
    # timestamp_key_text), but fakesnow drops to_char's format for a column (sqlglot cannot
    # carry it to DuckDB), so only their shape and stability are checked here.
    assert [row[:5] for row in story.first_versions] == [
        ("u1", "Ada", 1, True, True),
        ("u2", "Bob", 1, True, True),
    ]
    assert all(re.fullmatch(r"[0-9a-f]{32}", row[5]) for row in story.first_versions)
    assert story.server.query(USER_VERSIONS) == story.first_versions  # rebuilt, same keys


def test_marts_match_the_reviewed_ddl(story: Story) -> None:
    assert story.marts_columns == marts_ddl_columns()


def test_reviewed_ddl_runs_as_snowflake_sql(story: Story) -> None:
    # In a database of its own, so the tables dbt built are left alone.
    story.server.execute("create database if not exists ddl_check")
    story.server.execute(MARTS_DDL.read_text().replace("eventlake.", "ddl_check."))
    for table, columns in marts_ddl_columns().items():
        with story.server.connect() as conn, conn.cursor() as cursor:
            cursor.execute(f"select * from ddl_check.marts.{table} limit 0")  # noqa: S608 — identifiers are ours; values are bound parameters
            assert [d.name.lower() for d in cursor.description] == columns


def test_incremental_build_loads_only_the_new_events(story: Story) -> None:
    assert story.incremental_build.returncode == 0, dbt_failure(story.incremental_build)
    # e2 and e3 are read again (the 3-hour lookback before the last ingest) but not staged twice.
    assert story.staged_events == [(f"e{i}", 1) for i in range(1, 6)]
    facts = story.server.query(FACTS_BY_EVENT)
    assert facts[:3] == story.first_facts
    assert facts[3:] == [
        ("e4", "u1", "Ada", "Widget", "purchase", 3, True, 9.5, datetime(2026, 1, 6, 10, 0)),
        ("e5", "u2", "Bob", None, "search", None, False, None, datetime(2026, 1, 6, 11, 0)),
    ]


def test_second_snapshot_run_versions_the_renamed_user(story: Story) -> None:
    snapshot = story.server.dbt("snapshot")
    if snapshot.returncode != 0 and FAKESNOW_SNAPSHOT_FAILURE.search(snapshot.stdout):
        pytest.xfail(
            "fakesnow cannot re-run a snapshot (TEMPORARY table with database and schema; "
            "then the MERGE's 'Ambiguous reference to column name'): see the module docstring"
        )
    assert snapshot.returncode == 0, dbt_failure(snapshot)
    build = story.server.dbt("build", "--exclude", "snap_users")
    assert build.returncode == 0, dbt_failure(build)
    versions = story.server.query(USER_VERSIONS)
    assert [row[:5] for row in versions if row[0] == "u1"] == [
        ("u1", "Ada", 1, False, False),
        ("u1", "Ada Lovelace", 2, True, True),
    ]
    names = {row[0]: row[2] for row in story.server.query(FACTS_BY_EVENT)}
    assert names == {"e1": "Ada", "e2": "Ada", "e3": "Bob", "e4": "Ada Lovelace", "e5": "Bob"}


def test_reviewed_ddl_matches_the_duckdb_marts(tmp_path: Path) -> None:
    # The local target builds the same columns in the same order (on an empty lake: the dbt
    # plugin creates the lake's tables from the contracts).
    home = tmp_path / "home"
    home.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith("SNOWFLAKE_")}
    env.update(
        EVENTLAKE_HOME=str(home),
        EVENTLAKE_DBT_TARGET="local",
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        DBT_VERSION_CHECK="false",
    )
    marts = ("dim_users", "dim_products", "fact_events")
    result = subprocess.run(
        [
            str(BIN / "dbt"),
            "build",
            "--select",
            *(f"+{table}" for table in marts),
            "--exclude-resource-type",
            "test",
            "--project-dir",
            str(DBT_PROJECT),
            "--profiles-dir",
            str(DBT_PROJECT),
            "--target-path",
            str(tmp_path / "target"),
            "--log-path",
            str(tmp_path / "logs"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=DBT_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, dbt_failure(result)
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
        built = {
            table: [row[0] for row in conn.execute(f"describe marts.{table}").fetchall()]
            for table in marts
        }
    assert built == marts_ddl_columns()
