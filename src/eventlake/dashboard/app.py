"""The eventlake dashboard: ``eventlake dashboard`` or ``make dashboard`` (Streamlit).

Thin: every number comes from :mod:`eventlake.dashboard.queries` (the warehouse's marts) or
:mod:`eventlake.dashboard.health` (the API, the state database, the reports); this file only
lays them out. The sidebar's filters (dates, event types) apply to every chart and table.
"""

from __future__ import annotations

import hashlib
import os
from datetime import date
from typing import Any

import plotly.express as px  # type: ignore[import-untyped]
import streamlit as st
from pydantic import ValidationError

from eventlake.config import Settings, get_settings
from eventlake.dashboard import health
from eventlake.dashboard.queries import (
    Filters,
    Warehouse,
    WarehouseBusyError,
    WarehouseMissingError,
    WarehouseUnavailableError,
)
from eventlake.warehouse.readers import WarehouseReader, open_reader

LIVE_REFRESH_SECONDS = 5
STATE_REFRESH_SECONDS = 15
RUN_FIRST = "The warehouse is empty: run `make run` first (or `eventlake run`), then reload."


def main() -> None:
    st.set_page_config(page_title="eventlake", page_icon="📈", layout="wide")
    st.title("eventlake")
    try:
        settings = get_settings()
    except ValidationError as error:
        st.error(f"The EVENTLAKE_* settings are invalid:\n\n```\n{error}\n```")
        return
    overview, drill_down, pipeline = st.tabs(["Overview", "Drill-down", "Pipeline health"])
    try:
        warehouse = _open_warehouse(settings)
    except WarehouseUnavailableError as error:
        st.sidebar.error(f"Cannot read the warehouse: {error}")
        warehouse = None
    filters = None if warehouse is None else _sidebar_filters(warehouse)
    if warehouse is not None and filters is not None:
        with overview:
            _guarded(_overview, warehouse, filters)
        with drill_down:
            _guarded(_drill_down, warehouse, filters)
    else:
        for tab in (overview, drill_down):
            with tab:
                st.info(RUN_FIRST, icon="🗂️")
    with pipeline:
        _pipeline_health(settings)


def _guarded(section: Any, warehouse: Warehouse, filters: Filters) -> None:
    """A warehouse rebuilt or locked under us is a message, not a traceback."""
    try:
        section(warehouse, filters)
    except WarehouseMissingError:
        st.info(RUN_FIRST, icon="🗂️")
    except WarehouseBusyError:
        st.warning("dbt is rebuilding the warehouse right now; reload in a moment.", icon="⏳")
    except WarehouseUnavailableError as error:
        st.error(f"The warehouse did not answer: {error}")


def _open_warehouse(settings: Settings) -> Warehouse:
    """DuckDB is opened per query (dbt writes the file); a Snowflake session is kept."""
    if settings.warehouse.target == "local":
        return Warehouse(open_reader(settings))
    connection = sorted((k, v) for k, v in os.environ.items() if k.startswith("SNOWFLAKE_"))
    key = hashlib.sha256(repr(connection).encode()).hexdigest()
    return Warehouse(_kept_reader(settings, key))


@st.cache_resource(show_spinner=False)
def _kept_reader(_settings: Settings, connection_key: str) -> WarehouseReader:
    """One reader per set of SNOWFLAKE_* variables, shared by every session: opening a
    Snowflake session costs round trips. (Streamlit does not hash ``_settings``.)"""
    return open_reader(_settings)


def _sidebar_filters(warehouse: Warehouse) -> Filters | None:
    """The filters, or None when there is nothing to filter (no warehouse, no events)."""
    sidebar = st.sidebar
    sidebar.header("Filters")
    try:
        warehouse.check()
        bounds = warehouse.date_bounds()
        types = warehouse.event_types()
    except WarehouseMissingError:
        sidebar.caption(f"No warehouse yet ({warehouse.description}).")
        return None
    except WarehouseBusyError:
        sidebar.warning("dbt is rebuilding the warehouse; reload in a moment.", icon="⏳")
        return None
    except WarehouseUnavailableError as error:
        sidebar.error(f"The warehouse did not answer: {error}")
        return None
    if bounds is None:
        sidebar.caption("The warehouse has no events yet.")
        return None
    low, high = bounds
    picked = sidebar.date_input(
        "Dates (UTC)", value=(low, high), min_value=low, max_value=high, key="filter_dates"
    )
    start, end = _date_range(picked, low, high)
    chosen = sidebar.multiselect(
        "Event types", types, key="filter_types", placeholder="All event types"
    )
    sidebar.caption(f"Warehouse: `{warehouse.description}`")
    return Filters(start=start, end=end, event_types=tuple(chosen))


