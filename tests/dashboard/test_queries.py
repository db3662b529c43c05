"""The dashboard's libraries on the known warehouse (conftest): the numbers behind each chart.

Every query test runs twice: on the DuckDB file (the local target) and on the same marts in
Snowflake (the prod target), served by fakesnow over Snowflake's protocol with the types dbt
gives them there. One more test compares every query's frame across the two."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd  # type: ignore[import-untyped]
import pytest

from eventlake.config import Settings
from eventlake.dashboard import health
from eventlake.dashboard.queries import (
    Filters,
    Warehouse,
    WarehouseMissingError,
    WarehouseUnavailableError,
)
from eventlake.warehouse.readers import DuckDBReader, SnowflakeReader
from tests.dashboard.conftest import (
    API_METRICS,
    SNOWFLAKE_DATABASE,
    Home,
    closed_port_url,
)
from tests.fakesnow import FAKESNOW_NULL_TIMESTAMP, FakesnowServer
from tests.ports import free_port


@pytest.fixture(params=["duckdb", pytest.param("snowflake", marks=pytest.mark.integration)])
def warehouse(request: pytest.FixtureRequest, warehouse_home: Home) -> Iterator[Warehouse]:
    if request.param == "duckdb":
        yield Warehouse(DuckDBReader(warehouse_home.settings.duckdb_path))
        return
    server: FakesnowServer = request.getfixturevalue("snowflake_marts")
    with SnowflakeReader(server.settings(SNOWFLAKE_DATABASE)) as reader:
        yield Warehouse(reader)


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
    warehouse = Warehouse(DuckDBReader(tmp_path / "warehouse.duckdb"))
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


def _as_duckdb_reads(frame: pd.DataFrame) -> pd.DataFrame:
    """fakesnow's one difference from Snowflake that shows here: a NULL timestamp comes back
    as 1970-01-01 (tests/fakesnow.py); read it as the NULL it is."""
    frame = frame.copy()
    for name in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[name]):
            frame[name] = frame[name].mask(frame[name] == FAKESNOW_NULL_TIMESTAMP)
    return frame


def test_every_query_gives_the_same_frame_on_duckdb_and_snowflake(
    warehouse_home: Home, snowflake_marts: FakesnowServer
) -> None:
    local = Warehouse(DuckDBReader(warehouse_home.settings.duckdb_path))
    some_days = Filters(start=date(2026, 11, 2), end=date(2026, 11, 4))
    some_types = Filters(event_types=("purchase", "page_view"))
    calls: list[tuple[str, tuple[object, ...]]] = [
        ("users", ()),
        ("products", ()),
        ("user_versions", ("u1",)),
        *(
            (name, (filters,))
            for filters in (Filters(), some_days, some_types)
            for name in (
                "funnel",
                "events_over_time",
                "revenue_over_time",
                "top_users",
                "top_products",
            )
        ),
        *((name, ("u1", f)) for f in (Filters(), some_types) for name in ("user_events",)),
        *((name, ("p2", f)) for f in (Filters(), some_days) for name in ("product_events",)),
    ]
    with SnowflakeReader(snowflake_marts.settings(SNOWFLAKE_DATABASE)) as reader:
        prod = Warehouse(reader)
        for name, args in calls:
            expected = getattr(local, name)(*args)
            assert not expected.empty or name == "revenue_over_time", (name, args)
            pd.testing.assert_frame_equal(
                _as_duckdb_reads(getattr(prod, name)(*args)), expected, obj=f"{name}{args}"
            )
        for filters in (Filters(), some_days, some_types):
            assert prod.kpis(filters) == local.kpis(filters)
        assert prod.date_bounds() == local.date_bounds()
        assert prod.event_types() == local.event_types()


def test_snowflake_before_dbt_has_built_the_marts(fakesnow_server: FakesnowServer) -> None:
    fakesnow_server.execute("create database if not exists EMPTY_WAREHOUSE")
    with SnowflakeReader(fakesnow_server.settings("EMPTY_WAREHOUSE")) as reader:
        warehouse = Warehouse(reader)
        assert warehouse.missing_tables() == [
            "marts.fact_events",
            "marts.dim_users",
            "marts.dim_products",
        ]
        with pytest.raises(WarehouseMissingError):
            warehouse.kpis(Filters())


def test_snowflake_unreachable_is_an_error_naming_it(fakesnow_server: FakesnowServer) -> None:
    settings = fakesnow_server.settings().model_copy(
        update={"port": free_port(), "login_timeout": 5}
    )
    with (
        SnowflakeReader(settings) as reader,
        pytest.raises(WarehouseUnavailableError, match="cannot connect to Snowflake fakesnow"),
    ):
        Warehouse(reader).kpis(Filters())
