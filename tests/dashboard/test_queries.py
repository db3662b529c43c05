"""The dashboard's libraries on the known warehouse (conftest): the numbers behind each chart."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from eventlake.config import Settings
from eventlake.dashboard import health
from eventlake.dashboard.queries import Filters, Warehouse, WarehouseMissingError
from tests.dashboard.conftest import API_METRICS, Home, closed_port_url


@pytest.fixture
def warehouse(warehouse_home: Home) -> Warehouse:
    return Warehouse(warehouse_home.settings.duckdb_path)


def test_kpis_without_filters(warehouse: Warehouse) -> None:
    kpis = warehouse.kpis(Filters())
    assert (kpis.events, kpis.users, kpis.revenue, kpis.purchases) == (10, 3, 15.0, 2)
    assert kpis.conversion == pytest.approx(1 / 3)
    assert warehouse.funnel(Filters())["users"].tolist() == [3, 2, 1]


def test_filters_apply_to_kpis_charts_and_tops(warehouse: Warehouse) -> None:
    purchases = Filters(event_types=("purchase",))
    kpis = warehouse.kpis(purchases)
    assert (kpis.events, kpis.users, kpis.revenue, kpis.conversion) == (2, 1, 15.0, None)
    assert set(warehouse.events_over_time(purchases)["event_type"]) == {"purchase"}

    middle = Filters(start=date(2026, 11, 2), end=date(2026, 11, 3))
    kpis = warehouse.kpis(middle)
    assert (kpis.events, kpis.users, kpis.revenue, kpis.conversion) == (5, 2, 0.0, 0.0)
    assert warehouse.revenue_over_time(middle).empty
    assert warehouse.top_users(middle)["user_id"].tolist() == ["u2", "u3"]


def test_revenue_and_tops(warehouse: Warehouse) -> None:
    revenue = warehouse.revenue_over_time(Filters())
    assert [
        (d.isoformat()[:10], r) for d, r in zip(revenue["day"], revenue["revenue"], strict=True)
    ] == [
        ("2026-11-01", 10.0),
        ("2026-11-04", 5.0),
    ]
    top_users = warehouse.top_users(Filters())
    assert top_users.iloc[0][["user_id", "user_name", "events", "revenue"]].tolist() == [
        "u1",
        "Alicia",  # the current name
        5,
        15.0,
    ]
    top_products = warehouse.top_products(Filters())
    assert top_products[["product_id", "purchases", "revenue"]].values.tolist() == [
        ["p1", 1, 10.0],
        ["p2", 1, 5.0],
    ]


def test_a_renamed_user_has_two_versions_and_each_event_its_name_then(
    warehouse: Warehouse,
) -> None:
    versions = warehouse.user_versions("u1")
    assert versions["user_name"].tolist() == ["Alice", "Alicia"]
    assert versions["is_current"].tolist() == [False, True]
    assert versions["valid_to"].iloc[0] == versions["valid_from"].iloc[1]
    events = warehouse.user_events("u1", Filters())
    assert dict(zip(events["event_id"], events["user_name_then"], strict=True)) == {
        "e5": "Alicia",
        "e4": "Alicia",
        "e3": "Alice",
        "e2": "Alice",
        "e1": "Alice",
    }
    assert warehouse.product_events("p2", Filters(event_types=("purchase",)))[
        "event_id"
    ].tolist() == ["e5"]


def test_bounds_and_event_types(warehouse: Warehouse) -> None:
    assert warehouse.date_bounds() == (date(2026, 11, 1), date(2026, 11, 4))
    assert warehouse.event_types() == ["add_to_cart", "login", "page_view", "purchase", "search"]


def test_a_missing_warehouse_is_said_not_raised_from_duckdb(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    assert warehouse.missing_tables() == [
        "marts.fact_events",
        "marts.dim_users",
        "marts.dim_products",
    ]
    with pytest.raises(WarehouseMissingError):
        warehouse.check()
    with pytest.raises(WarehouseMissingError):
        warehouse.kpis(Filters())
    assert not (tmp_path / "warehouse.duckdb").exists()  # looking does not create it


def test_the_api_down_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(health.ApiUnavailableError, match="ConnectError"):
        health.fetch_api_metrics(closed_port_url(), timeout=1)


def test_the_api_metrics(fake_api: str) -> None:
    metrics = health.fetch_api_metrics(fake_api)
    assert metrics["events_received"] == API_METRICS["events_received"]
    assert health.lag_frame(metrics)["behind"].tolist() == [3]


def test_state_and_quality(warehouse_home: Home, tmp_path: Path) -> None:
    state = health.read_state(warehouse_home.settings)
    assert state is not None
    assert state["last_runs"]["transform"]["result"]["models_built"] == 8
    assert {j["job_id"] for j in state["recent_jobs"]} >= {"job-ingest-1", "run-transform-1"}
    summary = health.read_quality_summary(warehouse_home.settings)
    assert summary is not None
    assert summary["success"] is True

    fresh = Settings(home=tmp_path)
    assert health.read_state(fresh) is None
    assert not (tmp_path / "state.db").exists()  # reading does not create the database
    assert health.read_quality_summary(fresh) is None
