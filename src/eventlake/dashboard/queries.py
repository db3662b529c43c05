"""What the dashboard shows, read from the warehouse's star schema (``marts``).

The SQL is written once for both targets, DuckDB locally and Snowflake in production, in the
dialect they share (:mod:`eventlake.warehouse.readers` runs it; the tests run every query on
both and compare the frames). Where they differ, the work is done in pandas instead: the daily
series is filled with zeros there rather than with DuckDB's ``generate_series``, and a
``count_if`` in a result is cast to bigint (DuckDB's is a HUGEINT, which pandas makes a float).

The DuckDB reader opens the file read-only for each query and closes it again, so a
``eventlake transform`` never waits on the dashboard; while dbt holds the file, a query
raises :class:`WarehouseBusyError` instead of hanging. Times are UTC on both targets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd  # type: ignore[import-untyped]  # pandas-stubs is not in the environment

from eventlake.warehouse.readers import (
    WarehouseBusyError,
    WarehouseMissingError,
    WarehouseReader,
    WarehouseUnavailableError,
)

__all__ = [
    "Filters",
    "Kpis",
    "Warehouse",
    "WarehouseBusyError",
    "WarehouseMissingError",
    "WarehouseUnavailableError",
]

SCHEMA = "marts"
TABLES = ("fact_events", "dim_users", "dim_products")
FUNNEL_STEPS = ("page_view", "add_to_cart", "purchase")  # funnel_step 1, 2, 3 (event_types seed)


@dataclass(frozen=True)
class Filters:
    """The sidebar's filters; every query applies them. No event types means all of them."""

    start: date | None = None
    end: date | None = None
    event_types: tuple[str, ...] = ()

    def where(self, alias: str = "f") -> tuple[str, list[Any]]:
        clauses = ["true"]
        params: list[Any] = []
        if self.start is not None:
            clauses.append(f"{alias}.event_date >= ?")
            params.append(self.start)
        if self.end is not None:
            clauses.append(f"{alias}.event_date <= ?")
            params.append(self.end)
        if self.event_types:
            clauses.append(f"{alias}.event_type in ({', '.join('?' * len(self.event_types))})")
            params.extend(self.event_types)
        return " and ".join(clauses), params


@dataclass(frozen=True)
class Kpis:
    events: int
    users: int
    revenue: float
    purchases: int
    conversion: float | None  # purchasing users / viewing users (the funnel's ends); None: no views


