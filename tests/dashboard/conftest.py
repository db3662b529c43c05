"""A small warehouse with known rows (the marts as dbt builds them: their columns and types are
checked against a real dbt build by tests/warehouse/test_transform.py), and a home around it.

Three users, one of them renamed (two SCD2 versions), two products, ten events over four days:

| user | events                                                         |
|------|----------------------------------------------------------------|
| u1   | 11-01 page_view, add_to_cart, purchase 10.0 (as Alice);        |
|      | 11-04 page_view, purchase 5.0 (as Alicia, after the rename)    |
| u2   | 11-02 page_view, add_to_cart, search                           |
| u3   | 11-03 page_view, login                                         |

So: 10 events, 3 users, revenue 15.00, funnel 3 → 2 → 1, conversion 33.3%.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest

from eventlake.config import Settings, get_settings
from eventlake.state import StateStore
from tests.fakesnow import FakesnowServer
from tests.ports import free_port

USERS = [
    # user_sk, user_id, user_name, created_at, valid_from, valid_to, is_current, version_number
    (
        "sk-u1-1",
        "u1",
        "Alice",
        "2026-10-01 00:00",
        "2026-10-01 00:00",
        "2026-11-03 12:00",
        False,
        1,
    ),
    ("sk-u1-2", "u1", "Alicia", "2026-10-01 00:00", "2026-11-03 12:00", None, True, 2),
    ("sk-u2-1", "u2", "Bob", "2026-10-02 00:00", "2026-10-02 00:00", None, True, 1),
    ("sk-u3-1", "u3", "Carol", "2026-10-03 00:00", "2026-10-03 00:00", None, True, 1),
]
PRODUCTS = [
    ("sk-p1", "p1", "Lamp", "home", 10.0),
    ("sk-p2", "p2", "Mug", "kitchen", 5.0),
]
SNOWFLAKE_DATABASE = "DASHBOARD"
MARTS = ("marts.dim_users", "marts.dim_products", "marts.fact_events")
FUNNEL = {"page_view": 1, "add_to_cart": 2, "purchase": 3}
EVENTS = [
    # event_id, user_sk, user_id, product_id, event_timestamp, event_type, event_value
    ("e1", "sk-u1-1", "u1", "p1", "2026-11-01 09:00", "page_view", None),
    ("e2", "sk-u1-1", "u1", "p1", "2026-11-01 09:05", "add_to_cart", None),
    ("e3", "sk-u1-1", "u1", "p1", "2026-11-01 09:10", "purchase", 10.0),
    ("e4", "sk-u1-2", "u1", "p2", "2026-11-04 10:00", "page_view", None),
    ("e5", "sk-u1-2", "u1", "p2", "2026-11-04 10:05", "purchase", 5.0),
    ("e6", "sk-u2-1", "u2", "p2", "2026-11-02 08:00", "page_view", None),
    ("e7", "sk-u2-1", "u2", "p2", "2026-11-02 08:01", "add_to_cart", None),
    ("e8", "sk-u2-1", "u2", None, "2026-11-02 08:02", "search", None),
    ("e9", "sk-u3-1", "u3", "p1", "2026-11-03 23:59", "page_view", None),
    ("e10", "sk-u3-1", "u3", None, "2026-11-03 23:59", "login", None),
]


def build_marts(path: Path) -> None:
    """The three marts with the columns dbt gives them, filled with the rows above."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as connection:
        connection.execute("SET TimeZone = 'UTC'")
        connection.execute("create schema marts")
        connection.execute(
            """create table marts.dim_users (user_sk varchar, user_id varchar,
            user_name varchar, created_at timestamp, valid_from timestamp, valid_to timestamp,
            is_current boolean, version_number bigint)"""
        )
        connection.executemany("insert into marts.dim_users values (?,?,?,?,?,?,?,?)", USERS)
        connection.execute(
            """create table marts.dim_products (product_sk varchar, product_id varchar,
            product_name varchar, category varchar, price double)"""
        )
        connection.executemany("insert into marts.dim_products values (?,?,?,?,?)", PRODUCTS)
        connection.execute(
            """create table marts.fact_events (event_sk varchar, event_id varchar,
            user_sk varchar, user_id varchar, product_sk varchar, product_id varchar,
            event_timestamp timestamp, event_date date, event_type varchar,
            funnel_step integer, is_revenue boolean, event_value double,
            ingested_at timestamp, _lake_sequence bigint)"""
        )
        for n, (event_id, user_sk, user_id, product_id, ts, event_type, value) in enumerate(EVENTS):
            connection.execute(
                "insert into marts.fact_events values (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    f"sk-{event_id}",
                    event_id,
                    user_sk,
                    user_id,
                    None if product_id is None else f"sk-{product_id}",
                    product_id,
                    ts,
                    ts[:10],
                    event_type,
                    FUNNEL.get(event_type),
                    event_type == "purchase",
                    value,
                    "2026-11-05 00:00",
                    n,
                ],
            )


