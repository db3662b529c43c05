"""The gates on the prod target: the same tables in Snowflake (fakesnow), the same verdicts.

The good and the broken warehouse of conftest are copied into fakesnow databases with the
Snowflake types dbt gives their columns (tests/fakesnow.py), and the gates run with
``EVENTLAKE_WAREHOUSE__TARGET=prod`` and the SNOWFLAKE_* variables dbt's profile reads. Each
expectation must come out as it does on DuckDB: every one passes on the good warehouse, and on
the broken one exactly the planted breaks fail (the wrong dtype too: a VARCHAR column reads as
text from Snowflake as from DuckDB).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from eventlake.config import Settings
from eventlake.quality import QualityError, QualityReport, run_quality
from eventlake.quality.suites import plan
from tests.fakesnow import FakesnowServer
from tests.quality.conftest import BREAKS, FAILS, make_home

# Every table a suite reads.
TABLES = [table.qualified for table in plan(datetime.now()).tables]


def _on_snowflake(
    home: Path, server: FakesnowServer, database: str, breaks: frozenset[str] = frozenset()
) -> Iterator[Settings]:
    local = make_home(home, breaks)
    server.copy_from_duckdb(local.duckdb_path, TABLES, database=database)
    local.duckdb_path.unlink()  # nothing may be read from DuckDB from here on
    with pytest.MonkeyPatch.context() as patch:
        for name, value in server.env(database).items():
            patch.setenv(name, value)
        yield Settings(home=home, warehouse={"target": "prod"})  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def good_prod(
    tmp_path_factory: pytest.TempPathFactory, fakesnow_server: FakesnowServer
) -> Iterator[Settings]:
    yield from _on_snowflake(tmp_path_factory.mktemp("good-prod"), fakesnow_server, "QUALITY_GOOD")


@pytest.fixture(scope="module")
def broken_prod(
    tmp_path_factory: pytest.TempPathFactory, fakesnow_server: FakesnowServer
) -> Iterator[Settings]:
    yield from _on_snowflake(
        tmp_path_factory.mktemp("broken-prod"), fakesnow_server, "QUALITY_BROKEN", BREAKS
    )


def failures(report: QualityReport) -> set[tuple[str, str, str | None]]:
    return {(f.suite, f.expectation, f.column) for f in report.failed}


def test_the_good_warehouse_passes_on_snowflake(good_prod: Settings) -> None:
    report = run_quality(good_prod)
    assert report.warehouse == "Snowflake fakesnow/QUALITY_GOOD"
    assert failures(report) == set()
    assert report.success
    rows = {suite.name: suite.rows for suite in report.suites}
    assert rows["staging.stg_events"] == rows["marts.fact_events"] == 4
    assert report.evaluated > 60
    assert not good_prod.duckdb_path.exists()


def test_the_broken_warehouse_fails_exactly_its_breaks_on_snowflake(broken_prod: Settings) -> None:
    report = run_quality(broken_prod)
    assert not report.success
    assert failures(report) == set(FAILS.values())
    assert all(f.error is None for f in report.failed), "each failed on the data"


def test_a_missing_table_on_snowflake_is_a_clear_error(
    tmp_path: Path, fakesnow_server: FakesnowServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    fakesnow_server.execute("create database if not exists QUALITY_EMPTY")
    for name, value in fakesnow_server.env("QUALITY_EMPTY").items():
        monkeypatch.setenv(name, value)
    settings = Settings(home=tmp_path, warehouse={"target": "prod"})  # type: ignore[arg-type]
    with pytest.raises(QualityError, match=r"has no table staging\.stg_events"):
        run_quality(settings)


def test_prod_without_credentials_names_the_missing_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("SNOWFLAKE_ACCOUNT", "SNOWFLAKE_USER", "SNOWFLAKE_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SNOWFLAKE_PASSWORD", "hunter2-not-echoed")
    settings = Settings(home=tmp_path, warehouse={"target": "prod"})  # type: ignore[arg-type]
    with pytest.raises(QualityError) as raised:
        run_quality(settings)
    assert "SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER" in str(raised.value)
    assert "hunter2" not in str(raised.value)