class Warehouse:
    """The dashboard's questions, asked of one warehouse reader."""

    def __init__(self, reader: WarehouseReader) -> None:
        self.reader = reader
        self.description = reader.description

    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        return self.reader.query(sql, params)

    def missing_tables(self) -> list[str]:
        """The marts not built yet (all of them when there is no warehouse): [] when ready."""
        present = self.reader.table_names(SCHEMA)
        return [f"{SCHEMA}.{table}" for table in TABLES if table not in present]

    def check(self) -> None:
        missing = self.missing_tables()
        if missing:
            raise WarehouseMissingError(self.description, missing)

    # --- what the filters offer ------------------------------------------------------------

    def date_bounds(self) -> tuple[date, date] | None:
        row = self.query(f"select min(event_date) lo, max(event_date) hi from {SCHEMA}.fact_events")  # noqa: S608 — a constant schema; values are parameters
        lo, hi = row.iloc[0]["lo"], row.iloc[0]["hi"]
        if pd.isna(lo) or pd.isna(hi):
            return None
        return pd.Timestamp(lo).date(), pd.Timestamp(hi).date()

    def event_types(self) -> list[str]:
        frame = self.query(
            f"select distinct event_type from {SCHEMA}.fact_events order by event_type"  # noqa: S608 — a constant schema; values are parameters
        )
        return [str(v) for v in frame["event_type"]]

    def users(self) -> pd.DataFrame:
        """Each user's current version: user_id, user_name, versions."""
        return self.query(
            f"""
            select user_id, max_by(user_name, version_number) as user_name,
                count(*) as versions
            from {SCHEMA}.dim_users
            group by user_id
            order by user_id
            """  # noqa: S608 — a constant schema; values are parameters
        )

    def products(self) -> pd.DataFrame:
        return self.query(
            f"select product_id, product_name, category, price from {SCHEMA}.dim_products "  # noqa: S608 — a constant schema; values are parameters
            "order by product_id"
        )

    # --- overview --------------------------------------------------------------------------

    def funnel(self, filters: Filters) -> pd.DataFrame:
        """Distinct users at each step; a step counts those who also reached the ones before."""
        where, params = filters.where()
        frame = self.query(
            f"""
            with per_user as (
                select user_id,
                    count_if(funnel_step = 1) > 0 as viewed,
                    count_if(funnel_step = 2) > 0 as carted,
                    count_if(funnel_step = 3) > 0 as bought
                from {SCHEMA}.fact_events as f
                where {where}
                group by user_id
            )
            select
                count_if(viewed) as s1,
                count_if(viewed and carted) as s2,
                count_if(viewed and carted and bought) as s3
            from per_user
            """,  # noqa: S608 — a constant schema; values are parameters
            params,
        )
        row = frame.iloc[0]
        return pd.DataFrame(
            {"step": list(FUNNEL_STEPS), "users": [int(row["s1"]), int(row["s2"]), int(row["s3"])]}
        )

    def kpis(self, filters: Filters) -> Kpis:
        where, params = filters.where()
        row = self.query(
            f"""
            select count(*) as events,
                count(distinct user_id) as users,
                coalesce(sum(case when is_revenue then event_value end), 0) as revenue,
                count_if(is_revenue) as purchases
            from {SCHEMA}.fact_events as f
            where {where}
            """,  # noqa: S608 — a constant schema; values are parameters
            params,
        ).iloc[0]
        funnel = self.funnel(filters)["users"].tolist()
        return Kpis(
            events=int(row["events"]),
            users=int(row["users"]),
            revenue=float(row["revenue"]),
            purchases=int(row["purchases"]),
            conversion=funnel[2] / funnel[0] if funnel[0] else None,
        )

    def events_over_time(self, filters: Filters) -> pd.DataFrame:
        """Events per day and type: day, event_type, events; a day without events of a type
        is a 0 (a stacked chart would otherwise draw a line across it)."""
        where, params = filters.where()
        counts = self.query(
            f"""
            select event_date as day, event_type, count(*) as events
            from {SCHEMA}.fact_events as f
            where {where}
            group by event_date, event_type
            """,  # noqa: S608 — a constant schema; values are parameters
            params,
        )
        if counts.empty:
            return pd.DataFrame({"day": [], "event_type": [], "events": []})
        counts["day"] = pd.to_datetime(counts["day"]).dt.date
        days = pd.date_range(min(counts["day"]), max(counts["day"]), freq="D").date
        types = sorted(counts["event_type"].unique())
        grid = pd.MultiIndex.from_product([days, types], names=["day", "event_type"])
        filled = (
            counts.set_index(["day", "event_type"])["events"]
            .reindex(grid, fill_value=0)
            .astype("int64")
            .reset_index()
        )
        filled["day"] = pd.to_datetime(filled["day"])
        return filled

    def revenue_over_time(self, filters: Filters) -> pd.DataFrame:
        """Revenue and purchases per day: day, revenue, purchases."""
        where, params = filters.where()
        return self.query(
            f"""
            select event_date as day,
                coalesce(sum(event_value), 0) as revenue,
                count(*) as purchases
            from {SCHEMA}.fact_events as f
            where {where} and f.is_revenue
            group by event_date
            order by day
            """,  # noqa: S608 — a constant schema; values are parameters
            params,
        )

    def top_users(self, filters: Filters, limit: int = 10) -> pd.DataFrame:
        """The users with the most revenue, then the most events, under their current name."""
        where, params = filters.where()
        return self.query(
            f"""
            with current_names as (
                select user_id, user_name from {SCHEMA}.dim_users where is_current
            )
            select f.user_id, any_value(current_names.user_name) as user_name,
                count(*) as events,
                cast(count_if(f.is_revenue) as bigint) as purchases,
                coalesce(sum(case when f.is_revenue then f.event_value end), 0) as revenue
            from {SCHEMA}.fact_events as f
            left join current_names on f.user_id = current_names.user_id
            where {where}
            group by f.user_id
            order by revenue desc, events desc, f.user_id
            limit {int(limit)}
            """,  # noqa: S608 — a constant schema; values are parameters
            params,
        )

    def top_products(self, filters: Filters, limit: int = 10) -> pd.DataFrame:
        where, params = filters.where()
        return self.query(
            f"""
            select f.product_id, any_value(p.product_name) as product_name,
                any_value(p.category) as category,
                count(*) as events,
                cast(count_if(f.is_revenue) as bigint) as purchases,
                coalesce(sum(case when f.is_revenue then f.event_value end), 0) as revenue
            from {SCHEMA}.fact_events as f
            left join {SCHEMA}.dim_products as p on f.product_sk = p.product_sk
            where {where} and f.product_id is not null
            group by f.product_id
            order by revenue desc, events desc, f.product_id
            limit {int(limit)}
            """,  # noqa: S608 — a constant schema; values are parameters
            params,
        )

    # --- drill-down ------------------------------------------------------------------------

    def user_versions(self, user_id: str) -> pd.DataFrame:
        """The user's SCD2 versions (dim_users rows), oldest first."""
        return self.query(
            f"""
            select version_number, user_name, valid_from, valid_to, is_current, created_at,
                user_sk
            from {SCHEMA}.dim_users
            where user_id = ?
            order by version_number
            """,  # noqa: S608 — a constant schema; values are parameters
            [user_id],
        )

    def user_events(self, user_id: str, filters: Filters, limit: int = 500) -> pd.DataFrame:
        """The user's events, newest first, each with the name valid at the event's time."""
        where, params = filters.where()
        return self.query(
            f"""
            select f.event_timestamp, f.event_type, f.event_value, f.product_id,
                p.product_name, u.user_name as user_name_then, u.version_number, f.event_id
            from {SCHEMA}.fact_events as f
            left join {SCHEMA}.dim_users as u on f.user_sk = u.user_sk
            left join {SCHEMA}.dim_products as p on f.product_sk = p.product_sk
            where f.user_id = ? and {where}
            order by f.event_timestamp desc, f.event_id
            limit {int(limit)}
            """,  # noqa: S608 — a constant schema; values are parameters
            [user_id, *params],
        )

    def product_events(self, product_id: str, filters: Filters, limit: int = 500) -> pd.DataFrame:
        where, params = filters.where()
        return self.query(
            f"""
            select f.event_timestamp, f.event_type, f.event_value, f.user_id,
                u.user_name as user_name_then, f.event_id
            from {SCHEMA}.fact_events as f
            left join {SCHEMA}.dim_users as u on f.user_sk = u.user_sk
            where f.product_id = ? and {where}
            order by f.event_timestamp desc, f.event_id
            limit {int(limit)}
            """,  # noqa: S608 — a constant schema; values are parameters
            [product_id, *params],
        )
