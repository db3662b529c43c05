"""The Streamlit app, run by Streamlit's AppTest against the known warehouse (conftest)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import SNOWFLAKE_DATABASE, Home, closed_port_url, point_at
from tests.fakesnow import FakesnowServer

APP = Path(__file__).parents[2] / "src" / "eventlake" / "dashboard" / "app.py"
TIMEOUT = 60  # the first run imports plotly


def _run(at: AppTest) -> AppTest:
    at.run(timeout=TIMEOUT)
    assert not at.exception, [e.value for e in at.exception]
    return at


def _app() -> AppTest:
    return _run(AppTest.from_file(str(APP), default_timeout=TIMEOUT))


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _texts(at: AppTest) -> str:
    parts = [
        e.value
        for kind in ("markdown", "info", "warning", "success", "caption")
        for e in getattr(at, kind)
    ]
    return "\n".join(str(p) for p in parts)


def _frame_with(at: AppTest, *columns: str) -> pd.DataFrame:
    for element in at.dataframe:
        frame = element.value
        if set(columns) <= set(frame.columns):
            return frame
    raise AssertionError(f"no table with {columns}")


@pytest.fixture
def app(warehouse_home: Home, monkeypatch: pytest.MonkeyPatch, fake_api: str) -> AppTest:
    point_at(monkeypatch, warehouse_home.path, fake_api)
    return _app()


def test_the_overview_shows_the_warehouse_numbers(app: AppTest) -> None:
    kpis = _metrics(app)
    assert kpis["Events"] == "10"
    assert kpis["Users"] == "3"
    assert kpis["Revenue"] == "15.00"
    assert kpis["Conversion"] == "33.3%"
    charts = [e.proto.id for e in app.get("plotly_chart")]
    assert len(charts) == 3  # events over time, funnel, revenue
    top_users = _frame_with(app, "user_id", "revenue")
    assert top_users["user_id"].tolist()[0] == "u1"


def test_the_event_type_filter_changes_everything(app: AppTest) -> None:
    app.multiselect(key="filter_types").select("purchase")
    _run(app)
    kpis = _metrics(app)
    assert (kpis["Events"], kpis["Users"], kpis["Revenue"], kpis["Conversion"]) == (
        "2",
        "1",
        "15.00",
        "n/a",
    )
    assert _frame_with(app, "user_id", "revenue")["user_id"].tolist() == ["u1"]


def test_the_date_range_changes_everything(app: AppTest) -> None:
    assert app.date_input(key="filter_dates").value == (date(2026, 11, 1), date(2026, 11, 4))
    app.date_input(key="filter_dates").set_value((date(2026, 11, 2), date(2026, 11, 3)))
    _run(app)
    kpis = _metrics(app)
    assert (kpis["Events"], kpis["Users"], kpis["Revenue"]) == ("5", "2", "0.00")
    assert "No revenue events match the filters." in _texts(app)
    assert _frame_with(app, "user_id", "revenue")["user_id"].tolist() == ["u2", "u3"]


def test_picking_a_user_shows_their_scd2_versions_and_events(app: AppTest) -> None:
    app.selectbox(key="drill_user").set_value("u1")
    _run(app)
    versions = _frame_with(app, "version_number", "valid_from", "valid_to")
    assert versions["user_name"].tolist() == ["Alice", "Alicia"]
    assert versions["is_current"].tolist() == [False, True]
    assert "**u1**: 2 version(s)" in _texts(app)
    events = _frame_with(app, "user_name_then", "event_type")
    assert len(events) == 5

    app.selectbox(key="drill_user").set_value("u2")
    _run(app)
    assert _frame_with(app, "version_number", "valid_from")["user_name"].tolist() == ["Bob"]

    app.selectbox(key="drill_product").set_value("p2")
    _run(app)
    assert set(_frame_with(app, "user_id", "user_name_then", "event_id")["event_id"]) == {
        "e4",
        "e5",
        "e6",
        "e7",
    }


def test_the_pipeline_health_shows_the_api_runs_and_gates(app: AppTest) -> None:
    metrics = _metrics(app)
    assert metrics["Received"] == "1,234"
    assert metrics["Landed"] == "1,190"
    assert metrics["Models built"] == "8"
    assert metrics["dbt tests passed"] == "47"
    assert metrics["dbt tests failed"] == "0"
    assert "quality gate passed" in _texts(app)
    jobs = _frame_with(app, "job_id", "kind", "status")
    assert {"job-ingest-1", "run-transform-1", "run-quality-1"} <= set(jobs["job_id"])


def test_the_api_down_is_a_message(warehouse_home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    point_at(monkeypatch, warehouse_home.path, closed_port_url())
    at = _app()
    assert "The API is not answering at http://127.0.0.1:" in _texts(at)
    assert _metrics(at)["Events"] == "10"  # the rest of the dashboard is unaffected


def test_an_empty_warehouse_says_run_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    point_at(monkeypatch, tmp_path, closed_port_url())
    at = _app()
    assert "run `make run` first" in _texts(at)
    assert not at.error
    assert not (tmp_path / "warehouse.duckdb").exists()
    assert not (tmp_path / "state.db").exists()


def test_missing_marts_say_run_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import duckdb

    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as connection:
        connection.execute("create schema marts; create table marts.dim_users (user_id varchar)")
    point_at(monkeypatch, tmp_path, closed_port_url())
    at = _app()
    assert "run `make run` first" in _texts(at)
    assert not at.error


def test_the_prod_target_reads_snowflake(
    snowflake_marts: FakesnowServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An empty home: every number below comes from Snowflake (fakesnow), none from DuckDB.
    point_at(monkeypatch, tmp_path, closed_port_url())
    monkeypatch.setenv("EVENTLAKE_WAREHOUSE__TARGET", "prod")
    for name, value in snowflake_marts.env(SNOWFLAKE_DATABASE).items():
        monkeypatch.setenv(name, value)
    at = _app()
    kpis = _metrics(at)
    assert (kpis["Events"], kpis["Users"], kpis["Revenue"], kpis["Conversion"]) == (
        "10",
        "3",
        "15.00",
        "33.3%",
    )
    assert f"Snowflake fakesnow/{SNOWFLAKE_DATABASE}" in _texts(at)
    at.selectbox(key="drill_user").set_value("u1")
    _run(at)
    versions = _frame_with(at, "version_number", "valid_from", "valid_to")
    assert versions["user_name"].tolist() == ["Alice", "Alicia"]
    assert not (tmp_path / "warehouse.duckdb").exists()


def test_the_prod_target_without_credentials_says_which_are_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_at(monkeypatch, tmp_path, closed_port_url())
    monkeypatch.setenv("EVENTLAKE_WAREHOUSE__TARGET", "prod")
    for name in ("SNOWFLAKE_ACCOUNT", "SNOWFLAKE_USER", "SNOWFLAKE_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    at = _app()
    errors = "\n".join(str(e.value) for e in at.error)
    assert "SNOWFLAKE_ACCOUNT, SNOWFLAKE_PASSWORD, SNOWFLAKE_USER" in errors
    assert "run `make run` first" in _texts(at)
