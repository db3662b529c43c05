"""The gates pass on good data and fail, each on the data built to break it, and only there."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from eventlake.config import Settings
from eventlake.quality import QualityError, QualityReport, open_warehouse, run_quality
from eventlake.quality.report import write_summary
from eventlake.quality.suites import PANDAS_TYPES, Contracts, plan
from tests.quality.conftest import (
    BREAKS,
    FAILS,
    GHOST_PRODUCT_SK,
    GHOST_USER_SK,
)


@pytest.fixture(scope="module")
def good_report(good_home: Settings) -> QualityReport:
    return run_quality(good_home)


@pytest.fixture(scope="module")
def broken_report(broken_home: Settings) -> QualityReport:
    return run_quality(broken_home)


def failures(report: QualityReport) -> set[tuple[str, str, str | None]]:
    return {(f.suite, f.expectation, f.column) for f in report.failed}


def test_good_data_passes_every_expectation(good_report: QualityReport) -> None:
    assert failures(good_report) == set()
    assert good_report.success
    names = [suite.name for suite in good_report.suites]
    assert names == [
        "staging.stg_events",
        "staging.stg_users",
        "staging.stg_products",
        "marts.dim_users",
        "marts.dim_products",
        "marts.fact_events",
        "checks.referential_integrity",
        "checks.lake_reconciliation",
    ]
    rows = {suite.name: suite.rows for suite in good_report.suites}
    assert rows["staging.stg_events"] == rows["marts.fact_events"] == 4
    assert good_report.evaluated > 60


def test_the_broken_warehouse_fails_exactly_what_each_break_targets(
    broken_report: QualityReport,
) -> None:
    assert not broken_report.success
    assert failures(broken_report) == set(FAILS.values())


@pytest.mark.parametrize("brk", sorted(BREAKS))
def test_each_break_fails_its_expectation(broken_report: QualityReport, brk: str) -> None:
    suite, expectation, column = FAILS[brk]
    (found,) = [
        f
        for f in broken_report.failed
        if (f.suite, f.expectation, f.column) == (suite, expectation, column)
    ]
    assert found.error is None, "failed because of the data, not because it could not run"
    expected_in_observed = {
        "null_user_id": "1 of 4 rows",
        "future_timestamp": "1 of 4 rows",
        "unknown_event_type": "'teleport'",
        "wrong_dtype": "observed 'str'",
        "negative_value": "-5.0",
        "orphan_user_sk": GHOST_USER_SK,
        "orphan_product_sk": GHOST_PRODUCT_SK,
        "extra_fact_row": "[4, 5]",
    }[brk]
    assert expected_in_observed in found.observed


def test_event_types_and_ranges_come_from_the_contracts() -> None:
    contracts = Contracts.load()
    assert "purchase" in contracts.event_types
    assert contracts.event_value[0] == 0
    planned = plan(latest_allowed=datetime(2026, 11, 29), contracts=contracts)
    suites = {s.name: s for s in planned.suites}
    in_set = [
        e
        for e in suites["marts.fact_events"].expectations
        if e.type == "expect_column_values_to_be_in_set"
    ]
    assert [e.kwargs["value_set"] for e in in_set] == [list(contracts.event_types)]
    assert set(PANDAS_TYPES) == {"VARCHAR", "TIMESTAMP", "DATE", "DOUBLE", "BIGINT", "BOOLEAN"}


def test_the_future_limit_is_now_plus_the_tolerance(broken_report: QualityReport) -> None:
    limits = [
        e.kwargs["max_value"]
        for s in broken_report.suites
        for e in s.expectations
        if e.column == "event_timestamp" and "max_value" in e.kwargs
    ]
    assert len(limits) == 2  # staging and the fact
    started = broken_report.started_at.replace(tzinfo=None)
    assert all(0 <= (limit - started).total_seconds() - 3600 < 60 for limit in limits)


def test_data_docs_and_summary(good_report: QualityReport, broken_report: QualityReport) -> None:
    for report in (good_report, broken_report):
        assert report.data_docs.is_file()
        html = report.data_docs.read_text(encoding="utf-8")
        assert "stg_events" in html
        assert "referential_integrity" in html
    leftovers = [p.name for p in broken_report.data_docs.parent.parent.iterdir()]
    assert leftovers == ["data_docs"], "a build folder was left behind"
    path = write_summary(broken_report)
    summary = json.loads(path.read_text(encoding="utf-8"))
    assert summary["success"] is False
    assert summary["failed"] == len(FAILS)
    assert {(f["suite"], f["expectation"], f["column"]) for f in summary["failures"]} == set(
        FAILS.values()
    )
    stg = next(s for s in summary["suites"] if s["name"] == "staging.stg_events")
    assert len(stg["expectations"]) == stg["evaluated"]


def test_a_missing_warehouse_or_table_is_a_clear_error(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    with pytest.raises(QualityError, match="no warehouse at"):
        run_quality(settings)
    import duckdb

    duckdb.connect(str(settings.duckdb_path)).close()
    with (
        open_warehouse(settings) as warehouse,  # type: ignore[attr-defined]
        pytest.raises(QualityError, match=r"no table staging\.stg_events"),
    ):
        warehouse.read_table("staging", "stg_events")