def _date_range(picked: Any, low: date, high: date) -> tuple[date, date]:
    # While a range is being picked, the widget holds only its first day.
    if isinstance(picked, tuple | list):
        days = [d for d in picked if isinstance(d, date)]
        if len(days) >= 2:
            return days[0], days[1]
        if days:
            return days[0], high
        return low, high
    if isinstance(picked, date):
        return picked, picked
    return low, high


# --- overview ------------------------------------------------------------------------------


def _overview(warehouse: Warehouse, filters: Filters) -> None:
    kpis = warehouse.kpis(filters)
    events, users, revenue, conversion = st.columns(4)
    events.metric("Events", f"{kpis.events:,}", border=True)
    users.metric("Users", f"{kpis.users:,}", border=True)
    revenue.metric(
        "Revenue", f"{kpis.revenue:,.2f}", border=True, help=f"{kpis.purchases:,} purchases"
    )
    conversion.metric(
        "Conversion",
        "n/a" if kpis.conversion is None else f"{kpis.conversion:.1%}",
        border=True,
        help="Users who viewed, added to cart and purchased, of those who viewed",
    )
    if kpis.events == 0:
        st.info("No events match the filters.")
        return

    left, right = st.columns([3, 2])
    with left:
        st.subheader("Events over time")
        over_time = warehouse.events_over_time(filters)
        figure = px.area(over_time, x="day", y="events", color="event_type")
        figure.update_layout(
            legend={"title_text": "", "orientation": "h", "y": -0.15},
            margin={"t": 30},
            xaxis_title=None,
        )
        _daily_axis(figure, over_time["day"].nunique())
        st.plotly_chart(figure, key="chart_events_over_time")
    with right:
        st.subheader("Funnel (distinct users)")
        funnel = warehouse.funnel(filters)
        figure = px.funnel(funnel, x="users", y="step")
        figure.update_layout(margin={"t": 10}, yaxis_title=None)
        st.plotly_chart(figure, key="chart_funnel")

    st.subheader("Revenue over time")
    revenue_frame = warehouse.revenue_over_time(filters)
    if revenue_frame.empty:
        st.caption("No revenue events match the filters.")
    else:
        figure = px.bar(revenue_frame, x="day", y="revenue", hover_data=["purchases"])
        figure.update_layout(margin={"t": 10}, xaxis_title=None)
        _daily_axis(figure, len(revenue_frame))
        st.plotly_chart(figure, key="chart_revenue")

    top_users, top_products = st.columns(2)
    with top_users:
        st.subheader("Top users")
        st.dataframe(warehouse.top_users(filters), hide_index=True)
    with top_products:
        st.subheader("Top products")
        st.dataframe(warehouse.top_products(filters), hide_index=True)


def _daily_axis(figure: Any, days: int) -> None:
    """Days as "Nov 3"; on a short range one tick a day, not Plotly's 12-hour ticks."""
    figure.update_xaxes(tickformat="%b %-d", **({"dtick": 86_400_000} if days <= 14 else {}))


# --- drill-down ----------------------------------------------------------------------------


def _drill_down(warehouse: Warehouse, filters: Filters) -> None:
    users = warehouse.users()
    if users.empty:
        st.caption("No users in the warehouse yet.")
    else:
        names = dict(zip(users["user_id"], users["user_name"], strict=True))
        user_id = st.selectbox(
            "User",
            list(names),
            format_func=lambda u: f"{u} · {names[u]}",
            key="drill_user",
        )
        if user_id is not None:
            versions = warehouse.user_versions(user_id)
            st.markdown(f"**{user_id}**: {len(versions)} version(s) in `dim_users` (SCD2)")
            st.dataframe(versions, hide_index=True)
            st.markdown(f"Events of **{user_id}** (newest first, filters applied)")
            st.dataframe(warehouse.user_events(user_id, filters), hide_index=True)

    st.divider()
    products = warehouse.products()
    if products.empty:
        st.caption("No products in the warehouse yet.")
        return
    labels = dict(zip(products["product_id"], products["product_name"], strict=True))
    product_id = st.selectbox(
        "Product", list(labels), format_func=lambda p: f"{p} · {labels[p]}", key="drill_product"
    )
    if product_id is not None:
        st.markdown(f"Events of **{product_id}** (newest first, filters applied)")
        st.dataframe(warehouse.product_events(product_id, filters), hide_index=True)


