"""What the dashboard shows, read from the warehouse's star schema (``marts``).

Every query opens the DuckDB file read-only and closes it again: dbt writes the same file, and
a connection held open between queries would keep the next ``eventlake transform`` waiting
on DuckDB's lock (or the other way round). While dbt holds it, a query raises
:class:`WarehouseBusyError` instead of hanging.

Times are UTC: the session time zone is set on every connection, so a ``TIMESTAMP WITH TIME
ZONE`` never shifts into the server's zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd  # type: ignore[import-untyped]  # pandas-stubs is not in the environment

SCHEMA = "marts"
TABLES = ("fact_events", "dim_users", "dim_products")
FUNNEL_STEPS = ("page_view", "add_to_cart", "purchase")  # funnel_step 1, 2, 3 (event_types seed)


class WarehouseMissingError(RuntimeError):
    """No warehouse yet (no file, or the marts not built): nothing to show until a run."""

    def __init__(self, path: Path, missing: Sequence[str]) -> None:
        self.path = path
        self.missing = tuple(missing)
        super().__init__(f"{path}: missing {', '.join(self.missing)}")


class WarehouseBusyError(RuntimeError):
    """The file is locked by a writer (a dbt build in progress): try again in a moment."""


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
    def __init__(self, path: Path) -> None:
        self.path = path

    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        if not self.path.exists():
            raise WarehouseMissingError(self.path, [self.path.name])
        try:
            connection = duckdb.connect(str(self.path), read_only=True)
        except duckdb.IOException as error:
            raise WarehouseBusyError(f"the warehouse is locked by a writer: {error}") from error
        try:
            connection.execute("SET TimeZone = 'UTC'")
            frame: pd.DataFrame = connection.execute(sql, list(params)).df()
        except duckdb.CatalogException as error:
            raise WarehouseMissingError(self.path, [str(error).splitlines()[0]]) from error
        finally:
            connection.close()
        return frame

    def missing_tables(self) -> list[str]:
        """The marts not built yet (all of them when there is no file): [] when ready."""
        if not self.path.exists():
            return [f"{SCHEMA}.{table}" for table in TABLES]
        found = self.query(
            "select table_name from information_schema.tables where table_schema = ?", [SCHEMA]
        )
        present = set(found["table_name"])
        return [f"{SCHEMA}.{table}" for table in TABLES if table not in present]

    def check(self) -> None:
        missing = self.missing_tables()
        if missing:
            raise WarehouseMissingError(self.path, missing)

    # --- what the filters offer ------------------------------------------------------------

    def date_bounds(self) -> tuple[date, date] | None:
        row = self.query(f"select min(event_date) lo, max(event_date) hi from {SCHEMA}.fact_events")
        lo, hi = row.iloc[0]["lo"], row.iloc[0]["hi"]
        if pd.isna(lo) or pd.isna(hi):
            return None
        return pd.Timestamp(lo).date(), pd.Timestamp(hi).date()

    def event_types(self) -> list[str]:
        frame = self.query(
            f"select distinct event_type from {SCHEMA}.fact_events order by event_type"
        )
        return [str(v) for v in frame["event_type"]]

    def users(self) -> pd.DataFrame:
        """Each user's current version: user_id, user_name, versions."""
        return self.query(
            f"""
            select user_id, arg_max(user_name, version_number) as user_name,
                count(*) as versions
            from {SCHEMA}.dim_users
            group by user_id
            order by user_id
            """
        )

    def products(self) -> pd.DataFrame:
        return self.query(
            f"select product_id, product_name, category, price from {SCHEMA}.dim_products "
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
                    bool_or(funnel_step = 1) as viewed,
                    bool_or(funnel_step = 2) as carted,
                    bool_or(funnel_step = 3) as bought
                from {SCHEMA}.fact_events as f
                where {where}
                group by user_id
            )
            select
                count(*) filter (where viewed) as s1,
                count(*) filter (where viewed and carted) as s2,
                count(*) filter (where viewed and carted and bought) as s3
            from per_user
            """,
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
                coalesce(sum(event_value) filter (where is_revenue), 0) as revenue,
                count(*) filter (where is_revenue) as purchases
            from {SCHEMA}.fact_events as f
            where {where}
            """,
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
        return self.query(
            f"""
            with counts as (
                select event_date as day, event_type, count(*) as events
                from {SCHEMA}.fact_events as f
                where {where}
                group by all
            ),
            days as (
                select unnest(generate_series(min(day), max(day), interval 1 day))::date as day
                from counts
            ),
            types as (select distinct event_type from counts)
            select days.day, types.event_type, coalesce(counts.events, 0) as events
            from days
            cross join types
            left join counts on counts.day = days.day and counts.event_type = types.event_type
            order by days.day, types.event_type
            """,
            params,
        )

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
            group by all
            order by day
            """,
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
                count(*) filter (where f.is_revenue) as purchases,
                coalesce(sum(f.event_value) filter (where f.is_revenue), 0) as revenue
            from {SCHEMA}.fact_events as f
            left join current_names on f.user_id = current_names.user_id
            where {where}
            group by f.user_id
            order by revenue desc, events desc, f.user_id
            limit {int(limit)}
            """,
            params,
        )

    def top_products(self, filters: Filters, limit: int = 10) -> pd.DataFrame:
        where, params = filters.where()
        return self.query(
            f"""
            select f.product_id, any_value(p.product_name) as product_name,
                any_value(p.category) as category,
                count(*) as events,
                count(*) filter (where f.is_revenue) as purchases,
                coalesce(sum(f.event_value) filter (where f.is_revenue), 0) as revenue
            from {SCHEMA}.fact_events as f
            left join {SCHEMA}.dim_products as p on f.product_sk = p.product_sk
            where {where} and f.product_id is not null
            group by f.product_id
            order by revenue desc, events desc, f.product_id
            limit {int(limit)}
            """,
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
            """,
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
            """,
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
            """,
            [product_id, *params],
        )