TRANSFORM_RESULT = {
    "ok": True,
    "target": "local",
    "models_built": 8,
    "tests_passed": 47,
    "tests_failed": 0,
    "problems": [],
}
QUALITY_SUMMARY = {
    "success": True,
    "summary": "quality gate passed: 12 expectations in 3 suites",
    "started_at": "2026-11-05T00:01:00+00:00",
    "warehouse": "duckdb",
    "evaluated": 12,
    "failed": 0,
    "suites": [
        {"name": "fact_events", "rows": 10, "success": True, "evaluated": 6, "failed": 0},
        {"name": "dim_users", "rows": 4, "success": True, "evaluated": 4, "failed": 0},
        {"name": "dim_products", "rows": 2, "success": True, "evaluated": 2, "failed": 0},
    ],
    "failures": [],
}


def record_runs(settings: Settings) -> None:
    """An ingest job, a finished transform and quality run, the quality summary on disk."""
    state = StateStore(settings.state_database_url)
    try:
        state.create_job(
            "job-ingest-1",
            kind="ingest",
            name="events",
            status="committed",
            received=12,
            accepted=10,
            rejected=2,
        )
        for name, result in (("transform", TRANSFORM_RESULT), ("quality", {"ok": True})):
            run_id = f"run-{name}-1"
            state.create_job(run_id, kind="run", name=name, status="queued")
            state.update_job(
                run_id, status="succeeded", finished_at=time.time(), detail={"result": result}
            )
    finally:
        state.close()
    summary = settings.reports_dir / "quality" / "latest.json"
    summary.parent.mkdir(parents=True, exist_ok=True)
    summary.write_text(json.dumps(QUALITY_SUMMARY))


@dataclass(frozen=True)
class Home:
    path: Path
    settings: Settings


@pytest.fixture(scope="session")
def snowflake_marts(warehouse_home: Home, fakesnow_server: FakesnowServer) -> FakesnowServer:
    """The known marts, copied into the fakesnow server's DASHBOARD database."""
    fakesnow_server.copy_from_duckdb(
        warehouse_home.settings.duckdb_path, MARTS, database=SNOWFLAKE_DATABASE
    )
    return fakesnow_server


@pytest.fixture(scope="session")
def warehouse_home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    """A home with the known warehouse, recorded runs and a quality summary (read-only)."""
    path = tmp_path_factory.mktemp("dashboard-home")
    settings = Settings(home=path)
    build_marts(settings.duckdb_path)
    record_runs(settings)
    return Home(path, settings)


def closed_port_url() -> str:
    """A loopback URL nothing listens on: the API is down."""
    return f"http://127.0.0.1:{free_port()}"


API_METRICS = {
    "events_received": 1234,
    "events_accepted": 1200,
    "events_rejected": 34,
    "events_landed": 1190,
    "events_dead_lettered": 34,
    "events_duplicates": 10,
    "accepted_per_second": 20.0,
    "landed_per_second": 19.5,
    "consumer_lag": [
        {
            "stream": "events",
            "shard_id": "shard-0",
            "consumer": "c1",
            "position": "41",
            "behind": 3,
            "updated_at": 1793836800.0,
        },
    ],
    "last_commit": {"table": "events", "snapshot_id": "77", "rows": 500},
}


@pytest.fixture(scope="session")
def fake_api() -> Iterator[str]:
    """A loopback HTTP server answering GET /api/v1/metrics like the API does."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/api/v1/metrics":
                self.send_error(404)
                return
            body = json.dumps(API_METRICS).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def point_at(monkeypatch: pytest.MonkeyPatch, home: Path, api_url: str) -> None:
    """The app (run in this process by AppTest) reads this home and this API."""
    monkeypatch.setenv("EVENTLAKE_HOME", str(home))
    monkeypatch.setenv("EVENTLAKE_API_URL", api_url)
    get_settings.cache_clear()