# --- pipeline health -----------------------------------------------------------------------


def _pipeline_health(settings: Settings) -> None:
    st.subheader("Live (API)")
    _live_metrics(health.api_url(), health.dashboard_api_key(settings))
    st.subheader("Jobs and runs")
    _state(settings)
    st.subheader("Quality gates")
    _quality(settings)
    st.subheader("Reports")
    urls = health.report_site_urls(health.api_url())
    for name, path in health.report_sites(settings).items():
        if path.exists():
            st.markdown(
                f"- [{name}]({urls[name]}), served by the API (your browser asks for the API "
                f"key as the password, any user name) · `{path}`"
            )
        else:
            st.markdown(f"- {name}: not written yet (`{path}`)")


@st.fragment(run_every=LIVE_REFRESH_SECONDS)
def _live_metrics(url: str, api_key: str | None) -> None:
    try:
        metrics = health.fetch_api_metrics(url, api_key=api_key)
    except health.ApiUnavailableError as error:
        st.warning(
            f"The API is not answering at {url}, so there are no live metrics. Start it with "
            f"`make serve`, or set `EVENTLAKE_API_URL` and `EVENTLAKE_API_KEY`. ({error})",
            icon="🔌",
        )
        return
    columns = st.columns(6)
    for column, (label, key) in zip(
        columns,
        [
            ("Received", "events_received"),
            ("Accepted", "events_accepted"),
            ("Rejected", "events_rejected"),
            ("Landed", "events_landed"),
            ("Dead-lettered", "events_dead_lettered"),
            ("Duplicates", "events_duplicates"),
        ],
        strict=True,
    ):
        column.metric(label, f"{int(metrics.get(key) or 0):,}")
    accepted, landed = st.columns(2)
    accepted.metric("Accepted / s (last minute)", f"{metrics.get('accepted_per_second', 0):,.1f}")
    landed.metric("Landed / s (last minute)", f"{metrics.get('landed_per_second', 0):,.1f}")
    lag = health.lag_frame(metrics)
    if not lag.empty:
        st.dataframe(lag, hide_index=True)
    commit = metrics.get("last_commit")
    if commit:
        st.caption(
            f"Last commit: {commit.get('rows')} rows into {commit.get('table')} "
            f"(snapshot {commit.get('snapshot_id')})"
        )
    st.caption(f"{url}, refreshed every {LIVE_REFRESH_SECONDS} s")


@st.fragment(run_every=STATE_REFRESH_SECONDS)
def _state(settings: Settings) -> None:
    state = health.read_state(settings)
    if state is None:
        st.info("No jobs or runs recorded yet: run `make run` first.")
        return
    transform = state["last_runs"].get("transform")
    quality = state["last_runs"].get("quality")
    st.markdown("**Last transform (dbt build)**")
    if transform is None:
        st.caption("No transform has run yet.")
    else:
        result = transform.get("result") or {}
        columns = st.columns(4)
        columns[0].metric("Transform", str(transform["status"]))
        columns[1].metric("Models built", f"{result.get('models_built', 0):,}")
        columns[2].metric("dbt tests passed", f"{result.get('tests_passed', 0):,}")
        columns[3].metric("dbt tests failed", f"{result.get('tests_failed', 0):,}")
        finished = health.jobs_frame([{"finished_at": transform.get("finished_at")}])
        st.caption(f"Run {transform['run_id']}, finished {finished['finished'].iloc[0]}")
        if transform.get("error"):
            st.warning(f"The last transform failed: {transform['error']}")
        problems = health.problems_frame(result)
        if not problems.empty:
            st.dataframe(problems, hide_index=True)
    st.markdown("**Last quality run**")
    if quality is None:
        st.caption("No quality run yet.")
    else:
        st.caption(f"Run {quality['run_id']}: {quality['status']}")
    st.markdown("**Recent jobs**")
    st.dataframe(health.jobs_frame(state["recent_jobs"]), hide_index=True)


def _quality(settings: Settings) -> None:
    summary = health.read_quality_summary(settings)
    if summary is None:
        st.caption("No quality run yet (`make quality`).")
        return
    if summary.get("success"):
        st.success(str(summary.get("summary")), icon="✅")
    else:
        st.warning(str(summary.get("summary")), icon="⚠️")
        st.dataframe(health.quality_failures_frame(summary), hide_index=True)
    st.dataframe(health.quality_suites_frame(summary), hide_index=True)
    st.caption(f"Checked at {summary.get('started_at')} against {summary.get('warehouse')}")


main()
